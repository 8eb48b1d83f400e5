/**
 * `ironledger-cloud migrate`: brings the configured store's schema up to this binary's, for
 * either backend, and says what it did. The cloud also migrates at start-up
 * (`store.migrateOnStart`); replicas doing so together take turns on an advisory lock.
 */
import fs from 'node:fs';
import path from 'node:path';
import { IronLedgerError } from '@ironledger/errors';
import Database from 'better-sqlite3';
import type { StoreConfig } from '../config.js';
import { currentVersion, migratePostgres, PG_SCHEMA_VERSION } from './postgres/migrations.js';
import { createPgClient } from './postgres/pool.js';
import { MIGRATIONS as SQLITE_MIGRATIONS } from './sqlite/migrations.js';

export type StoreBackend = 'sqlite' | 'postgres';

export interface StoreMigrationReport {
  backend: StoreBackend;
  /** Where, without secrets: the SQLite path or the PostgreSQL URL with its password hidden. */
  location: string;
  from: number;
  to: number;
  /** The version this binary expects. */
  latest: number;
}

export function storeBackend(store: StoreConfig): StoreBackend {
  return store.url ? 'postgres' : 'sqlite';
}

export function storeLocation(store: StoreConfig): string {
  return store.url ? redactPgUrl(store.url) : store.path;
}

export async function migrateStore(store: StoreConfig): Promise<StoreMigrationReport> {
  if (store.url) {
    const client = createPgClient(store.url);
    try {
      await client.connect();
      const r = await migratePostgres(client);
      return {
        backend: 'postgres',
        location: storeLocation(store),
        from: r.from,
        to: r.to,
        latest: PG_SCHEMA_VERSION,
      };
    } catch (e) {
      throw storeFailed(store, e);
    } finally {
      await client.end().catch(() => {});
    }
  }
  try {
    if (store.path !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(store.path)), { recursive: true });
    const db = new Database(store.path);
    try {
      const from = db.pragma('user_version', { simple: true }) as number;
      for (let v = from; v < SQLITE_MIGRATIONS.length; v++)
        db.transaction(() => {
          db.exec(SQLITE_MIGRATIONS[v]!);
          db.pragma(`user_version = ${v + 1}`);
        }).immediate();
      const to = db.pragma('user_version', { simple: true }) as number;
      return { backend: 'sqlite', location: store.path, from, to, latest: SQLITE_MIGRATIONS.length };
    } finally {
      db.close();
    }
  } catch (e) {
    throw storeFailed(store, e);
  }
}

/** The schema version the store is at now, without changing it. */
export async function storeSchemaVersion(store: StoreConfig): Promise<{ version: number; latest: number }> {
  if (store.url) {
    const client = createPgClient(store.url);
    try {
      await client.connect();
      return { version: await currentVersion(client), latest: PG_SCHEMA_VERSION };
    } catch (e) {
      throw storeFailed(store, e);
    } finally {
      await client.end().catch(() => {});
    }
  }
  if (!fs.existsSync(store.path)) return { version: 0, latest: SQLITE_MIGRATIONS.length };
  const db = new Database(store.path, { readonly: true });
  try {
    return {
      version: db.pragma('user_version', { simple: true }) as number,
      latest: SQLITE_MIGRATIONS.length,
    };
  } finally {
    db.close();
  }
}

function storeFailed(store: StoreConfig, e: unknown): IronLedgerError {
  return new IronLedgerError('STORE_FAILED', `store ${storeLocation(store)}: ${(e as Error).message}`, {
    cause: e,
    retryable: false,
  });
}

/** The URL with its password replaced, for logs and messages. */
export function redactPgUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://<unparseable>';
  }
}
