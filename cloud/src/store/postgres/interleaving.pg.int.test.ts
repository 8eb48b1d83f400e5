/**
 * The interleaving tests (store/interleaving.int.test.ts) again, every cloud on PostgreSQL:
 * one throwaway database, a schema per test's store, replicas of a test sharing theirs.
 */
import { onTestPostgres } from '../../testing/harness.js';

await onTestPostgres('interleaving', () => import('../interleaving.int.test.js'));
