/**
 * A SQLite store whose batches are stored by its ingest thread (the cloud's default on a file):
 * the whole store contract through the thread, then what the thread adds — answers only after
 * the thread's commit, SQLite's refusal carried back with its code, a graceful close that lets
 * the batches already sent commit, and a thread that dies refusing what it held, retryable.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { holdSqliteWriteLock } from '@ironledger/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { storeContract } from '../store.contract.js';
import type { CloudStore, IngestBatch } from '../store.js';
import { SqliteStore } from './sqlite-store.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloud-ingest-thread-'));
const files = new WeakMap<CloudStore, string>();
let n = 0;
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

storeContract('sqlite (file, batches stored by the ingest thread)', {
  async open() {
    const file = path.join(dir, `c${n++}.db`);
    const s = new SqliteStore(file, { ingestThread: true });
    files.set(s, file);
    return s;
  },
  async sibling(s) {
    const file = files.get(s)!;
    const t = new SqliteStore(file, { ingestThread: true });
    files.set(t, file);
    return t;
  },
});

function batch(batchId: string, minute: number, units: number): IngestBatch {
  const readings = Array.from({ length: units }, (_, u) => {
    const ts = new Date(Date.UTC(2026, 10, 1) + minute * 60_000).toISOString();
    const reading = {
      v: 1 as const,
      unitId: `U${u}`,
      seq: minute,
      ts,
      engineHours: 100 + minute / 60,
      idleHours: 10 + minute / 240,
      engineOn: true,
      position: { lat: 52.1 + u / 1000, lon: 4.3 },
      odometerKm: 5000 + minute,
      receivedAt: ts,
    };
    return {
      reading,
      content: JSON.stringify(reading),
      holdReason: u === 0 ? 'clock_invalid: flagged by the gateway' : null,
      flaggedConflict: false,
      body: JSON.stringify(reading),
    };
  });
  return { gatewayId: 'gw', batchId, siteId: 'S', storedAt: new Date().toISOString(), readings };
}

/** The running thread of `store` (private): ended here as a crash would end it. */
function threadOf(store: SqliteStore): Worker {
  const w = (store as unknown as { ingestThread: { worker: Worker | null } }).ingestThread.worker;
  if (!w) throw new Error('no ingest thread running');
  return w;
}

describe('sqlite store ingest thread', () => {
  it('stores in the thread, and every column arrives as the batch had it', async () => {
    const file = path.join(dir, 'columns.db');
    const store = new SqliteStore(file, { ingestThread: true });
    try {
      // The compiled thread must exist (npm test builds first): else the store would store in
      // this thread and the contract above would prove nothing about the thread.
      expect(store.storesInThread).toBe(true);
      const b = batch('cols', 3, 4);
      expect(await store.ingestBatch(b)).toEqual({
        kind: 'stored',
        accepted: 4,
        duplicates: 0,
        conflicts: 0,
        held: 1,
      });
      expect(store.ingestCommits).toEqual({ commits: 1, batches: 1 });
    } finally {
      await store.close();
    }
    const db = new (createRequire(import.meta.url)('better-sqlite3'))(file, { readonly: true });
    try {
      const rows = db
        .prepare(
          'SELECT unit_id, ts, engine_hours, idle_hours, odometer_km, lat, lon, site_id, gateway_id, batch_id, received_at, status, hold_reason, body FROM readings ORDER BY unit_id',
        )
        .all();
      const b = batch('cols', 3, 4);
      expect(rows).toEqual(
        b.readings.map((x) => ({
          unit_id: x.reading.unitId,
          ts: x.reading.ts,
          engine_hours: x.reading.engineHours,
          idle_hours: x.reading.idleHours,
          odometer_km: x.reading.odometerKm,
          lat: x.reading.position.lat,
          lon: x.reading.position.lon,
          site_id: 'S',
          gateway_id: 'gw',
          batch_id: 'cols',
          received_at: x.reading.receivedAt,
          status: x.holdReason ? 'held' : 'ok',
          hold_reason: x.holdReason,
          body: x.body,
        })),
      );
    } finally {
      db.close();
    }
  });

  it("refuses a batch SQLite refuses with SQLite's code; the batches beside it commit", async () => {
    const store = new SqliteStore(path.join(dir, 'refused.db'), { ingestThread: true });
    try {
      const bad = batch('bad', 1, 3);
      (bad.readings[2]!.reading as { unitId: unknown }).unitId = null;
      const settled = await Promise.allSettled([
        store.ingestBatch(batch('ok1', 0, 5)),
        store.ingestBatch(bad),
        store.ingestBatch(batch('ok2', 2, 5)),
      ]);
      expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect((settled[1] as PromiseRejectedResult).reason).toMatchObject({
        code: 'SQLITE_CONSTRAINT_NOTNULL',
      });
      expect(await store.countReadings()).toBe(10);
    } finally {
      await store.close();
    }
  });

  it('closes only after the batches already sent have committed and been answered', async () => {
    const file = path.join(dir, 'close.db');
    const store = new SqliteStore(file, { ingestThread: true });
    const answers = Promise.all(
      Array.from({ length: 10 }, (_, i) => store.ingestBatch(batch(`c${i}`, i, 5))),
    );
    await store.close();
    expect((await answers).map((a) => a.kind)).toEqual(Array(10).fill('stored'));
    await expect(store.ingestBatch(batch('late', 20, 1))).rejects.toMatchObject({ code: 'STORE_FAILED' });
    const again = new SqliteStore(file);
    try {
      expect(await again.countReadings()).toBe(50);
    } finally {
      await again.close();
    }
  });

  it('a thread that dies refuses the batch it held, retryable; sent again it is stored once', async () => {
    const file = path.join(dir, 'dies.db');
    const store = new SqliteStore(file, { ingestThread: true });
    try {
      expect(await store.ingestBatch(batch('before', 0, 5))).toMatchObject({ kind: 'stored' });
      // Another replica holds the write lock: the thread waits on it with the batch in hand,
      // and cannot reach its commit before it is ended.
      const betterSqlite3 = createRequire(import.meta.url).resolve('better-sqlite3');
      const holder = await holdSqliteWriteLock({ file, betterSqlite3, holdMs: 800 });
      const held = store.ingestBatch(batch('held', 1, 5));
      const dying = threadOf(store).terminate();
      await expect(held).rejects.toMatchObject({ code: 'STORE_FAILED', retryable: true });
      await dying;
      expect(await holder.process.exited).toBe(0);
      expect(await store.countReadings()).toBe(5);
      // The gateway sends it again: a new thread stores it, once.
      expect(await store.ingestBatch(batch('held', 1, 5))).toMatchObject({ kind: 'stored', accepted: 5 });
      expect(await store.ingestBatch(batch('held', 1, 5))).toMatchObject({ kind: 'replayed', accepted: 5 });
      expect(await store.countReadings()).toBe(10);
    } finally {
      await store.close();
    }
  });
});
