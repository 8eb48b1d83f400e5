/**
 * Throwaway PostgreSQL databases for tests. The server comes from IRONLEDGER_TEST_PG_URL
 * (default postgres://root:root@127.0.0.1:5432/postgres, the local development server; `.ci/run`
 * starts one and exports the variable). Each call creates a database with a random name and
 * drops it on `drop()`, so tests never share state and run in parallel.
 *
 * A PG-backed test must not pass silently when the server is absent: `pgAvailable()` says
 * whether one answers, and `requirePg()` throws unless IRONLEDGER_TEST_PG_SKIP=1 was set on
 * purpose (a developer machine without PostgreSQL), so CI fails loudly instead of skipping.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const DEFAULT_TEST_PG_URL = 'postgres://root:root@127.0.0.1:5432/postgres';

/** The admin connection URL tests create databases through. */
export function testPgUrl(env: NodeJS.ProcessEnv = process.env): string {
  return env.IRONLEDGER_TEST_PG_URL || DEFAULT_TEST_PG_URL;
}

/** The same server and credentials, another database. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

/**
 * The same database with `schema` first on the search path: a store opened on it keeps its
 * tables there. Creating a schema is much cheaper than creating a database, so suites that
 * need many empty stores use one database and a schema per store.
 */
export function withSearchPath(url: string, schema: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`not a safe schema name: ${schema}`);
  const u = new URL(url);
  u.searchParams.set('options', `-c search_path=${schema}`);
  return u.toString();
}

/** Creates `schema` in the database at `url` (see withSearchPath). */
export async function createPgSchema(url: string, schema: string): Promise<string> {
  const scoped = withSearchPath(url, schema);
  await adminQuery(url, `CREATE SCHEMA ${schema}`);
  return scoped;
}

/** Whether the server answers a query within `timeoutMs` (never throws). */
export async function pgAvailable(url = testPgUrl(), timeoutMs = 3_000): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * True when PG tests should run. Throws when the server is absent unless the skip was asked
 * for explicitly (IRONLEDGER_TEST_PG_SKIP=1): an absent server is a broken setup, not a pass.
 */
export async function requirePg(env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  if (await pgAvailable(testPgUrl(env))) return true;
  if (env.IRONLEDGER_TEST_PG_SKIP === '1') return false;
  throw new Error(
    `PostgreSQL is not reachable at ${redactUrl(testPgUrl(env))}: start it (see .ci/run), set IRONLEDGER_TEST_PG_URL, or set IRONLEDGER_TEST_PG_SKIP=1 to skip PostgreSQL tests on purpose`,
  );
}

export interface TempPgDatabase {
  /** Connection URL of the new database. */
  url: string;
  name: string;
  /** Drops the database, ending any connection still open to it. Idempotent. */
  drop(): Promise<void>;
}

/** Creates an empty database with a random name on the test server. */
export async function createTempPgDatabase(
  opts: { adminUrl?: string; prefix?: string } = {},
): Promise<TempPgDatabase> {
  const adminUrl = opts.adminUrl ?? testPgUrl();
  const name = `${opts.prefix ?? 'ironledger_test'}_${randomBytes(6).toString('hex')}`;
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`not a safe database name: ${name}`);
  await adminQuery(adminUrl, `CREATE DATABASE ${name}`);
  let dropped = false;
  return {
    url: withDatabase(adminUrl, name),
    name,
    async drop() {
      if (dropped) return;
      dropped = true;
      // WITH (FORCE) (PostgreSQL 13+) ends sessions a killed child process left behind.
      await adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

async function adminQuery(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparseable url>';
  }
}
