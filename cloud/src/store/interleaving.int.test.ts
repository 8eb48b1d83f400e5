/**
 * What happens when posting, consolidation and approval overlap: a real cloud (HTTP, SQLite
 * file), the Odoo double behind a gate that holds one call until the test lets it go, and,
 * for two posts at once, two cloud processes' worth of replicas on one store.
 *
 * The figures are issue #11's: approved at 5 h / USD 365.00 (73.00 an hour), 4 h arrive late.
 */
import {
  type Allocation,
  AllocationsResponseSchema,
  AuditResponseSchema,
  ConsolidateResponseSchema,
  PostResponseSchema,
  ReconcileResponseSchema,
} from '@ironledger/contracts';
import { type OdooDouble, startOdooDouble } from '@ironledger/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CloudConfigInput } from '../config.js';
import { batch, startTestCloud, type TestCloud, TOKENS } from '../testing/harness.js';
import { type OdooGate, startOdooGate } from '../testing/odoo-gate.js';
import type { CloudStore } from './store.js';

const DAY = '2026-11-23'; // Europe/London is UTC in November
const UNIT = 'EXC-1';
const MODEL = 'account.analytic.line';

let odoo: OdooDouble;
let gate: OdooGate;
const clouds: TestCloud[] = [];

beforeEach(async () => {
  odoo = await startOdooDouble({ today: '2026-11-30' });
  // hr_timesheet gives the project its analytic account
  odoo.world.create('project.project', { name: 'London' });
  gate = await startOdooGate(odoo.url);
});
afterEach(async () => {
  gate.release(); // a failed test may leave a call held: let it finish before stopping
  for (const c of clouds.splice(0).reverse()) await c.stop();
  await gate.stop();
  await odoo.stop();
});

function config(): Partial<CloudConfigInput> {
  return {
    rates: [
      {
        rateId: 'R-EXC',
        equipmentClass: 'excavator',
        workingRateMinor: 7300,
        idleRateMinor: 7300,
        currency: 'USD',
        effectiveFrom: '2020-01-01',
      },
    ],
    posting: {
      target: 'analytic',
      odoo: { url: gate.url, db: odoo.db, login: odoo.login, apiKey: odoo.apiKey, api: 'json2', retries: 0 },
      projects: { 'P-LDN': { odooProjectName: 'London' } },
    },
  } as Partial<CloudConfigInput>;
}

async function cloud(opts: Parameters<typeof startTestCloud>[0] = {}): Promise<TestCloud> {
  const c = await startTestCloud({ config: config(), ...opts });
  clouds.push(c);
  return c;
}

async function ok(p: Promise<{ status: number; json: unknown }>) {
  const r = await p;
  expect(r.status, JSON.stringify(r.json)).toBe(200);
  return r.json;
}

const consolidate = async (t: TestCloud) =>
  ConsolidateResponseSchema.parse(await ok(t.api('POST', '/v1/consolidate', {}, TOKENS.approver)));
const allocations = async (t: TestCloud): Promise<Allocation[]> =>
  AllocationsResponseSchema.parse(
    await ok(t.api('GET', `/v1/allocations?unit=${UNIT}`, undefined, TOKENS.viewer)),
  ).allocations;
const post = (t: TestCloud) => t.api('POST', '/v1/post', {}, TOKENS.approver);
const approveAll = (t: TestCloud) =>
  ok(t.api('POST', '/v1/allocations/approve', { all: true }, TOKENS.approver));

/** Readings for the day: 08:00 at 100 h and 13:00 at 105 h is 5 h. */
async function fiveHours(t: TestCloud) {
  expect(
    (
      await t.postBatch(
        batch([
          [UNIT, `${DAY}T08:00:00.000Z`, 100],
          [UNIT, `${DAY}T13:00:00.000Z`, 105],
        ]),
      )
    ).status,
  ).toBe(200);
  await consolidate(t);
  const [a] = await allocations(t);
  expect(a).toMatchObject({ status: 'pending', engineHours: 5, amountMinor: 36500, currency: 'USD' });
  return a!;
}

/** A late reading at 17:00 at 109 h: the day is 9 h (USD 657.00). */
async function fourLateHours(t: TestCloud) {
  expect((await t.postBatch(batch([[UNIT, `${DAY}T17:00:00.000Z`, 109]]))).status).toBe(200);
}

/** What Odoo holds for IronLedger's keys. */
function odooLines() {
  return odoo
    .records(MODEL)
    .filter((l) => typeof l.ref === 'string' && l.ref.startsWith('IL-'))
    .map((l) => ({ ref: l.ref, hours: l.unit_amount, amount: l.amount }));
}

