/**
 * hold-cleared.int.test.ts again with the cloud on PostgreSQL (one throwaway database, a
 * schema per test's store).
 */
import { createTempPgDatabase, requirePg, type TempPgDatabase } from '@ironledger/testkit';
import { afterAll, describe, it } from 'vitest';
import { useTestPostgres } from '../testing/harness.js';

const pgOn = await requirePg();
let db: TempPgDatabase | undefined;
if (pgOn) {
  db = await createTempPgDatabase();
  useTestPostgres(db.url);
  afterAll(async () => {
    useTestPostgres(null);
    await db?.drop();
  });
  await import('./hold-cleared.int.test.js');
} else
  describe.skip('hold notes on postgres (IRONLEDGER_TEST_PG_SKIP=1)', () =>
    it('skipped on purpose', () => {}));
