/**
 * Two master-data syncs at once (two replicas, or the scheduled job and `ironledger sync`) on
 * one store: the one whose write comes second read from a cursor that has moved on, so its
 * write is refused as stale and it reads again from the new cursor. Nothing read by the older
 * read overwrites the newer one, and what each reports as added is what it wrote.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OdooClient } from '@ironledger/odoo';
import { type OdooDouble, startOdooDouble } from '@ironledger/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { storeMirror } from '../http/routes/odoo-sync.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { type OdooMirror, syncFromOdoo } from './odoo-sync.js';

let odoo: OdooDouble;
let dir: string;
let store: SqliteStore;
let client: OdooClient;
/** Odoo's clock for write_date (whole seconds, UTC), moved by the test. */
let clock = '2026-11-30 10:00:00';
const now = () => Date.parse('2026-11-30T10:00:00Z');
const master = {
  units: [{ unitId: 'EXC-1', equipmentClass: 'excavator', serialNo: 'SN-1' }],
  projects: [],
};

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'il-sync-'));
  odoo = await startOdooDouble({ now: () => clock });
  odoo.world.create('maintenance.equipment', { name: 'CAT 320', serial_no: 'SN-1' });
  store = new SqliteStore(join(dir, 'cloud.db'));
  client = new OdooClient({ url: odoo.url, db: odoo.db, login: odoo.login, apiKey: odoo.apiKey, retries: 0 });
  await client.connect();
});
afterEach(async () => {
  await client.close();
  await store.close();
  await odoo.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('syncs that overlap', () => {
  it('the overtaken one reads again from the new cursor and overwrites nothing newer', async () => {
    const ours = storeMirror(store, now, 'replica-a');
    let applies = 0;
    // Replica A has read; before it writes, replica B syncs after a rename in Odoo.
    const overtaken: OdooMirror = {
      ...ours,
      apply: async (model, records, since, cursor) => {
        if (model === 'maintenance.equipment' && applies++ === 0) {
          clock = '2026-11-30 10:05:00';
          const [e] = odoo.records('maintenance.equipment');
          odoo.world.write('maintenance.equipment', [e!.id as number], { name: 'CAT 320 (rebuilt)' });
          const b = await syncFromOdoo(client, storeMirror(store, now, 'replica-b'), master);
          expect(b.equipment.added.map((r) => r.name)).toEqual(['CAT 320 (rebuilt)']);
        }
        return ours.apply(model, records, since, cursor);
      },
    };
    const a = await syncFromOdoo(client, overtaken, master);
    expect(applies).toBe(2); // stale once, then applied from B's cursor
    expect(a.equipment).toMatchObject({ since: '2026-11-30 10:05:00', added: [], changed: [] });
    expect(a.unmatched.units).toEqual([]);
    expect((await store.listOdooRecords('maintenance.equipment')).map((r) => r.name)).toEqual([
      'CAT 320 (rebuilt)',
    ]);
    expect(await store.getMeta('odoo.sync.maintenance.equipment')).toBe('2026-11-30 10:05:00');
    // Only B wrote equipment; A's second read found it as B left it.
    const audit = await store.listAudit({ action: 'odoo.sync' });
    expect(
      audit.filter((e) => e.target === 'maintenance.equipment').map((e) => [e.actor, JSON.parse(e.detail!)]),
    ).toEqual([['replica-b', { added: [1], changed: [] }]]);
  });
});
