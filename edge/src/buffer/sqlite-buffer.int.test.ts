import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { bufferContract, fr } from './buffer.contract.js';
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
    b.close();
    const db = new Database(file);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('auto_vacuum', { simple: true })).toBe(2); // incremental
    db.close();
  });
});
