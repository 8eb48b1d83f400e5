/**
 * Both sides of the internal rental, end to end on real processes: a simulated fleet's day goes
 * unit → edge → cloud; the fleet manager consolidates, approves and posts with the `ironledger`
 * CLI as journal entries with `accounts.equipmentRevenueAccountId`; the cloud posts to the Odoo
 * double over real HTTP. Read back from the double's records: every allocation debits its job
 * (the project's analytic account) and credits the equipment revenue account on the unit's own
 * analytic account, the same amount to the cent; `ironledger reconcile` agrees, and names the
 * equipment's side when an accountant edits the machine's analytic line.
 */
import fs from 'node:fs';
import { type Allocation, PostResponseSchema, ReconcileResponseSchema } from '@ironledger/contracts';
import { type OdooDouble, type Pipeline, removeDir, startOdooDouble, tempDir } from '@ironledger/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ACCOUNTS,
  adminApi,
  type OdooSeed,
  postedHours,
  printWorld,
  type SimWorld,
  seedOdoo,
  startPostingPipeline,
} from './posting-harness.js';

const UNITS = 2;
const SEED = 7;
const DAY = '2026-11-10';
/** The generic chart's Product Sales (income): the equipment's rental revenue. */
const REVENUE = 26;
const cents = (x: unknown) => Math.round((x as number) * 100);
/** The id of a many2one as read back ([id, name]), or null. */
const idOf = (v: unknown) => (Array.isArray(v) ? (v[0] as number) : null);

describe('internal rental, journal entries over json2', () => {
  let dir: string;
  let odoo: OdooDouble;
  let world: SimWorld;
  let seed: OdooSeed;
  let pl: Pipeline;
  let posted: Allocation[];

  const cli = async (args: string[]) => {
    const r = await pl.cli(args);
    return { ...r, out: `${r.stdout}\n${r.stderr}` };
  };

  beforeAll(async () => {
    dir = tempDir('ironledger-rental-');
    odoo = await startOdooDouble();
    world = await printWorld(UNITS, SEED);
    seed = seedOdoo(odoo, world);
    pl = await startPostingPipeline({
      dir,
      odoo,
      world,
      units: UNITS,
      seed: SEED,
      target: 'move',
      api: 'json2',
      posting: { accounts: { ...ACCOUNTS, equipmentRevenueAccountId: REVENUE } },
    });
    const sim = await pl.runSim([
      '--days',
      '1',
      '--start',
      DAY,
      '--interval',
      '10m',
      '--as-fast-as-possible',
      '--acked',
      pl.paths.acked,
    ]);
    expect(sim.code, sim.stderr).toBe(0);
    await pl.waitForDrain(new Set(fs.readFileSync(pl.paths.acked, 'utf8').split('\n').filter(Boolean)).size);
    expect((await cli(['consolidate'])).code).toBe(0);
    const approve = await cli(['allocations', 'approve', '--from', DAY, '--to', DAY, '--yes', '--json']);
    expect(approve.code, approve.out).toBe(0);
    const post = await cli(['post', '--json']);
    expect(post.code, post.out).toBe(0);
    const res = PostResponseSchema.parse(JSON.parse(post.stdout));
    expect(res.failed).toEqual([]);
    expect(res.held).toEqual([]);
    posted = (await adminApi(pl).allocations()).filter((a) => a.status === 'posted');
    expect(posted.length).toBeGreaterThan(1);
  }, 120_000);

  afterAll(async () => {
    await pl?.stop();
    await odoo?.stop();
    if (dir) removeDir(dir);
  });

  it('debits each job and credits the equipment the same amount, each on its own analytic account', () => {
    const lines = odoo.records('account.move.line');
    const analytic = odoo.records('account.analytic.line');
    for (const a of posted) {
      const mine = lines.filter((l) => l.ref === a.key);
      expect(mine, a.key).toHaveLength(2);
      const job = mine.find((l) => (l.account_id as [number])[0] === ACCOUNTS.expenseAccountId);
      const machine = mine.find((l) => (l.account_id as [number])[0] === REVENUE);
      expect(cents(job?.debit), a.key).toBe(a.amountMinor);
      expect(cents(machine?.credit), a.key).toBe(a.amountMinor);
      expect(job?.analytic_distribution, a.key).toEqual({
        [String(seed.projectAccount.get(a.projectId))]: 100,
      });
      expect(machine?.analytic_distribution, a.key).toEqual({
        [String(seed.equipmentAccount.get(a.unitId))]: 100,
      });
      // What posting generated: the project's cost and the machine's earnings, with the hours.
      const of = (l: typeof job) => analytic.filter((x) => idOf(x.move_line_id) === l?.id);
      const [cost] = of(job);
      const [earning] = of(machine);
      expect(cents(cost?.amount), a.key).toBe(-a.amountMinor);
      expect(cents(earning?.amount), a.key).toBe(a.amountMinor);
      expect(idOf(earning?.x_plan2_id), a.key).toBe(seed.equipmentAccount.get(a.unitId));
      expect(earning?.unit_amount, a.key).toBe(postedHours(a.engineHours, 2));
    }
    // Each machine's earnings equal what its allocations cost the projects, to the cent.
    for (const u of world.units) {
      const acct = seed.equipmentAccount.get(u.unitId);
      const earned = analytic
        .filter((x) => idOf(x.x_plan2_id) === acct)
        .reduce((t, x) => t + cents(x.amount), 0);
      const billed = posted.filter((a) => a.unitId === u.unitId).reduce((t, a) => t + a.amountMinor, 0);
      expect(earned, u.unitId).toBe(billed);
    }
  });

  it('reconciles on both sides, and names the equipment side an accountant edited', async () => {
    const clean = await cli(['reconcile', '--period', DAY.slice(0, 7), '--json']);
    expect(clean.code, clean.out).toBe(0);
    expect(ReconcileResponseSchema.parse(JSON.parse(clean.stdout)).differences).toEqual([]);

    const a = posted[0] as Allocation;
    const credit = odoo
      .records('account.move.line')
      .find((l) => l.ref === a.key && (l.account_id as [number])[0] === REVENUE);
    const earning = odoo.records('account.analytic.line').find((x) => idOf(x.move_line_id) === credit?.id);
    odoo.world.write('account.analytic.line', [earning?.id as number], {
      amount: (a.amountMinor + 100) / 100,
    });
    const r = await cli(['reconcile', '--period', DAY.slice(0, 7), '--json']);
    expect(r.code).toBe(1);
    expect(ReconcileResponseSchema.parse(JSON.parse(r.stdout)).differences).toEqual([
      {
        projectId: a.projectId,
        key: a.key,
        kind: 'amount',
        local: (a.amountMinor / 100).toFixed(2),
        odoo: ((a.amountMinor + 100) / 100).toFixed(2),
        side: 'equipment_analytic_line',
      },
    ]);
  });
});
