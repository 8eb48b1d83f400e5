/**
 * The ingest path's cost: after the first batch has prepared its statements, further batches
 * prepare none (preparing per batch and per dirty unit cost more than running the statements).
 * Behaviour is pinned by the store contract suite; this pins the cost.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { writeWhileLockHeld } from '@ironledger/testkit';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { IngestBatch } from '../store.js';
import { SqliteStore } from './sqlite-store.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloud-store-ingest-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function batch(batchId: string, from: number, units: number): IngestBatch {
  const readings = Array.from({ length: units }, (_, u) => {
    const ts = new Date(Date.UTC(2026, 10, 1) + from * 60_000).toISOString();
    const reading = {
      v: 1 as const,
      unitId: `U${u}`,
      seq: from,
      ts,
      engineHours: 100 + from / 60,
      engineOn: true,
      receivedAt: ts,
    };
    return {
      reading,
      content: JSON.stringify(reading),
      holdReason: null,
      flaggedConflict: false,
      body: JSON.stringify(reading),
    };
  });
  return { gatewayId: 'gw', batchId, siteId: 'S', storedAt: new Date().toISOString(), readings };
}

describe('sqlite store ingest path', () => {
  it('prepares no statement for a batch once the first batch has run', async () => {
    const store = new SqliteStore(path.join(dir, 'a.db'));
    try {
      expect(await store.ingestBatch(batch('b1', 0, 20))).toMatchObject({ kind: 'stored', accepted: 20 });
      const prepare = vi.spyOn(Database.prototype, 'prepare');
      try {
        expect(await store.ingestBatch(batch('b2', 1, 20))).toMatchObject({ kind: 'stored', accepted: 20 });
        expect(await store.ingestBatch(batch('b2', 1, 20))).toMatchObject({ kind: 'replayed', accepted: 20 });
        expect(prepare).not.toHaveBeenCalled();
      } finally {
        prepare.mockRestore();
      }
      expect(await store.countReadings()).toBe(40);
    } finally {
      await store.close();
    }
  });

  it('stores batches that arrive together in one commit, each answered after it', async () => {
    const store = new SqliteStore(path.join(dir, 'group.db'));
    try {
      const before = { ...store.ingestCommits };
      const answers = await Promise.all([0, 1, 2, 3].map((i) => store.ingestBatch(batch(`g${i}`, i, 10))));
      expect(answers.map((a) => a.kind)).toEqual(['stored', 'stored', 'stored', 'stored']);
      expect(store.ingestCommits.commits - before.commits).toBe(1);
      expect(store.ingestCommits.batches - before.batches).toBe(4);
      expect(await store.countReadings()).toBe(40);
    } finally {
      await store.close();
    }
  });

  it('stores a group of good batches without a savepoint per batch', async () => {
    // A savepoint copies every page its batch changes into a statement journal: a fifth of the
    // store's cost per reading. Only a group in which a batch fails is stored again with them.
    const store = new SqliteStore(path.join(dir, 'no-savepoint.db'));
    try {
      await store.ingestBatch(batch('warm', 0, 5));
      const transaction = vi.spyOn(Database.prototype, 'transaction');
      try {
        const answers = await Promise.all([1, 2, 3].map((i) => store.ingestBatch(batch(`s${i}`, i, 10))));
        expect(answers.map((a) => a.kind)).toEqual(['stored', 'stored', 'stored']);
        expect(transaction).toHaveBeenCalledTimes(1);
      } finally {
        transaction.mockRestore();
      }
      expect(await store.countReadings()).toBe(35);
    } finally {
      await store.close();
    }
  });

  it('rolls back only the batch that fails inside a group; the others commit', async () => {
    const store = new SqliteStore(path.join(dir, 'group-fail.db'));
    try {
      const bad = batch('bad', 1, 3);
      // unit_id is NOT NULL: this batch's insert fails after its first reading went in.
      (bad.readings[2]!.reading as { unitId: unknown }).unitId = null;
      const settled = await Promise.allSettled([
        store.ingestBatch(batch('ok1', 0, 5)),
        store.ingestBatch(bad),
        store.ingestBatch(batch('ok2', 2, 5)),
      ]);
      expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect(store.ingestCommits.commits).toBe(1);
      expect(await store.countReadings()).toBe(10);
      // Alone in its group, it is refused the same way.
      await expect(store.ingestBatch(bad)).rejects.toThrow();
      expect(await store.countReadings()).toBe(10);
      // The refused batch left nothing behind: sending it again fixed is stored, not replayed.
      expect(await store.ingestBatch(batch('bad', 1, 3))).toMatchObject({ kind: 'stored', accepted: 3 });
    } finally {
      await store.close();
    }
  });

  it("waits for another replica's lock by the clock, though signals cut SQLite's sleeps short", async () => {
    // Replicas sharing the file take turns on its write lock. SQLite's busy_timeout adds up the
    // sleeps it asks for: with a signal every millisecond each ends early, and 5 s of them gave up
    // after ~60 ms (a 500 for the gateway). The other replica holds the lock for 600 ms here.
    const file = path.join(dir, 'busy.db');
    const store = new SqliteStore(file);
    try {
      const betterSqlite3 = createRequire(import.meta.url).resolve('better-sqlite3');
      const r = await writeWhileLockHeld({ file, betterSqlite3, holdMs: 600 }, () =>
        store.ingestBatch(batch('busy', 0, 5)),
      );
      expect(r).toMatchObject({ result: { kind: 'stored', accepted: 5 }, holderExit: 0 });
      expect(r.waitedMs).toBeGreaterThan(400);
      expect(await store.countReadings()).toBe(5);
    } finally {
      await store.close();
    }
  });
});
