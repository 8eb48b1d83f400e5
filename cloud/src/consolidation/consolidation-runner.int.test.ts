/**
 * Consolidation's speed work must change no figure and must leave ingest answering:
 * - incremental runs (only the days new data can change, computed in the worker thread) after
 *   late and out-of-order batches end with exactly what one full run over the same readings
 *   gives: usage, anomalies and allocations (hours, amounts, evidence);
 * - a batch POSTed while a unit is being consolidated is answered before that unit's result is
 *   written (the unit's readings are read and computed off the event loop).
 * On SQLite here; consolidation-runner.pg.int.test.ts runs it on PostgreSQL.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { CloudStore } from '../store/store.js';
import { batch, startTestCloud, type TestCloud } from '../testing/harness.js';

const clouds: TestCloud[] = [];
afterEach(async () => {
  await Promise.all(clouds.splice(0).map((c) => c.stop()));
});
async function cloud(wrapStore?: (s: CloudStore) => CloudStore): Promise<TestCloud> {
  const t = await startTestCloud(wrapStore ? { cloud: { wrapStore } } : {});
  clouds.push(t);
  return t;
}

type R = [string, string, number, number?];
const MIN = 60_000;

/**
 * Four days of two units every 20 min, with what makes consolidation hard: an offline gap
 * across a local midnight, a meter reset, a jump, and the idle meter rising with the engine.
 */
function readings(): R[] {
  const out: R[] = [];
  const t0 = Date.parse('2026-06-01T04:00:00Z');
  let e1 = 1000;
  let e2 = 50;
  for (let i = 0; i < 4 * 72; i++) {
    const ts = new Date(t0 + i * 20 * MIN).toISOString();
    const hour = new Date(t0 + i * 20 * MIN).getUTCHours();
    const on = hour >= 6 && hour < 17;
    if (on) {
      e1 += 0.3;
      e2 += 0.25;
    }
    if (i >= 100 && i < 118) continue; // EXC-1 and EXC-2 offline 6 h, across a local midnight
    if (i === 150) e1 = 2; // a new meter on EXC-1
    if (i === 200) e2 += 40; // a jump no engine could make
    out.push(['EXC-1', ts, round(e1), round(e1 / 5)]);
    out.push(['EXC-2', ts, round(e2), round(e2 / 4)]);
  }
  return out;
}
function round(x: number): number {
  return Math.round(x * 100) / 100;
}

/** Everything consolidation writes, without the ids and times that differ between stores. */
async function outcome(t: TestCloud) {
  const s = t.cloud.store;
  const allocations = (await s.listAllocations({})).map((a) => {
    const { id: _id, version: _v, createdAt: _c, updatedAt: _u, ...rest } = a;
    return rest;
  });
  return {
    usage: await s.listUsage({}),
    anomalies: await s.listAnomalies({}),
    allocations,
  };
}

describe('consolidation runner', () => {
  it('incremental runs after late and out-of-order batches give exactly the full run', async () => {
    const rs = readings();
    // The reference: every reading at once, one full run.
    const whole = await cloud();
    expect((await whole.postBatch(batch(rs))).status).toBe(200);
    await whole.cloud.consolidate();
    const expected = await outcome(whole);
    expect(expected.usage.map((u) => u.day)).toContain('2026-06-04');
    expect(expected.anomalies.map((a) => a.kind).sort()).toEqual(
      expect.arrayContaining(['meter_jump', 'meter_reset']),
    );
    expect(expected.allocations.length).toBeGreaterThan(0);

    // The same readings: days 3–4 first, in order, then days 1–2 shuffled and late, in small
    // batches, consolidating after each (each run recomputes only from the earliest new day).
    const late = rs.filter(([, ts]) => ts < '2026-06-03');
    const early = rs.filter(([, ts]) => ts >= '2026-06-03');
    const shuffled = fc.sample(
      fc.shuffledSubarray(late, { minLength: late.length, maxLength: late.length }),
      {
        seed: 17,
        numRuns: 1,
      },
    )[0]!;
    const inc = await cloud();
    for (let i = 0; i < early.length; i += 40) {
      expect((await inc.postBatch(batch(early.slice(i, i + 40)))).status).toBe(200);
      await inc.cloud.consolidate();
    }
    for (let i = 0; i < shuffled.length; i += 25) {
      expect((await inc.postBatch(batch(shuffled.slice(i, i + 25)))).status).toBe(200);
      await inc.cloud.consolidate();
    }
    expect(await outcome(inc)).toEqual(expected);
    // A full run over the incremental result changes nothing.
    await inc.api('POST', '/v1/consolidate', { all: true });
    expect(await outcome(inc)).toEqual(expected);
  });

  it('a batch posted while a unit is consolidated is answered before that unit is written', async () => {
    let claimed!: () => void;
    const claimedP = new Promise<void>((r) => {
      claimed = r;
    });
    let answered = false;
    const writes: boolean[] = [];
    let answer!: Promise<unknown>;
    const wrapStore = (s: CloudStore): CloudStore =>
      new Proxy(s, {
        get(target, prop, receiver) {
          if (prop === 'claimDirtyUnit')
            return async (...a: Parameters<CloudStore['claimDirtyUnit']>) => {
              const d = await target.claimDirtyUnit(...a);
              if (d?.unitId === 'EXC-1') claimed();
              return d;
            };
          if (prop === 'applyConsolidation')
            return async (w: Parameters<CloudStore['applyConsolidation']>[0]) => {
              if (w.unitId === 'EXC-1') {
                writes.push(answered);
                await answer; // never writes before the batch is answered: the test cannot hang on order
              }
              return target.applyConsolidation(w);
            };
          const v = Reflect.get(target, prop, receiver);
          return typeof v === 'function' ? v.bind(target) : v;
        },
      });
    const t = await cloud(wrapStore);
    // A long unit: 6,000 five-minute readings (about 21 days).
    const t0 = Date.parse('2026-06-01T00:00:00Z');
    const long: R[] = Array.from({ length: 6000 }, (_, i) => [
      'EXC-1',
      new Date(t0 + i * 5 * MIN).toISOString(),
      1000 + i / 12,
    ]);
    for (let i = 0; i < long.length; i += 2000)
      expect((await t.postBatch(batch(long.slice(i, i + 2000)))).status).toBe(200);

    const run = t.cloud.consolidate();
    await claimedP;
    // The unit is claimed; its readings are being read and consolidated now.
    answer = t.postBatch(batch([['EXC-2', '2026-06-02T10:00:00Z', 50]])).then((a) => {
      answered = true;
      return a;
    });
    expect(((await answer) as { status: number }).status).toBe(200);
    await run;
    expect(writes).toEqual([true]);
    expect((await t.cloud.store.listUsage({ unit: 'EXC-1' })).length).toBeGreaterThan(20);
  });
});
