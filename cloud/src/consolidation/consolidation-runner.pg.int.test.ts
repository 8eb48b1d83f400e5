/**
 * consolidation-runner.int.test.ts again with the cloud on PostgreSQL (one throwaway database, a
 * schema per test's store).
 */
import { onTestPostgres } from '../testing/harness.js';

await onTestPostgres('consolidation runner', () => import('./consolidation-runner.int.test.js'));
