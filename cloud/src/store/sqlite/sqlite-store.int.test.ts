/**
 * The store contract on SQLite files (WAL, synchronous=FULL); a sibling is a second
 * connection to the same file, as a second cloud process on one machine would open it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ingestBatch, storeContract } from '../store.contract.js';
import type { CloudStore } from '../store.js';
import { SqliteStore } from './sqlite-store.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloud-store-'));
const files = new WeakMap<CloudStore, string>();
let n = 0;
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

storeContract('sqlite (file, WAL, synchronous=FULL)', {
  async open() {
    const file = path.join(dir, `s${n++}.db`);
    const s = new SqliteStore(file);
    files.set(s, file);
    return s;
  },
  async sibling(s) {
    const file = files.get(s)!;
    const t = new SqliteStore(file);
    files.set(t, file);
    return t;
  },
});

// The contract's two-replica cases rest on `sibling` opening the same file: if it opened a
// fresh one, every race there would pass against two separate stores.
describe('sqlite contract hooks', () => {
  it('a sibling sees what the first connection committed', async () => {
    const file = path.join(dir, 'hooks.db');
    const a = new SqliteStore(file);
    const b = new SqliteStore(file);
    const at = '2026-11-23T08:00:00.000Z';
    const r = await a.ingestBatch(
      ingestBatch('hooks-1', [{ v: 1, unitId: 'EXC-1', ts: at, engineHours: 10, receivedAt: at }]),
    );
    expect(r.kind).toBe('stored');
    expect(await b.countReadings()).toBe(1);
    await a.close();
    await b.close();
  });
});
