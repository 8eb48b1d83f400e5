/**
 * Posting that a real Odoo 19 agrees with (issue #12), against the double that answers as the
 * recorded server did: hours at the field's precision, the journal-entry reconcile reading the
 * right move lines and the analytic lines they generated, projects found by name, unknown
 * equipment held, the lock date only for journal entries, hold notes cleared.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@ironledger/logger';
import { OdooClient } from '@ironledger/odoo';
import { type OdooDouble, startOdooDouble } from '@ironledger/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startSeededOdoo } from '../testing/odoo-seed.js';
import { type PostingConfigInput, PostingConfigSchema } from './config.js';
import { createPoster } from './poster.js';
import { allocation, MemoryLedger } from './test-helpers.js';
import type { Poster } from './types.js';

let odoo: OdooDouble;
let dir: string;
let riverside: number;
let equipmentAccount: number;
const posters: Poster[] = [];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'il-agree-'));
  ({ odoo, projectAccount: riverside, equipmentAccount } = await startSeededOdoo());
});
afterEach(async () => {
  await Promise.all(posters.splice(0).map((p) => p.close()));
  await odoo.stop();
  rmSync(dir, { recursive: true, force: true });
});

function poster(
  target: 'analytic' | 'move',
  api: 'json2' | 'jsonrpc',
  ledger: MemoryLedger,
  over: Partial<PostingConfigInput> = {},
): Poster {
  const cfg = PostingConfigSchema.parse({
    target,
    journalPath: join(dir, 'journal.jsonl'),
    odoo: { url: odoo.url, db: odoo.db, login: odoo.login, apiKey: odoo.apiKey, api, retries: 1 },
    accounts: { expenseAccountId: 32, recoveryAccountId: 14, journalId: 3 },
    equipmentPlanField: 'x_plan2_id',
    ...over,
  });
  const p = createPoster(cfg, {
    logger: silentLogger(),
    ledger,
    clientOptions: { retryBaseMs: 1, retryMaxMs: 2, sleep: async () => {} },
  });
  posters.push(p);
  return p;
}

/** The project as IronLedger's master data has it: found in Odoo by its name. */
const riversideHint = { name: 'Riverside Tower' };
const a8897 = () =>
  allocation({
    id: 'h1',
    projectId: 'P-RIVERSIDE',
    project: riversideHint,
    day: '2026-11-27',
    engineHours: 8.897,
    idleHours: 0,
    workingHours: 8.897,
    amountMinor: 71176,
  });