describe('posting, consolidation and approval overlapping', () => {
  it('late data consolidated during a post: Odoo gets 5 h / 365.00, the record keeps it, the 4 h become an adjustment', async () => {
    const t = await cloud();
    const a = await fiveHours(t);
    await approveAll(t);
    // Odoo creates the line, then takes its time to answer.
    gate.hold({ method: 'create', model: MODEL, when: 'after' });
    const posting = post(t);
    await gate.arrived();
    await fourLateHours(t);
    await consolidate(t);
    expect((await allocations(t)).find((x) => x.id === a.id)).toMatchObject({
      status: 'pending',
      engineHours: 9,
      amountMinor: 65700,
    });
    gate.release();
    const res = PostResponseSchema.parse(await ok(posting));
    expect(res.posted.map((p) => p.id)).toEqual([a.id]);

    expect(odooLines()).toEqual([{ ref: a.key, hours: 5, amount: -365 }]);
    const posted = (await allocations(t)).find((x) => x.id === a.id)!;
    expect(posted).toMatchObject({ status: 'posted', engineHours: 5, workingHours: 5, amountMinor: 36500 });
    expect(posted.odoo?.id).toBeGreaterThan(0);

    // The difference is booked as an adjustment that needs approval like any other.
    expect((await consolidate(t)).adjustmentsCreated).toBe(1);
    const adj = (await allocations(t)).filter((x) => x.kind === 'adjustment');
    expect(adj).toMatchObject([
      { status: 'pending', adjusts: a.id, engineHours: 4, workingHours: 4, amountMinor: 29200 },
    ]);
    const rec = ReconcileResponseSchema.parse(
      await ok(t.api('GET', '/v1/reconcile?period=2026-11', undefined, TOKENS.viewer)),
    );
    expect(rec.differences).toEqual([]);

    // Approved and posted, Odoo holds the 9 h in two lines, and reconciliation is still clean.
    await approveAll(t);
    expect(PostResponseSchema.parse(await ok(post(t))).posted.map((p) => p.id)).toEqual([adj[0]!.id]);
    expect(odooLines().reduce((s, l) => s + (l.hours as number), 0)).toBe(9);
    expect(odooLines().reduce((s, l) => s + (l.amount as number), 0)).toBe(-657);
    const again = ReconcileResponseSchema.parse(
      await ok(t.api('GET', '/v1/reconcile?period=2026-11', undefined, TOKENS.viewer)),
    );
    expect(again.differences).toEqual([]);
    expect((await consolidate(t)).adjustmentsCreated).toBe(0);
  });

  it('two replicas posting the same allocation at once make one Odoo record', async () => {
    const a1 = await cloud({ cloud: { replicaId: 'replica-a' } });
    const b1 = await cloud({ dir: a1.dir, cloud: { replicaId: 'replica-b' } });
    const a = await fiveHours(a1);
    await approveAll(a1);
    // Replica A's create waits before Odoo sees it: A has decided to create, nothing is in Odoo yet.
    gate.hold({ method: 'create', model: MODEL, when: 'before' });
    const fromA = post(a1);
    await gate.arrived();
    const fromB = PostResponseSchema.parse(await ok(post(b1)));
    expect(fromB.posted).toEqual([]);
    expect(fromB.held).toEqual([{ id: a.id, reason: expect.stringMatching(/being posted by another run/) }]);
    gate.release();
    expect(PostResponseSchema.parse(await ok(fromA)).posted.map((p) => p.id)).toEqual([a.id]);

    expect(odooLines()).toEqual([{ ref: a.key, hours: 5, amount: -365 }]);
    expect(odoo.count('create', MODEL)).toBe(1);
    expect((await allocations(b1)).find((x) => x.id === a.id)).toMatchObject({
      status: 'posted',
      engineHours: 5,
    });
    // Posting again from either replica finds nothing to do.
    expect(PostResponseSchema.parse(await ok(post(b1))).considered).toBe(0);
    expect(odoo.count('create', MODEL)).toBe(1);
  });

  it('an approval made while consolidation recomputes the allocation is not carried onto the new figure', async () => {
    let hold: { reached: () => void; go: Promise<void> } | null = null;
    const reached: { promise: Promise<void> } = { promise: Promise.resolve() };
    let go: () => void = () => {};
    /** Holds the next consolidation write after its reads, until the test lets it go. */
    const armHold = () => {
      let reachedNow: () => void = () => {};
      reached.promise = new Promise<void>((r) => {
        reachedNow = r;
      });
      hold = {
        reached: reachedNow,
        go: new Promise<void>((r) => {
          go = r;
        }),
      };
    };
    const wrapStore = (s: CloudStore): CloudStore =>
      new Proxy(s, {
        get(target, prop, receiver) {
          if (prop === 'applyConsolidation')
            return async (w: Parameters<CloudStore['applyConsolidation']>[0]) => {
              const h = hold;
              hold = null;
              if (h) {
                h.reached();
                await h.go;
              }
              return target.applyConsolidation(w);
            };
          const v = Reflect.get(target, prop, receiver);
          return typeof v === 'function' ? v.bind(target) : v;
        },
      });
    const t = await cloud({ cloud: { wrapStore } });
    const a = await fiveHours(t);
    await fourLateHours(t);
    armHold();
    const consolidating = consolidate(t);
    await reached.promise; // it has read the allocation at 5 h, pending, and planned 9 h
    // The approver approves what they see: 5 h / 365.00.
    const approval = await ok(t.api('POST', '/v1/allocations/approve', { ids: [a.id] }, TOKENS.approver));
    expect(approval).toMatchObject({ changed: [a.id] });
    go();
    await consolidating;

    const now = (await allocations(t)).find((x) => x.id === a.id)!;
    expect(now).toMatchObject({ status: 'pending', engineHours: 9, amountMinor: 65700, approvedBy: null });
    const audit = AuditResponseSchema.parse(
      await ok(t.api('GET', '/v1/audit?action=allocation.', undefined, TOKENS.viewer)),
    ).entries.filter((e) => e.target === a.key);
    expect(audit.map((e) => [e.actor, e.action])).toEqual([
      ['alex', 'allocation.approve'],
      ['consolidation', 'allocation.reopen'],
    ]);
    // Nothing approved, so nothing is posted; approving now approves the 9 h the approver sees.
    expect(PostResponseSchema.parse(await ok(post(t))).posted).toEqual([]);
    await approveAll(t);
    expect(PostResponseSchema.parse(await ok(post(t))).posted.map((p) => p.id)).toEqual([a.id]);
    expect(odooLines()).toEqual([{ ref: a.key, hours: 9, amount: -657 }]);
  });
});
