/**
 * consolidation-runner.int.test.ts again with the cloud on PostgreSQL (one throwaway database, a
 * schema per test's store).
 */
import { expect, it } from 'vitest';
import { onTestPostgres } from '../testing/harness.js';

const clouds = await onTestPostgres(
  'consolidation runner',
  () => import('./consolidation-runner.int.test.js'),
);

// What makes this file a twin: every cloud those tests started ran on PostgreSQL.
it.runIf(clouds)('started every cloud of these tests on PostgreSQL, none on a file', () => {
  expect(clouds?.().postgres).toBeGreaterThan(0);
  expect(clouds?.().sqlite).toBe(0);
});