describe.each(['json2', 'jsonrpc'] as const)('journal entries over %s', (api) => {
  it('books hours at Odoo precision (8.897 h → 8.9 on the move line and its analytic line) and reconciles clean', async () => {
    const ledger = new MemoryLedger();
    const p = poster('move', api, ledger);
    const res = await p.post([a8897()], {});
    expect(res.posted.map((x) => x.id)).toEqual(['h1']);
    const line = odoo.records('account.move.line').find((l) => l.analytic_distribution);
    expect(line?.quantity).toBe(8.9);
    const generated = odoo.records('account.analytic.line').filter((l) => l.move_line_id);
    expect(generated.map((g) => [g.unit_amount, g.amount])).toEqual([[8.9, -711.76]]);
    const local = [{ ...a8897(), odooId: ledger.posted.get('h1')?.odooId ?? null }];
    const rec = await p.reconcile('2026-11', local);
    expect(rec.differences).toEqual([]);
    expect(rec.rows).toEqual([
      {
        projectId: 'P-RIVERSIDE',
        localHours: 8.9,
        odooHours: 8.9,
        localAmountMinor: 71176,
        odooAmountMinor: 71176,
        ok: true,
      },
    ]);
  });

  it('sends milli-hours once Product Unit has 3 digits', async () => {
    const pu = odoo.records('decimal.precision').find((r) => r.name === 'Product Unit');
    odoo.edit('decimal.precision', pu?.id as number, { digits: 3 });
    const ledger = new MemoryLedger();
    const p = poster('move', api, ledger);
    await p.post([a8897()], {});
    expect(odoo.records('account.move.line').find((l) => l.analytic_distribution)?.quantity).toBe(8.897);
    const rec = await p.reconcile('2026-11', [{ ...a8897(), odooId: null }]);
    expect(rec.differences).toEqual([]);
    expect(rec.rows[0]?.odooHours).toBe(8.897);
  });

  it('finds an edit of one generated analytic line as exactly that difference, on the analytic side', async () => {
    const ledger = new MemoryLedger();
    const p = poster('move', api, ledger);
    const other = allocation({
      id: 'h2',
      projectId: 'P-RIVERSIDE',
      project: riversideHint,
      day: '2026-11-28',
    });
    await p.post([a8897(), other], {});
    const local = [a8897(), other].map((a) => ({ ...a, odooId: ledger.posted.get(a.id)?.odooId ?? null }));
    expect((await p.reconcile('2026-11', local)).differences).toEqual([]);
    // An accountant changes the generated analytic line's amount through the API: Odoo accepts it.
    const target = odoo.records('account.analytic.line').find((l) => l.ref === a8897().key);
    const client = new OdooClient({
      url: odoo.url,
      db: odoo.db,
      login: odoo.login,
      apiKey: odoo.apiKey,
      api,
    });
    await client.connect();
    await client.write('account.analytic.line', [target?.id as number], { amount: -800 });
    await client.close();
    const rec = await p.reconcile('2026-11', local);
    expect(rec.differences).toEqual([
      {
        projectId: 'P-RIVERSIDE',
        key: a8897().key,
        kind: 'amount',
        local: '711.76',
        odoo: '800.00',
        side: 'analytic_line',
      },
    ]);
    expect(rec.rows[0]?.ok).toBe(false);
  });
});

describe('holds and master data', () => {
  it('finds the project by its name, without posting.projects', async () => {
    const ledger = new MemoryLedger();
    const res = await poster('analytic', 'json2', ledger).post([a8897()], {});
    expect(res.held).toEqual([]);
    expect(res.posted.map((x) => x.id)).toEqual(['h1']);
    const line = odoo.records('account.analytic.line').find((l) => l.ref === a8897().key);
    expect((line?.account_id as [number] | undefined)?.[0]).toBe(riverside);
    expect((line?.x_plan2_id as [number] | undefined)?.[0]).toBe(equipmentAccount);
  });

  it('holds an allocation whose unit has no equipment in Odoo, and sends nothing for it', async () => {
    const ledger = new MemoryLedger();
    const stranger = allocation({
      id: 'x1',
      unitId: 'DOZ-0009',
      serialNo: 'DOZ-0009',
      projectId: 'P-RIVERSIDE',
      project: riversideHint,
    });
    const res = await poster('analytic', 'jsonrpc', ledger).post([stranger, a8897()], {});
    expect(res.posted.map((x) => x.id)).toEqual(['h1']);
    expect(res.held).toEqual([
      {
        id: 'x1',
        reason:
          'unit DOZ-0009 has no equipment in Odoo: no maintenance.equipment with serial number "DOZ-0009"',
      },
    ]);
    expect(ledger.held.get('x1')).toMatch(/no equipment in Odoo/);
    expect(odoo.records('account.analytic.line').some((l) => l.ref === stranger.key)).toBe(false);
  });

  it('holds an allocation whose equipment has no Equipment-plan account (never half-mapped)', async () => {
    odoo.world.create('maintenance.equipment', { name: 'Loader', serial_no: 'LDR-0007' });
    const ledger = new MemoryLedger();
    const loader = allocation({
      id: 'l1',
      unitId: 'LDR-0007',
      projectId: 'P-RIVERSIDE',
      project: riversideHint,
    });
    const res = await poster('move', 'json2', ledger).post([loader], {});
    expect(res.posted).toEqual([]);
    expect(res.held[0]?.reason).toMatch(/LDR-0007 has no Equipment-plan analytic account in Odoo/);
    expect(odoo.count('create')).toBe(0);
  });

  it('posts analytic lines dated in a locked period (Odoo keeps their date); holds journal entries there', async () => {
    odoo.setLockDate('2026-10-31');
    const old = allocation({ id: 'o1', projectId: 'P-RIVERSIDE', project: riversideHint, day: '2026-10-15' });
    const ledger = new MemoryLedger();
    const res = await poster('analytic', 'json2', ledger).post([old], {});
    expect(res.held).toEqual([]);
    expect(ledger.posted.get('o1')).toMatchObject({ date: '2026-10-15' });
    const moveLedger = new MemoryLedger();
    const held = await poster('move', 'json2', moveLedger).post(
      [allocation({ ...old, id: 'o2', key: 'IL-O2' })],
      {},
    );
    expect(held.held[0]?.reason).toBe(
      'period locked in Odoo: 2026-10-15 is on or before the lock date 2026-10-31; Odoo would move the journal entry to a later date',
    );
  });

  it('clears a hold note once its condition is gone, even when the post itself then fails', async () => {
    const ledger = new MemoryLedger();
    const once = { ...a8897(), holdReason: 'period locked in Odoo: …' };
    odoo.failNext(10, { method: 'create', status: 503 });
    const res = await poster('analytic', 'json2', ledger).post([once], {});
    expect(res.posted).toEqual([]);
    expect(res.failed.map((f) => [f.id, f.deadLettered])).toEqual([['h1', false]]);
    expect([...ledger.cleared]).toEqual(['h1']);
    expect(ledger.held.size).toBe(0);
  });
});

