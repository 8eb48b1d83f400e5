import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { consolidationTick, tickOf } from './consolidation-job.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloud-job-'));
const stores: SqliteStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('scheduled consolidation across replicas', () => {
  it('a tick fired on three replicas runs once; the next tick runs again', async () => {
    const file = path.join(dir, 'ticks.db');
    const replicas = ['a', 'b', 'c'].map((owner) => {
      const store = new SqliteStore(file);
      stores.push(store);
      return { owner, store };
    });
    let runs = 0;
    const runner = {
      run: async () => ({
        unitsTouched: ++runs,
        rowsWritten: 0,
        allocationsCreated: 0,
        adjustmentsCreated: 0,
      }),
    };
    // cron fires within milliseconds of the second on each replica
    const fire = (ms: number) =>
      Promise.all(replicas.map((r, i) => consolidationTick(runner, { ...r, now: () => ms + i * 7 })));
    const first = await fire(Date.parse('2026-11-24T12:00:00.000Z') - 5);
    expect(first.filter((x) => x === 'ran')).toHaveLength(1);
    expect(runs).toBe(1);
    const second = await fire(Date.parse('2026-11-24T12:01:00.000Z'));
    expect(second.sort()).toEqual(['claimed_elsewhere', 'claimed_elsewhere', 'ran']);
    expect(runs).toBe(2);
  });

  it('a tick is its nearest whole second', () => {
    expect(tickOf(Date.parse('2026-11-24T12:00:59.600Z'))).toBe('2026-11-24T12:01:00.000Z');
    expect(tickOf(Date.parse('2026-11-24T12:01:00.300Z'))).toBe('2026-11-24T12:01:00.000Z');
  });
});
