/**
 * Opens the store the config names: PostgreSQL when `store.url` is set (any number of
 * replicas), else one SQLite file. Pending migrations are applied first unless
 * `store.migrateOnStart` is false, in which case a store behind this binary is refused.
 */
import { IronLedgerError } from '@ironledger/errors';
import type { Logger } from '@ironledger/logger';
import type { StoreConfig } from '../config.js';
import { storeSchemaVersion } from './migrate.js';
import { PostgresStore } from './postgres/pg-store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { CloudStore } from './store.js';

export interface OpenStoreOptions {
  /** An idle PostgreSQL connection failed (the pool replaces it); for logging. */
  onIdleError?: (e: Error) => void;
}

export async function openStore(config: StoreConfig, opts: OpenStoreOptions = {}): Promise<CloudStore> {
  if (config.url)
    return PostgresStore.open({
      url: config.url,
      poolMax: config.poolMax,
      statementTimeoutMs: config.statementTimeoutMs,
      migrate: config.migrateOnStart,
      ...(opts.onIdleError ? { onIdleError: opts.onIdleError } : {}),
    });
  if (!config.migrateOnStart) {
    const v = await storeSchemaVersion(config);
    if (v.version < v.latest)
      throw new IronLedgerError(
        'CONFIG_INVALID',
        `the store's schema is at version ${v.version}, this cloud needs ${v.latest}: run \`ironledger-cloud migrate\``,
      );
  }
  return new SqliteStore(config.path, { ingestThread: config.ingestThread });
}

/**
 * Keeps a process's master-data view current with changes made through other replicas (the
 * PostgreSQL store notifies; a SQLite store has one process, which reloads itself). Reloads
 * run one at a time; a change during a reload triggers one more. Returns the stop function.
 */
export async function followMasterData(
  store: CloudStore,
  master: { reload(): Promise<void> },
  logger: Logger,
): Promise<() => Promise<void>> {
  if (!(store instanceof PostgresStore)) return async () => {};
  let running: Promise<void> | null = null;
  let again = false;
  const reload = (): void => {
    if (running) {
      again = true;
      return;
    }
    running = (async () => {
      do {
        again = false;
        try {
          await master.reload();
          logger.debug({ event: 'master_data_reloaded' }, 'master data reloaded after a change elsewhere');
        } catch (e) {
          logger.warn({ event: 'master_data_reload_failed', err: e }, 'master data reload failed');
        }
      } while (again);
      running = null;
    })();
  };
  const stop = await store.watchMasterData(reload, (e) =>
    logger.warn({ event: 'master_data_listen_lost', err: e }, 'master-data notifications lost; reconnecting'),
  );
  return async () => {
    await stop();
    await running;
  };
}
