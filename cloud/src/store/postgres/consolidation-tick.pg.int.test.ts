/**
 * Scheduled jobs once per tick across replicas, on PostgreSQL: three replicas (each its own
 * PostgresStore and pool) fire the same cron tick a few milliseconds apart; one runs it.
 */
import { createTempPgDatabase, requirePg, type TempPgDatabase } from '@ironledger/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { consolidationTick } from '../../jobs/consolidation-job.js';
import { PostgresStore } from './pg-store.js';

const pgOn = await requirePg();
const open: PostgresStore[] = [];
let db: TempPgDatabase | undefined;
afterAll(async () => {
  for (const s of open) await s.close();
  await db?.drop();
});

describe.skipIf(!pgOn)('scheduled consolidation across replicas on PostgreSQL', () => {
  it('each tick fired on three replicas at once runs on exactly one of them', async () => {
    db = await createTempPgDatabase();
    const url = db.url;
    const stores = await Promise.all(['a', 'b', 'c'].map(() => PostgresStore.open({ url, poolMax: 2 })));
    open.push(...stores);
    const replicas = stores.map((store, i) => ({ owner: `replica-${i}`, store }));
    let runs = 0;
    const runner = {
      run: async () => ({
        unitsTouched: ++runs,
        rowsWritten: 0,
        allocationsCreated: 0,
        adjustmentsCreated: 0,
      }),
    };
    const start = Date.parse('2026-11-24T12:00:00.000Z');
    for (let minute = 0; minute < 10; minute++) {
      const ms = start + minute * 60_000 - 5;
      const outcomes = await Promise.all(
        replicas.map((r, i) => consolidationTick(runner, { ...r, now: () => ms + i * 7 })),
      );
      expect(outcomes.sort()).toEqual(['claimed_elsewhere', 'claimed_elsewhere', 'ran']);
    }
    expect(runs).toBe(10);
  });
});
