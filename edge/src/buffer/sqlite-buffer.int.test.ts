import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type { ForwardedReading } from '@ironledger/contracts';
import { writeWhileLockHeld } from '@ironledger/testkit';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { bufferContract, fr } from './buffer.contract.js';
import type { AppendItem, AppendOutcome } from './buffer.js';
import { MIGRATIONS, migrate, SCHEMA_VERSION } from './migrations.js';
import { SqliteBuffer } from './sqlite-buffer.js';

const T = Date.parse('2026-11-24T00:00:00.000Z');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edge-buffer-'));
let n = 0;
const files = new WeakMap<object, { file: string; budget?: number }>();

bufferContract('sqlite (file, WAL, synchronous=FULL)', {
  open(opts = {}) {
    const file = path.join(dir, `b${n++}.db`);
    const b = new SqliteBuffer({ path: file, gatewayId: 'gw-test', diskBudgetBytes: opts.diskBudgetBytes });
    files.set(b, { file, budget: opts.diskBudgetBytes });
    return b;
  },
  reopen(b) {
    const f = files.get(b)!;
    b.close();
    const again = new SqliteBuffer({ path: f.file, gatewayId: 'gw-test', diskBudgetBytes: f.budget });
    files.set(again, f);
    return again;
  },
});

describe('sqlite buffer file', () => {
  it('holds its page cache to cacheKb (better-sqlite3 builds in 16 MB per connection)', () => {
    const file = path.join(dir, `cache.db`);
    const small = new SqliteBuffer({ path: file, gatewayId: 'gw-test', cacheKb: 2048 });
    const builtIn = new SqliteBuffer({ path: file, gatewayId: 'gw-test' });
    try {
      expect(small['db'].pragma('cache_size', { simple: true })).toBe(-2048);
      expect(builtIn['db'].pragma('cache_size', { simple: true })).toBe(-16000);
    } finally {
      small.close();
      builtIn.close();
    }
  });

  it('gives each item of a large mixed group its own outcome', () => {
    const b = new SqliteBuffer({ path: path.join(dir, `chunks.db`), gatewayId: 'gw-test' });
    const first = Array.from({ length: 100 }, (_, i) => fr(`U${i % 7}`, i));
    expect(b.append(first.map((reading) => ({ kind: 'reading', reading })))).toEqual(
      first.map(() => 'stored'),
    );
    const items: AppendItem[] = [];
    const expected: AppendOutcome[] = [];
    const add = (item: AppendItem, o: AppendOutcome) => {
      items.push(item);
      expected.push(o);
    };
    for (let i = 100; i < 140; i++) add({ kind: 'reading', reading: fr(`U${i % 7}`, i) }, 'stored');
    add({ kind: 'reading', reading: first[3]! }, 'duplicate');
    add({ kind: 'reading', reading: { ...first[4]!, engineHours: 9999 } }, 'conflict');
    add(
      { kind: 'quarantine', topic: 't', payload: Buffer.from('x'), reason: 'json: x', receivedAtMs: 1 },
      'quarantined',
    );
    for (let i = 140; i < 200; i++) add({ kind: 'reading', reading: fr(`U${i % 7}`, i) }, 'stored');
    add({ kind: 'reading', reading: fr(`U${150 % 7}`, 150) }, 'duplicate'); // twice in one group
    for (let i = 200; i < 240; i++) add({ kind: 'reading', reading: fr(`U${i % 7}`, i) }, 'stored');
    expect(b.append(items)).toEqual(expected);
    const s = b.stats();
    expect(s.unbatchedReadings).toBe(240 + 1); // 240 identities and one conflicting version
    expect(s.conflicts).toBe(1);
    b.close();
  });

  it('upgrades a buffer written by an older agent (schema v1) without losing its outbox', () => {
    const file = path.join(dir, 'old.db');
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    migrate(db, 1);
    expect(db.pragma('user_version', { simple: true })).toBe(1);
    const r = fr('OLD-1', 1);
    db.prepare(
      `INSERT INTO readings(unit_id, ts, content_hash, body, received_at) VALUES (?, ?, 'h', ?, ?)`,
    ).run(r.unitId, r.ts, JSON.stringify(r), Date.parse(r.receivedAt));
    db.close();

    const b = new SqliteBuffer({ path: file, gatewayId: 'gw-test' });
    expect(b.schema).toEqual({ from: 1, to: SCHEMA_VERSION });
    const batch = b.nextBatch({ maxReadings: 10, maxAgeMs: 0, nowMs: Date.now() })!;
    expect(batch.readings).toEqual([r]);
    b.close();
    const check = new Database(file, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(SCHEMA_VERSION).toBe(MIGRATIONS.length);
    check.close();
  });

  it('upgrades a v3 buffer (JSON bodies, batch ids per row) in place: every unsent reading sent as before', () => {
    const file = path.join(dir, 'v3.db');
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    migrate(db, 3);
    const insert = db.prepare(
      `INSERT INTO readings(unit_id, ts, content_hash, body, received_at, held, batch_id) VALUES (?, ?, '', ?, ?, ?, ?)`,
    );
    const batch = db.prepare(
      `INSERT INTO batches(batch_id, state, readings, oldest_received_at, created_at, attempts, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    const conflict = db.prepare(
      `INSERT INTO conflicts(unit_id, ts, content_hash, body, received_at, held, batch_id) VALUES (?, ?, 'h', ?, ?, 0, ?)`,
    );
    const add = (r: ReturnType<typeof fr>, batchId: string | null) =>
      insert.run(
        r.unitId,
        r.ts,
        JSON.stringify(r),
        Date.parse(r.receivedAt),
        r.flags?.includes('clock_invalid') ? 1 : 0,
        batchId,
      );
    // Interleaved ids: a sent batch, a pending one (retried 2×), the unbatched rest; odd shapes too.
    const sent = [fr('A', 1), fr('B', 2)];
    const pending = [
      fr('A', 3, { idleHours: 0.1 + 0.2, flags: ['clock_invalid'] }), // keys not in schema order
      fr('B', 4, { engineOn: false, position: { lat: -0, lon: 180 } }),
    ];
    const pendingConflict = fr('A', 3, { engineHours: 1e21, flags: ['clock_invalid', 'conflict'] });
    const unbatched = Array.from({ length: 5 }, (_, i) => fr(`U${i % 2}`, 10 + i));
    db.transaction(() => {
      add(sent[0]!, 'gw:sent');
      add(pending[0]!, 'gw:pending');
      add(sent[1]!, 'gw:sent');
      add(pending[1]!, 'gw:pending');
      for (const r of unbatched) add(r, null);
      conflict.run('A', pendingConflict.ts, JSON.stringify(pendingConflict), 5, 'gw:pending');
      batch.run('gw:sent', 'sent', 2, 1, 10, 1, 20);
      batch.run('gw:pending', 'pending', 3, 1, 30, 2, null);
    })();
    db.close();

    const b = new SqliteBuffer({ path: file, gatewayId: 'gw-test' });
    expect(b.schema).toEqual({ from: 3, to: SCHEMA_VERSION });
    const s = b.stats();
    expect(s).toMatchObject({
      queuedReadings: 3 + 5,
      unbatchedReadings: 5,
      pendingBatches: 1,
      heldReadings: 1,
    });
    // The pending batch keeps its id, its attempts and exactly its readings, each byte for byte
    // what v3 would have sent (grouped by unit now: a batch's order carries no meaning).
    const retry = b.nextBatch({ maxReadings: 100, maxAgeMs: 0, nowMs: T })!;
    expect(retry).toMatchObject({ batchId: 'gw:pending', attempts: 2 });
    const texts = (rs: unknown[]) => rs.map((r) => JSON.stringify(r)).sort();
    expect(texts(retry.readings)).toEqual(texts([...pending, pendingConflict]));
    b.ack('gw:pending', T);
    const rest = b.nextBatch({ maxReadings: 100, maxAgeMs: 0, nowMs: T })!;
    expect(texts(rest.readings)).toEqual(texts(unbatched));
    b.ack(rest.batchId, T);
    expect(b.nextBatch({ maxReadings: 100, maxAgeMs: 0, nowMs: T, force: true })).toBeNull();
    expect(b.pruneSent(T + 1)).toBe(2 + 3 + 5);
    // New readings after the upgrade are deduplicated against the migrated identities.
    expect(b.append([{ kind: 'reading', reading: unbatched[0]! }])).toEqual(['stored']);
    b.close();
    // Inspection tools still find readings by unit and ts.
    const check = new Database(file, { readonly: true });
    expect(check.prepare('SELECT unit_id, ts FROM readings').all()).toEqual([
      { unit_id: 'U0', ts: unbatched[0]!.ts },
    ]);
    check.close();
  });

  it('counts readings another connection stored (the CLI replaying quarantine beside the agent)', () => {
    const file = path.join(dir, 'two.db');
    const agent = new SqliteBuffer({ path: file, gatewayId: 'gw-test' });
    agent.append([{ kind: 'reading', reading: fr('U1', 1) }]);
    expect(agent.stats().unbatchedReadings).toBe(1);
    const cli = new SqliteBuffer({ path: file, gatewayId: 'gw-test' });
    cli.append([
      { kind: 'quarantine', topic: 't', payload: Buffer.from('x'), reason: 'json', receivedAtMs: 1 },
    ]);
    expect(cli.replayQuarantine(() => ({ ok: true, reading: fr('U2', 2) })).stored).toBe(1);
    cli.close();
    expect(agent.stats()).toMatchObject({ unbatchedReadings: 2, queuedReadings: 2 });
    expect(agent.nextBatch({ maxReadings: 10, maxAgeMs: 0, nowMs: T })!.readings).toEqual([
      fr('U1', 1),
      fr('U2', 2),
    ]);
    expect(agent.stats()).toMatchObject({ unbatchedReadings: 0, queuedReadings: 2 });
    agent.close();
  });

  it('keeps a buffered reading in at most 140 bytes of the file (all fields)', () => {
    const b = new SqliteBuffer({ path: path.join(dir, 'bytes.db'), gatewayId: 'gw-test' });
    const N = 20_000;
    for (let g = 0; g < N / 500; g++)
      b.append(
        Array.from({ length: 500 }, (_, k) => {
          const i = g * 500 + k;
          const seq = Math.floor(i / 500);
          const tsMs = Date.parse('2026-11-23T00:00:00.000Z') + seq * 10_000 + (i % 500);
          // As the decoders give it: every field, keys in the schema's order.
          const reading: ForwardedReading = {
            v: 1,
            unitId: `EXC-${String(i % 500).padStart(4, '0')}`,
            seq,
            ts: new Date(tsMs).toISOString(),
            engineHours: 1000 + seq / 3600,
            idleHours: 200 + seq / 14400,
            engineOn: true,
            position: { lat: 51.5 + (seq % 100) / 1e5, lon: -0.12 },
            speedKmh: 3.5,
            fuelUsedL: 8000 + seq / 100,
            odometerKm: 12_000 + seq / 7,
            receivedAt: new Date(tsMs + 180).toISOString(),
            source: 'telemetry',
          };
          return { kind: 'reading', reading } as const;
        }),
      );
    expect(b.stats().queuedReadings).toBe(N);
    expect(b.usedBytes() / N).toBeLessThanOrEqual(140);
    b.close();
  });

  it('refuses a buffer of another gateway, and one from a newer agent', () => {
    const file = path.join(dir, 'owned.db');
    new SqliteBuffer({ path: file, gatewayId: 'gw-a' }).close();
    expect(() => new SqliteBuffer({ path: file, gatewayId: 'gw-b' })).toThrow(/belongs to gateway gw-a/);
    const db = new Database(file);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => new SqliteBuffer({ path: file, gatewayId: 'gw-a' })).toThrow(/newer than this agent/);
  });

  it('opens in WAL mode with the configured synchronous level', () => {
    const file = path.join(dir, 'pragmas.db');
    const b = new SqliteBuffer({ path: file, gatewayId: 'gw', synchronous: 'FULL' });
    expect(b.schema).toEqual({ from: 0, to: SCHEMA_VERSION });
    b.close();
    const again = new SqliteBuffer({ path: file, gatewayId: 'gw' });
    expect(again.schema).toEqual({ from: SCHEMA_VERSION, to: SCHEMA_VERSION });
    again.close();
    const db = new Database(file);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('auto_vacuum', { simple: true })).toBe(2); // incremental
    db.close();
  });
});

describe('two connections to one file (ingest on one thread, forwarding on another)', () => {
  it("waits for the other connection's lock by the clock, though signals cut SQLite's sleeps short", async () => {
    // SQLite's busy_timeout adds up the sleeps it asks for: with a signal every millisecond (a
    // profiler's SIGPROF) each sleep ends early, and 5 s of them gave up after ~60 ms, refusing
    // a whole group of publishes. The other connection holds the lock for 600 ms here.
    const file = path.join(dir, 'busy.db');
    const b = new SqliteBuffer({ path: file, gatewayId: 'gw-test' });
    try {
      const betterSqlite3 = createRequire(import.meta.url).resolve('better-sqlite3');
      const r = await writeWhileLockHeld({ file, betterSqlite3, holdMs: 600 }, () =>
        b.append([{ kind: 'reading', reading: fr('U1', 1) }]),
      );
      expect(r).toMatchObject({ result: ['stored'], holderExit: 0 });
      expect(r.waitedMs).toBeGreaterThan(400);
      expect(b.stats().unbatchedReadings).toBe(1);
    } finally {
      b.close();
    }
  });

  it('counts the backlog right on the ingest side while the forwarding side batches and acknowledges', () => {
    const file = path.join(dir, 'two-connections.db');
    const ingest = new SqliteBuffer({ path: file, gatewayId: 'gw-test' });
    const forward = new SqliteBuffer({ path: file, gatewayId: 'gw-test' });
    const append = (from: number, to: number) =>
      ingest.append(
        Array.from({ length: to - from }, (_, i) => ({
          kind: 'reading',
          reading: fr(`U${i % 5}`, from + i),
        })),
      );
    append(0, 300);
    const opts = { maxReadings: 100, maxAgeMs: 0, nowMs: T + 10_000 };
    const first = forward.nextBatch(opts)!;
    forward.ack(first.batchId, T + 10_000);
    const second = forward.nextBatch(opts)!;
    expect(second.readings[0]).toEqual(fr('U0', 100));
    // 300 stored, 100 acknowledged, 100 in a pending batch, 100 not batched yet.
    expect(ingest.stats()).toMatchObject({ queuedReadings: 200, unbatchedReadings: 100, pendingBatches: 1 });
    append(300, 350);
    forward.ack(second.batchId, T + 10_000);
    // The forwarding side learns of readings the other connection committed after its last batch.
    const left = Array.from({ length: 150 }, (_, i) => fr(`U${(200 + i) % 5}`, 200 + i));
    expect(forward.nextBatch({ ...opts, maxReadings: 1000 })!.readings).toEqual(
      ['U0', 'U1', 'U2', 'U3', 'U4'].flatMap((u) => left.filter((r) => r.unitId === u)),
    );
    expect(ingest.stats()).toMatchObject({ queuedReadings: 150, unbatchedReadings: 0, pendingBatches: 1 });
    ingest.close();
    forward.close();
  });
});
