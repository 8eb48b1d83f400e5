/**
 * The connection pool every PostgreSQL store operation goes through. int8 (BIGINT, COUNT(*))
 * is parsed to a JS number for this pool only (the driver's default is a string, to be safe
 * past 2^53; every BIGINT in this schema is an id, a count or ms since epoch, far below it).
 * NUMERIC is not used by the schema. An idle connection's error (the server restarted) is
 * logged, never thrown: the pool replaces the connection on the next query.
 */
import pg from 'pg';
import { PG_APPLICATION_NAME } from './migrations.js';

const INT8_OID = 20;

export interface PgPoolOptions {
  url: string;
  poolMax: number;
  statementTimeoutMs: number;
  applicationName?: string;
  onIdleError?: (e: Error) => void;
}

const types = {
  getTypeParser: ((oid: number, format?: string) => {
    if (oid === INT8_OID && format !== 'binary') return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format as 'text');
  }) as typeof pg.types.getTypeParser,
};

export function createPgPool(opts: PgPoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.poolMax,
    types,
    application_name: opts.applicationName ?? PG_APPLICATION_NAME,
    connectionTimeoutMillis: 10 * 1000, // 10 s to get a connection before an operation fails
    idleTimeoutMillis: 30 * 1000, // 30 s
    ...(opts.statementTimeoutMs > 0 ? { statement_timeout: opts.statementTimeoutMs } : {}),
  });
  pool.on('error', (e) => opts.onIdleError?.(e));
  return pool;
}

/** One client outside any pool (migrations, tools), with the same type parsing. */
export function createPgClient(url: string): pg.Client {
  return new pg.Client({ connectionString: url, types, application_name: PG_APPLICATION_NAME });
}
