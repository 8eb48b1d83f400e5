/**
 * A hold note is cleared when its cause is gone, and clearing it (a change, under a new
 * version) is not mistaken for a change while posting: the allocation is posted unchanged,
 * its unit is not re-opened and no adjustment follows. Through the real cloud and store
 * (PostgreSQL too with IRONLEDGER_TEST_PG_URL) against the Odoo double.
 */
import { AllocationsResponseSchema, AuditResponseSchema, PostResponseSchema } from '@ironledger/contracts';
import { type OdooDouble, startOdooDouble } from '@ironledger/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { batch, startTestCloud, type TestCloud, TOKENS } from '../testing/harness.js';

let odoo: OdooDouble;
let t: TestCloud;
beforeEach(async () => {
  odoo = await startOdooDouble();
  t = await startTestCloud({
    config: { posting: { odoo: { url: odoo.url, db: odoo.db, login: odoo.login, apiKey: odoo.apiKey } } },
  });
});
afterEach(async () => {
  await t.stop();
  await odoo.stop();
});

const allocations = async () =>
  AllocationsResponseSchema.parse((await t.api('GET', '/v1/allocations', undefined, TOKENS.viewer)).json)
    .allocations;
const post = async () =>
  PostResponseSchema.parse((await t.api('POST', '/v1/post', {}, TOKENS.approver)).json);

describe('hold notes', () => {
  it('are cleared once the cause is gone, and the allocation is posted as unchanged', async () => {
    await t.postBatch(
      batch([
        ['EXC-1', '2026-06-01T08:00:00Z', 100, 10],
        ['EXC-1', '2026-06-01T10:00:00Z', 102, 10.5],
      ]),
    );
    await t.api('POST', '/v1/consolidate', {}, TOKENS.approver);
    await t.api('POST', '/v1/allocations/approve', { all: true }, TOKENS.approver);
    const [a] = await allocations();

    // Odoo has no project "London" yet: held, with the reason on the allocation.
    const first = await post();
    expect(first.posted).toEqual([]);
    expect(first.held.map((h) => h.id)).toEqual([a!.id]);
    const [held] = await allocations();
    expect(held).toMatchObject({ status: 'approved' });
    expect(held!.holdReason).toContain('London');

    odoo.world.create('project.project', { name: 'London' });
    const second = await post();
    expect(second.posted.map((p) => p.id)).toEqual([a!.id]);
    const [posted] = await allocations();
    expect(posted).toMatchObject({ status: 'posted', holdReason: null, engineHours: 2 });

    const cleared = AuditResponseSchema.parse(
      (await t.api('GET', '/v1/audit?action=allocation.hold_cleared')).json,
    ).entries;
    expect(cleared.map((e) => e.target)).toEqual([a!.key]);
    // Posted at the version the clear answered: nothing "changed while posting".
    const postAudit = AuditResponseSchema.parse(
      (await t.api('GET', '/v1/audit?action=allocation.post')).json,
    ).entries;
    expect(postAudit).toHaveLength(1);
    expect(JSON.parse(postAudit[0]!.detail!)).not.toHaveProperty('changedMeanwhile');
    expect(await t.cloud.store.dirtyUnits()).toEqual([]);
    const run = (await t.api('POST', '/v1/consolidate', {}, TOKENS.approver)).json;
    expect(run.adjustmentsCreated ?? 0).toBe(0);
    expect((await allocations()).map((x) => [x.kind, x.status])).toEqual([['normal', 'posted']]);
  });
});
