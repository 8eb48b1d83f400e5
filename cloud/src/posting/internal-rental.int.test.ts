/**
 * Both sides of the internal rental in journal-entry mode (Vista EM): the job is debited and
 * the equipment credited the same amount, the equipment revenue on the unit's own analytic
 * account. Posted through the real client over HTTP into the Odoo double, then read back from
 * the double's records, and reconciled on both sides.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@ironledger/logger';
import type { OdooDouble } from '@ironledger/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decimalToMinor } from '../allocation/money.js';
import { startSeededOdoo } from '../testing/odoo-seed.js';
import { type PostingConfigInput, PostingConfigSchema } from './config.js';
import { createPoster } from './poster.js';
import { allocation, MemoryLedger } from './test-helpers.js';
import type { PostableAllocation, Poster } from './types.js';

/** The generic chart's Product Sales (income): the equipment's rental revenue. */
const REVENUE = 26;
const EXPENSE = 32;

let odoo: OdooDouble;
let dir: string;
let projectAccount: number;
let unitAccount: number;
const posters: Poster[] = [];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'il-rental-'));
  ({ odoo, projectAccount, equipmentAccount: unitAccount } = await startSeededOdoo());
});
afterEach(async () => {
  await Promise.all(posters.splice(0).map((p) => p.close()));
  await odoo.stop();
  rmSync(dir, { recursive: true, force: true });
});

