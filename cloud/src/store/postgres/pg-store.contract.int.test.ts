/**
 * The store contract on a real PostgreSQL server. One throwaway database for the file, and
 * every `open()` an empty schema in it (cheaper than a database each); a sibling is another
 * PostgresStore (its own pool) on the same schema, as a second cloud replica would open it.
 * Leases run on the caller's clock here, so the suite can move time by hand; the server's
 * clock (the default) is tested in pg-lease-clock.int.test.ts.
 * Fails, rather than skips, when the server is absent (see packages/testkit/src/pg.ts).
 */
import { createPgSchema, createTempPgDatabase, requirePg, type TempPgDatabase } from '@ironledger/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeContract } from '../store.contract.js';
import type { CloudStore } from '../store.js';
import { PostgresStore } from './pg-store.js';

const pgOn = await requirePg();
let db: TempPgDatabase | undefined;
let n = 0;
const urls = new WeakMap<CloudStore, string>();
beforeAll(async () => {
  if (pgOn) db = await createTempPgDatabase();
});
afterAll(async () => {
  await db?.drop();
});

if (pgOn)
  storeContract('postgres (a pool per replica on one database)', {
    async open() {
      const url = await createPgSchema(db!.url, `store_${n++}`);
      const s = await PostgresStore.open({ url, poolMax: 4, leaseClock: 'caller' });
      urls.set(s, url);
      return s;
    },
    async sibling(s) {
      const url = urls.get(s)!;
      const t = await PostgresStore.open({ url, poolMax: 4, leaseClock: 'caller' });
      urls.set(t, url);
      return t;
    },
  });
// IRONLEDGER_TEST_PG_SKIP=1: reported as skipped, never as passed.
else
  describe.skipIf(!pgOn)('postgres store contract (IRONLEDGER_TEST_PG_SKIP=1)', () => {
    it('runs on PostgreSQL', () => expect(pgOn).toBe(true));
  });