describe('API key expiry (res.users.apikeys.expiration_date)', () => {
  const at = (msFromNow: number) =>
    new Date(Date.now() + msFromNow).toISOString().slice(0, 19).replace('T', ' ');
  const DAY_MS = 86_400_000;

  async function withKeyExpiring(expiresAt: string | undefined) {
    const o = await startOdooDouble({
      today: '2026-11-30',
      ...(expiresAt ? { apiKeyExpiresAt: expiresAt } : {}),
    });
    o.world.create('project.project', { name: 'Riverside Tower' });
    const ledger = new MemoryLedger();
    const cfg = PostingConfigSchema.parse({
      journalPath: join(dir, 'k.jsonl'),
      odoo: { url: o.url, db: o.db, login: o.login, apiKey: o.apiKey, api: 'json2', retries: 0 },
    });
    const p = createPoster(cfg, { logger: silentLogger(), ledger });
    posters.push(p);
    return { o, p, ledger };
  }

  it('status warns ahead of the expiry, and not for a key that does not expire', async () => {
    const soon = await withKeyExpiring(at(3 * DAY_MS + 3_600_000));
    const s = await soon.p.odooStatus();
    expect(s).toMatchObject({ configured: true, apiKeyName: 'IronLedger', daysLeft: 3 });
    expect(s.warning).toMatch(/^the Odoo API key "IronLedger" expires on .* UTC \(3 days left\)/);
    await soon.o.stop();
    const never = await withKeyExpiring(undefined);
    expect(await never.p.odooStatus()).toMatchObject({ apiKeyExpiresAt: null, warning: null });
    await never.o.stop();
  });

  it('an expired key stops posting with that reason: nothing sent, held or dead-lettered', async () => {
    const { o, p, ledger } = await withKeyExpiring(at(-60_000));
    const err = await p.post([a8897()], {}).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/posting stopped, nothing was sent: .*expired or revoked/);
    expect(o.count('create')).toBe(0);
    expect(ledger.posted.size + ledger.held.size + ledger.dead.size).toBe(0);
    expect((await p.odooStatus()).warning).toMatch(/refuses the API key \(wrong, expired or revoked\)/);
    await o.stop();
  });
});
