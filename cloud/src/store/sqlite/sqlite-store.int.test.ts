/**
 * The store contract on SQLite files (WAL, synchronous=FULL); a sibling is a second
 * connection to the same file, as a second cloud process on one machine would open it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { storeContract } from '../store.contract.js';
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
