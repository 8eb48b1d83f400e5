/**
 * Master data from Odoo (issue #12): `ironledger sync` against the Odoo double, on the real
 * cloud and CLI binaries. Equipment and projects are imported (archived ones too), a second
 * run with no change in Odoo writes nothing, a change is picked up by the `write_date >=`
 * cursor, and a unit with no active equipment in Odoo has its allocations held at posting.
 */
import { AuditResponseSchema, OdooSyncResponseSchema, PostResponseSchema } from '@ironledger/contracts';
import { type OdooDouble, startOdooDouble } from '@ironledger/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CloudHarness,
  lastMonth,
  startCloud,
  workingDay,
  YARD,
} from '../packages/cli/test-support/cloud-harness.js';

let odoo: OdooDouble;
let cloud: CloudHarness;
const ids: Record<string, number> = {};
/** Odoo's clock for write_date (whole seconds, UTC), moved by the test. */
let clock = '2026-11-30 23:07:54';
const json = (s: string) => JSON.parse(s) as unknown;

beforeAll(async () => {
  odoo = await startOdooDouble({ now: () => clock });
  const w = odoo.world;
  w.create('project.project', { name: 'Riverside Tower' });
  w.create('project.project', { name: 'Riverside basement' });
  const cat = w.create('maintenance.equipment.category', { name: 'Heavy Equipment' }).id;
  ids.excavator = w.create('maintenance.equipment', {
    name: 'CAT 320',
    serial_no: 'CAT320-0042',
    category_id: cat,
  }).id;
  ids.loader = w.create('maintenance.equipment', {
    name: 'JD 644',
    serial_no: 'JD644-0007',
    category_id: cat,
  }).id;
  // The dozer's only equipment record is archived; a spare machine is no IronLedger unit.
  ids.dozer = w.create('maintenance.equipment', { name: 'D6', serial_no: 'D6-0003', active: false }).id;
  ids.spare = w.create('maintenance.equipment', { name: 'Spare pump', serial_no: 'PMP-0001' }).id;
  cloud = await startCloud({ odoo: { url: odoo.url, db: odoo.db, login: odoo.login, apiKey: odoo.apiKey } });
});
afterAll(async () => {
  await cloud?.stop();
  await odoo?.stop();
});

async function sync() {
  const r = await cloud.cli(['sync', '--json']);
  return { code: r.code, res: OdooSyncResponseSchema.parse(json(r.stdout)) };
}

async function syncAudits(): Promise<number> {
  const r = await cloud.cli(['audit', '--action', 'odoo.sync', '--json']);
  return AuditResponseSchema.parse(json(r.stdout)).entries.length;
}

describe('ironledger sync', () => {
  it('imports equipment and projects, archived ones included, and names what is unmatched', async () => {
    const { code, res } = await sync();
    expect(code).toBe(3); // something is left unmatched
    expect(res.equipment.since).toBeNull();
    expect(res.equipment.added.map((e) => [e.odooId, e.serialNo, e.active])).toEqual([
      [ids.excavator, 'CAT320-0042', true],
      [ids.loader, 'JD644-0007', true],
      [ids.dozer, 'D6-0003', false],
      [ids.spare, 'PMP-0001', true],
    ]);
    expect(res.projects.added.map((p) => p.name)).toEqual([
      'Internal',
      'Riverside Tower',
      'Riverside basement',
    ]);
    expect(res.projects.added.every((p) => p.accountId !== null)).toBe(true);
    expect(res.unmatched.units).toEqual([
      { unitId: 'DOZ-0003', serialNo: 'D6-0003', reason: 'archived in Odoo' },
    ]);
    expect(res.unmatched.equipment).toEqual([
      { odooId: ids.spare, name: 'Spare pump', serialNo: 'PMP-0001' },
    ]);
    expect(res.unmatched.projects).toEqual([]);
    const human = await cloud.cli(['sync']);
    expect(human.stdout).toMatch(
      /unmatched unit DOZ-0003 \(serial D6-0003\): archived in Odoo; its allocations are held/,
    );
  });

  it('a second run with no change in Odoo writes nothing', async () => {
    const before = await syncAudits();
    const { res } = await sync();
    expect(res.equipment.since).not.toBeNull();
    expect(res.equipment.added).toEqual([]);
    expect(res.equipment.changed).toEqual([]);
    expect(res.projects.added).toEqual([]);
    expect(res.projects.changed).toEqual([]);
    expect(await syncAudits()).toBe(before);
  });

  it('picks up a record changed in Odoo, and reads only from the cursor on', async () => {
    clock = '2026-11-30 23:08:54';
    odoo.world.write('maintenance.equipment', [Number(ids.loader)], { name: 'JD 644 K' });
    const { res } = await sync();
    expect(res.equipment).toMatchObject({ since: '2026-11-30 23:07:54', cursor: '2026-11-30 23:08:54' });
    expect(res.equipment.changed.map((e) => [e.odooId, e.name])).toEqual([[ids.loader, 'JD 644 K']]);
    expect(res.equipment.added).toEqual([]);
    // The next run asks for write_date >= the cursor: the record of the cursor's own second is
    // read again (a later write in that second would not be missed) and, unchanged, not written.
    const again = await sync();
    expect(again.res.equipment).toMatchObject({
      since: '2026-11-30 23:08:54',
      read: 1,
      added: [],
      changed: [],
    });
  });

  it('holds the allocations of a unit without active equipment in Odoo; the others post', async () => {
    const day = lastMonth().days[0] as string;
    for (const unitId of ['EXC-0042', 'DOZ-0003']) {
      const { readings } = workingDay(unitId, day, { engineHours: 500, idleHours: 50 }, YARD);
      await cloud.postBatch(`sync-${unitId}`, readings);
    }
    expect((await cloud.cli(['consolidate'], { as: 'approver' })).code).toBe(0);
    expect((await cloud.cli(['allocations', 'approve', '--all', '--yes'], { as: 'approver' })).code).toBe(0);
    const r = await cloud.cli(['post', '--json'], { as: 'approver' });
    const res = PostResponseSchema.parse(json(r.stdout));
    expect(res.posted.length).toBeGreaterThan(0);
    expect(res.held.length).toBeGreaterThan(0);
    for (const h of res.held) expect(h.reason).toMatch(/unit DOZ-0003 has no equipment in Odoo/);
    const refs = odoo.records('account.analytic.line').map((l) => String(l.ref));
    expect(refs.some((ref) => ref.includes('DOZ-0003'))).toBe(false);
    expect(refs.some((ref) => ref.includes('EXC-0042'))).toBe(true);
  });
});
