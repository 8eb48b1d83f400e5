import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { OdooSyncResponse } from '@ironledger/contracts';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { odooSyncTick } from './odoo-sync-job.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloud-sync-job-'));
const stores: SqliteStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('scheduled Odoo sync across replicas', () => {
  it('a tick fired on three replicas syncs once; consolidation ticks are claimed apart', async () => {
    const file = path.join(dir, 'ticks.db');
    const replicas = ['a', 'b', 'c'].map((owner) => {
      const store = new SqliteStore(file);
      stores.push(store);
      return { owner, store };
    });
    const actors: string[] = [];
    const sync = async (actor: string) => {
      actors.push(actor);
      return {} as OdooSyncResponse;
    };
    const tick = Date.parse('2026-11-24T12:07:00.000Z');
    // The consolidation job claimed this second already: the sync is another job.
    expect(
      await replicas[0]!.store.claimJobTick(
        'consolidation',
        new Date(tick).toISOString(),
        'a',
        new Date(tick).toISOString(),
      ),
    ).toBe(true);
    const first = await Promise.all(
      replicas.map((r, i) => odooSyncTick(sync, { ...r, now: () => tick + i * 7 })),
    );
    expect(first.sort()).toEqual(['claimed_elsewhere', 'claimed_elsewhere', 'ran']);
    expect(actors).toEqual(['odoo-sync-job']);
    const next = await Promise.all(
      replicas.map((r) => odooSyncTick(sync, { ...r, now: () => tick + 3_600_000 })),
    );
    expect(next.filter((x) => x === 'ran')).toHaveLength(1);
    expect(actors).toHaveLength(2);
  });
});
