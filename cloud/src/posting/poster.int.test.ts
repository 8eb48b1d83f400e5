import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isIronLedgerError } from '@ironledger/errors';
import { silentLogger } from '@ironledger/logger';
import type { OdooDouble } from '@ironledger/testkit';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { priceUsage } from '../allocation/allocate.js';
import { decimalToMinor } from '../allocation/money.js';
import { startSeededOdoo } from '../testing/odoo-seed.js';
import { type PostingConfigInput, PostingConfigSchema } from './config.js';
import { createPoster } from './poster.js';
import { allocation, MemoryLedger } from './test-helpers.js';
import type { PostableAllocation, Poster, PostingLedger } from './types.js';
import { roundHours } from './vals.js';

let odoo: OdooDouble;
let dir: string;
let riversideAccount: number;
let equipmentAccount: number;
const posters: Poster[] = [];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'il-post-'));
  ({ odoo, projectAccount: riversideAccount, equipmentAccount } = await startSeededOdoo());
});
afterEach(async () => {
  await Promise.all(posters.splice(0).map((p) => p.close()));
  await odoo.stop();
  rmSync(dir, { recursive: true, force: true });
});

function poster(
  target: 'analytic' | 'move',
  api: 'json2' | 'jsonrpc',
  ledger: PostingLedger,
  over: Partial<PostingConfigInput> = {},
): Poster {
  const cfg = PostingConfigSchema.parse({
    target,
    journalPath: join(dir, 'journal.jsonl'),
    odoo: { url: odoo.url, db: odoo.db, login: odoo.login, apiKey: odoo.apiKey, api, retries: 2 },
    accounts: { expenseAccountId: 32, recoveryAccountId: 14, journalId: 3 },
    equipmentPlanField: 'x_plan2_id',
    projects: { RIVERSIDE: { odooProjectName: 'Riverside Tower' } },
    batchSize: 2,
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

const allocs = (): PostableAllocation[] => [
  allocation({ id: 'a1', day: '2026-11-23' }),
  allocation({
    id: 'a2',
    day: '2026-11-24',
    engineHours: 6.25,
    idleHours: 0.5,
    workingHours: 5.75,
    amountMinor: 49625,
  }),
  allocation({
    id: 'a3',
    day: '2026-11-25',
    engineHours: 0.001,
    idleHours: 0,
    workingHours: 0.001,
    amountMinor: 9,
  }),
];

/** What Odoo holds per ref: amount (minor, cost positive), hours, date, project account, equipment account. */
function odooFigures(
  target: 'analytic' | 'move',
): Map<
  string,
  { amountMinor: number; hours: number; date: string; account: number; equipment: number | false }
> {
  const out = new Map();
  if (target === 'analytic') {
    for (const l of odoo.records('account.analytic.line')) {
      if (typeof l.ref !== 'string' || !l.ref.startsWith('IL-')) continue;
      out.set(l.ref, {
        amountMinor: decimalToMinor(-(l.amount as number), 'USD'),
        hours: l.unit_amount,
        date: l.date,
        account: (l.account_id as [number])[0],
        equipment: l.x_plan2_id ? (l.x_plan2_id as [number])[0] : false,
      });
    }
  } else {
    for (const l of odoo.records('account.move.line')) {
      if (!l.analytic_distribution) continue;
      const [acct, eq] =
        Object.keys(l.analytic_distribution as object)[0]
          ?.split(',')
          .map(Number) ?? [];
      out.set(l.ref, {
        amountMinor: decimalToMinor(l.balance as number, 'USD'),
        hours: l.quantity,
        date: l.date,
        account: acct,
        equipment: eq ?? false,
      });
    }
  }
  return out;
}

for (const target of ['analytic', 'move'] as const) {
  for (const api of ['json2', 'jsonrpc'] as const) {
    describe(`posting ${target} over ${api}`, () => {
      const model = target === 'analytic' ? 'account.analytic.line' : 'account.move';

      it('creates one record per allocation with the right account, amount, hours, date and ref, once', async () => {
        const ledger = new MemoryLedger();
        const res = await poster(target, api, ledger).post(allocs(), {});
        expect(res).toMatchObject({
          mode: 'odoo',
          api,
          target,
          considered: 3,
          alreadyInOdoo: [],
          held: [],
          failed: [],
        });
        expect(res.posted.map((p) => p.id)).toEqual(['a1', 'a2', 'a3']);
        expect(
          odoo.calls
            .filter((c) => c.method === 'create' && c.model === model)
            .every((c) => c.api === (api === 'json2' ? 'json2' : 'jsonrpc')),
        ).toBe(true);
        // batchSize 2 → two create calls for three allocations
        expect(odoo.count('create', model)).toBe(2);
        const figs = odooFigures(target);
        for (const a of allocs()) {
          expect(figs.get(a.key)).toEqual({
            amountMinor: a.amountMinor,
            // a journal item's quantity keeps Odoo's "Product Unit" digits (2): 0.001 h books as 0
            hours: target === 'move' ? roundHours(a.engineHours, 2) : a.engineHours,
            date: a.day,
            account: riversideAccount,
            equipment: equipmentAccount,
          });
          expect(ledger.posted.get(a.id)).toMatchObject({
            model,
            date: a.day,
            alreadyInOdoo: false,
            odooId: expect.any(Number),
          });
        }
        if (target === 'move') {
          expect(
            odoo
              .records('account.move')
              .filter((m) => String(m.ref).startsWith('IL-'))
              .every((m) => m.state === 'posted'),
          ).toBe(true);
        }

        // posting again creates nothing new
        const ledger2 = new MemoryLedger();
        const again = await poster(target, api, ledger2).post(allocs(), {});
        expect(again.posted).toEqual([]);
        expect(again.alreadyInOdoo).toEqual(['a1', 'a2', 'a3']);
        expect(odoo.count('create', model)).toBe(2);
        expect(ledger2.posted.get('a1')).toMatchObject({
          alreadyInOdoo: true,
          odooId: ledger.posted.get('a1')?.odooId,
        });
      });

      it('a crash between Odoo create and the ledger write never makes a second record', async () => {
        const crashing: PostingLedger = {
          markPosted: async () => {
            throw new Error('store crashed');
          },
          deadLetter: async () => {},
          hold: async () => {},
        };
        await expect(poster(target, api, crashing).post(allocs(), {})).rejects.toThrow('store crashed');
        const createsBefore = odoo.count('create', model);
        expect(createsBefore).toBe(1); // the first batch reached Odoo, then the store died
        const ledger = new MemoryLedger();
        const res = await poster(target, api, ledger).post(allocs(), {});
        expect(res.alreadyInOdoo).toEqual(['a1', 'a2']);
        expect(res.posted.map((p) => p.id)).toEqual(['a3']);
        expect(odooFigures(target).size).toBe(3);
        expect(odoo.count('create', model)).toBe(createsBefore + 1);
      });

      it('a create whose answer is lost is found by ref, not sent twice', async () => {
        odoo.failNext(1, { kind: 'reset-after', method: 'create' });
        const ledger = new MemoryLedger();
        const res = await poster(target, api, ledger).post(allocs().slice(0, 2), {});
        expect(res.failed).toEqual([]);
        expect([...res.alreadyInOdoo, ...res.posted.map((p) => p.id)].sort()).toEqual(['a1', 'a2']);
        expect(odooFigures(target).size).toBe(2);
        expect(odoo.count('create', model)).toBe(1);
      });

      it('a validation error is dead-lettered alone, and a replay after the fix posts it', async () => {
        const ledger = new MemoryLedger();
        // BAD points at an analytic account that does not exist in Odoo
        const projects = {
          RIVERSIDE: { odooProjectName: 'Riverside Tower' },
          BAD: { analyticAccountId: 999 },
        };
        const bad = allocation({ id: 'bad', projectId: 'BAD', day: '2026-11-24' });
        const good = allocs()[0] as PostableAllocation;
        const res = await poster(target, api, ledger, { projects }).post([good, bad], {});
        expect(res.posted.map((p) => p.id)).toEqual(['a1']);
        expect(res.failed).toEqual([
          { id: 'bad', code: 'ODOO_VALIDATION', message: expect.stringMatching(/999/), deadLettered: true },
        ]);
        expect(ledger.dead.get('bad')).toMatchObject({ code: 'ODOO_VALIDATION' });
        expect(odooFigures(target).has(bad.key)).toBe(false);
        // the fix: BAD is mapped to the right account; the replay posts it
        const fixed = { ...projects, BAD: { analyticAccountId: riversideAccount } };
        const replay = await poster(target, api, ledger, { projects: fixed }).post([bad], {});
        expect(replay.posted.map((p) => p.id)).toEqual(['bad']);
        expect(odooFigures(target).get(bad.key)).toMatchObject({
          amountMinor: bad.amountMinor,
          account: riversideAccount,
        });
      });

      it('an authentication failure stops the run with a clear message and posts nothing', async () => {
        const ledger = new MemoryLedger();
        const p = poster(target, api, ledger, {
          odoo: { url: odoo.url, db: odoo.db, login: odoo.login, apiKey: 'wrong-key', api },
        });
        const err = await p.post(allocs(), {}).catch((e) => e);
        expect(isIronLedgerError(err, 'ODOO_AUTH')).toBe(true);
        expect(err.message).toMatch(/posting stopped, nothing was sent/);
        expect(err.message).not.toContain('wrong-key');
        expect(odoo.count('create')).toBe(0);
        expect(ledger.posted.size + ledger.dead.size + ledger.held.size).toBe(0);
      });

      it('reconciles to zero differences after a clean run and lists one injected in Odoo', async () => {
        const ledger = new MemoryLedger();
        const p = poster(target, api, ledger);
        await p.post(allocs(), {});
        const local = allocs().map((a) => ({ ...a, odooId: ledger.posted.get(a.id)?.odooId ?? null }));
        const clean = await p.reconcile('2026-11', local);
        expect(clean.differences).toEqual([]);
        const hours = target === 'move' ? 14.95 : 14.951;
        expect(clean.rows).toEqual([
          {
            projectId: 'RIVERSIDE',
            localHours: hours,
            odooHours: hours,
            localAmountMinor: 65550 + 49625 + 9,
            odooAmountMinor: 65550 + 49625 + 9,
            ok: true,
          },
        ]);

        // an accountant edits a2's amount in Odoo
        if (target === 'analytic') {
          odoo.edit('account.analytic.line', ledger.posted.get('a2')?.odooId as number, { amount: -500 });
        } else {
          const line = odoo
            .records('account.move.line')
            .find((l) => l.ref === allocs()[1]?.key && l.analytic_distribution);
          odoo.edit('account.move.line', line?.id as number, { debit: 500 });
        }
        const diff = await p.reconcile('2026-11', local);
        expect(diff.differences).toEqual([
          {
            projectId: 'RIVERSIDE',
            key: allocs()[1]?.key,
            kind: 'amount',
            local: '496.25',
            odoo: '500.00',
            ...(target === 'move' ? { side: 'move_line' } : {}),
          },
        ]);
        expect(diff.rows[0]?.ok).toBe(false);
      });
    });
  }
}

describe('posting holds', () => {
  it('holds allocations in a locked period and of projects without an analytic account', async () => {
    odoo.setLockDate('2026-10-31');
    const ledger = new MemoryLedger();
    const p = poster('move', 'json2', ledger, {
      projects: { RIVERSIDE: { odooProjectName: 'Riverside Tower' }, NOWHERE: {} },
    });
    const res = await p.post(
      [
        allocation({ id: 'old', day: '2026-10-15' }),
        allocation({ id: 'nop', projectId: 'NOWHERE' }),
        allocation({ id: 'ok', day: '2026-11-02' }),
      ],
      {},
    );
    expect(res.posted.map((x) => x.id)).toEqual(['ok']);
    expect(ledger.held.get('old')).toMatch(
      /period locked in Odoo: 2026-10-15 is on or before the lock date 2026-10-31/,
    );
    expect(ledger.held.get('nop')).toMatch(/project "NOWHERE" \(NOWHERE\) not found/);
    expect(
      odoo.records('account.move').some((m) => m.ref === allocation({ id: 'old', day: '2026-10-15' }).key),
    ).toBe(false);
  });
});

describe('money property', () => {
  it('the sum of posted amounts equals the sum of allocations, to the cent', async () => {
    const ledger = new MemoryLedger();
    const p = poster('analytic', 'json2', ledger, { batchSize: 50 });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            working: fc.integer({ min: 0, max: 24_000 }).map((m) => m / 1000),
            idle: fc.integer({ min: 0, max: 24_000 }).map((m) => m / 1000),
            wRate: fc.integer({ min: 0, max: 250_000 }),
            iRate: fc.integer({ min: 0, max: 50_000 }),
          }),
          { minLength: 1, maxLength: 8 },
        ),
        async (figs) => {
          run++;
          const list = figs.map((f, i) => {
            const priced = priceUsage(
              {
                unitId: 'EXC-0042',
                projectId: 'RIVERSIDE',
                siteId: 'S',
                day: '2026-11-10',
                engineHours: f.working + f.idle,
                idleHours: f.idle,
                workingHours: f.working,
                distanceKm: null,
                readings: 1,
                anomalies: [],
                meterFrom: null,
                meterTo: null,
              },
              { unitId: 'EXC-0042', equipmentClass: 'excavator' },
              [
                {
                  id: 'r',
                  equipmentClass: 'excavator',
                  workingRateMinor: f.wRate,
                  idleRateMinor: f.iRate,
                  currency: 'USD',
                  effectiveFrom: '2026-01-01',
                },
              ],
            );
            if (!priced.ok) throw new Error(priced.holdReason);
            return allocation({
              id: `p${run}-${i}`,
              key: `IL-PROP-${run}-${i}`,
              day: '2026-11-10',
              engineHours: f.working + f.idle,
              idleHours: f.idle,
              workingHours: f.working,
              amountMinor: priced.amountMinor,
            });
          });
          const res = await p.post(list, {});
          expect(res.posted).toHaveLength(list.length);
          const keys = new Set(list.map((a) => a.key));
          const posted = odoo.records('account.analytic.line').filter((l) => keys.has(l.ref as string));
          const odooSum = posted.reduce((s, l) => s + decimalToMinor(-(l.amount as number), 'USD'), 0);
          expect(odooSum).toBe(list.reduce((s, a) => s + a.amountMinor, 0));
        },
      ),
      { numRuns: 25 },
    );
  });
});
