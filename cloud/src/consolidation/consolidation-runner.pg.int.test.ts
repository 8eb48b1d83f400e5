/**
 * consolidation-runner.int.test.ts again with the cloud on PostgreSQL (one throwaway database, a
 * schema per test's store).
 */
import { createTempPgDatabase, requirePg, type TempPgDatabase } from '@ironledger/testkit';
import { afterAll, describe, expect, it } from 'vitest';
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
  await import('./consolidation-runner.int.test.js');
}
// IRONLEDGER_TEST_PG_SKIP=1: reported as skipped, never as passed.
else
  describe.skipIf(!pgOn)('consolidation runner on postgres (IRONLEDGER_TEST_PG_SKIP=1)', () => {
    it('runs on PostgreSQL', () => expect(pgOn).toBe(true));
  });