function poster(api: 'json2' | 'jsonrpc', ledger: MemoryLedger, over: Partial<PostingConfigInput> = {}) {
  const cfg = PostingConfigSchema.parse({
    target: 'move',
    journalPath: join(dir, 'journal.jsonl'),
    odoo: { url: odoo.url, db: odoo.db, login: odoo.login, apiKey: odoo.apiKey, api, retries: 2 },
    accounts: {
      expenseAccountId: EXPENSE,
      recoveryAccountId: 14,
      journalId: 3,
      equipmentRevenueAccountId: REVENUE,
    },
    equipmentPlanField: 'x_plan2_id',
    projects: { RIVERSIDE: { odooProjectName: 'Riverside Tower' } },
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

/** A day's cost, and a negative adjustment that gives hours back. */
const cost = allocation({ id: 'a1', day: '2026-11-23', engineHours: 8.897, amountMinor: 71176 });
const giveBack = allocation({
  id: 'a2',
  day: '2026-11-24',
  kind: 'adjustment',
  key: 'IL-EXC-0042-RIVERSIDE-20261124-2',
  engineHours: -1.25,
  idleHours: 0,
  workingHours: -1.25,
  amountMinor: -10625,
});

const lineOf = (ref: string, account: number) => {
  const l = odoo
    .records('account.move.line')
    .find((r) => r.ref === ref && (r.account_id as [number])[0] === account);
  if (!l) throw new Error(`no move line of ${ref} on account ${account}`);
  return l;
};
const analyticOf = (moveLineId: number) =>
  odoo
    .records('account.analytic.line')
    .filter((r) => (r.move_line_id as [number] | false)?.[0] === moveLineId);
const minor = (x: unknown) => decimalToMinor(x as number, 'USD');

async function postAndReconcile(p: Poster, allocs: PostableAllocation[], ledger: MemoryLedger) {
  const res = await p.post(allocs, {});
  expect(res.failed).toEqual([]);
  expect(res.held).toEqual([]);
  const local = allocs.map((a) => ({ ...a, odooId: ledger.posted.get(a.id)?.odooId ?? null }));
  return { res, local };
}

for (const api of ['json2', 'jsonrpc'] as const) {
  describe(`internal rental over ${api}`, () => {
    it('debits the job and credits the equipment the same amount, each on its own analytic account', async () => {
      const ledger = new MemoryLedger();
      const p = poster(api, ledger);
      const { local } = await postAndReconcile(p, [cost, giveBack], ledger);

      // The cost: the job's expense line debited, the equipment revenue line credited.
      const debit = lineOf(cost.key, EXPENSE);
      const credit = lineOf(cost.key, REVENUE);
      expect(minor(debit.debit)).toBe(71176);
      expect(minor(debit.credit)).toBe(0);
      expect(minor(credit.credit)).toBe(71176);
      expect(minor(credit.debit)).toBe(0);
      expect(debit.analytic_distribution).toEqual({ [String(projectAccount)]: 100 });
      expect(credit.analytic_distribution).toEqual({ [String(unitAccount)]: 100 });
      expect(odoo.records('account.move.line').filter((r) => r.ref === cost.key)).toHaveLength(2);

      // What posting generated: the project's equipment cost and the machine's earnings, with hours.
      const [jobCost] = analyticOf(debit.id as number);
      const [earnings] = analyticOf(credit.id as number);
      expect(jobCost).toMatchObject({ account_id: [projectAccount, expect.any(String)], x_plan2_id: false });
      expect(earnings).toMatchObject({ x_plan2_id: [unitAccount, expect.any(String)], account_id: false });
      expect(minor(jobCost?.amount)).toBe(-71176);
      expect(minor(earnings?.amount)).toBe(71176);
      expect(jobCost?.unit_amount).toBe(8.9);
      expect(earnings?.unit_amount).toBe(8.9);

      // The adjustment: the job credited, the equipment debited, the same amount.
      expect(minor(lineOf(giveBack.key, EXPENSE).credit)).toBe(10625);
      expect(minor(lineOf(giveBack.key, REVENUE).debit)).toBe(10625);

      // The machine's account over both: its earnings to the cent.
      const machine = odoo
        .records('account.analytic.line')
        .filter((r) => (r.x_plan2_id as [number] | false)?.[0] === unitAccount);
      expect(machine.reduce((s, r) => s + minor(r.amount), 0)).toBe(71176 - 10625);

      const rec = await p.reconcile('2026-11', local);
      expect(rec.differences).toEqual([]);
      expect(rec.rows).toEqual([
        expect.objectContaining({ projectId: 'RIVERSIDE', ok: true, localAmountMinor: 60551 }),
      ]);
    });

    it("finds an edit to the equipment's analytic line and names that side", async () => {
      const ledger = new MemoryLedger();
      const p = poster(api, ledger);
      const { local } = await postAndReconcile(p, [cost], ledger);
      const [earnings] = analyticOf(lineOf(cost.key, REVENUE).id as number);
      // Odoo accepts an edit of a generated analytic line's amount (transcripts 142–143).
      odoo.world.write('account.analytic.line', [earnings?.id as number], { amount: 700 });
      const rec = await p.reconcile('2026-11', local);
      expect(rec.differences).toEqual([
        expect.objectContaining({
          key: cost.key,
          kind: 'amount',
          side: 'equipment_analytic_line',
          local: '711.76',
          odoo: '700.00',
        }),
      ]);
      expect(rec.rows[0]?.ok).toBe(false);
    });

    it("finds an edit to a draft entry's credit line and names that side", async () => {
      const ledger = new MemoryLedger();
      const p = poster(api, ledger, { movePost: false });
      const { local } = await postAndReconcile(p, [cost], ledger);
      const credit = lineOf(cost.key, REVENUE);
      // A draft entry can be edited line by line; the job's debit stays as sent.
      odoo.world.write('account.move.line', [credit.id as number], { credit: 650 });
      const rec = await p.reconcile('2026-11', local);
      expect(rec.differences).toEqual([
        expect.objectContaining({
          key: cost.key,
          kind: 'amount',
          side: 'equipment_move_line',
          local: '711.76',
          odoo: '650.00',
        }),
      ]);
    });

    it("finds a credit line moved to another machine's analytic account", async () => {
      const ledger = new MemoryLedger();
      const p = poster(api, ledger, { movePost: false });
      const { local } = await postAndReconcile(p, [cost], ledger);
      const other = odoo.world.create('account.analytic.account', {
        name: 'EXC-0043 CAT 320',
        code: 'EXC-0043',
        plan_id: 2,
      }).id;
      odoo.world.write('account.move.line', [lineOf(cost.key, REVENUE).id as number], {
        analytic_distribution: { [String(other)]: 100 },
      });
      const rec = await p.reconcile('2026-11', local);
      expect(rec.differences).toEqual([
        {
          projectId: 'RIVERSIDE',
          key: cost.key,
          kind: 'analytic_account',
          local: String(unitAccount),
          odoo: String(other),
          side: 'equipment_move_line',
        },
      ]);
    });

    it('finds a credit line gone from the entry and names that side', async () => {
      const ledger = new MemoryLedger();
      const p = poster(api, ledger, { movePost: false });
      const { local } = await postAndReconcile(p, [cost], ledger);
      odoo.world.write('account.move.line', [lineOf(cost.key, REVENUE).id as number], { account_id: 14 });
      const rec = await p.reconcile('2026-11', local);
      expect(rec.differences).toEqual([
        expect.objectContaining({ key: cost.key, kind: 'missing_in_odoo', side: 'equipment_move_line' }),
      ]);
    });
  });
}

describe('internal rental config', () => {
  it('names equipmentPlanField when the equipment revenue account has no plan to credit on', () => {
    const r = PostingConfigSchema.safeParse({
      target: 'move',
      accounts: { expenseAccountId: 32, recoveryAccountId: 14, journalId: 3, equipmentRevenueAccountId: 26 },
    });
    expect(r.success).toBe(false);
    expect(r.error?.issues).toEqual([
      expect.objectContaining({
        path: ['equipmentPlanField'],
        message: expect.stringMatching(/equipmentRevenueAccountId/),
      }),
    ]);
  });

  it('dry run journals both sides, the unit account named for lookup', async () => {
    const ledger = new MemoryLedger();
    const cfg = PostingConfigSchema.parse({
      target: 'move',
      journalPath: join(dir, 'dry.jsonl'),
      accounts: { expenseAccountId: 32, recoveryAccountId: 14, journalId: 3, equipmentRevenueAccountId: 26 },
      equipmentPlanField: 'x_plan2_id',
      projects: { RIVERSIDE: { analyticAccountId: 7 } },
    });
    const p = createPoster(cfg, { logger: silentLogger(), ledger });
    posters.push(p);
    await p.post([cost], {});
    const { readFileSync } = await import('node:fs');
    const entry = JSON.parse(readFileSync(join(dir, 'dry.jsonl'), 'utf8').trim());
    const lines = entry.call.params.args[5][0][0].line_ids.map((l: unknown[]) => l[2]);
    expect(lines).toEqual([
      expect.objectContaining({ account_id: 32, debit: 711.76, analytic_distribution: { '7': 100 } }),
      expect.objectContaining({
        account_id: 26,
        credit: 711.76,
        analytic_distribution: { '<equipment-account-of:EXC-0042>': 100 },
      }),
    ]);
    const rec = await p.reconcile('2026-11', [{ ...cost, odooId: null }]);
    expect(rec.differences).toEqual([]);
  });
});
