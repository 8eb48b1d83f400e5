import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { bufferContract, fr } from './buffer.contract.js';
import type { AppendItem, AppendOutcome } from './buffer.js';
import { MIGRATIONS, migrate, SCHEMA_VERSION } from './migrations.js';
import { SqliteBuffer } from './sqlite-buffer.js';

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
