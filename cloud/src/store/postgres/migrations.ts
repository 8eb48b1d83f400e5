/**
 * PostgreSQL schema migrations, applied in order, recorded in `schema_migrations`; all that are
 * pending apply in one transaction (PostgreSQL's DDL is transactional: all or none). Never edit
 * a released migration; append a new one.
 *
 * Replicas that start together take turns: `migratePostgres` holds a transaction-level
 * advisory lock while it reads what is applied and applies the rest, so a migration runs once.
 *
 * Types, chosen against the driver's traps:
 * - instants and days stay ISO-8601 TEXT, as in the SQLite store and on the wire: a reading's
 *   `ts` is part of its identity and must come back byte for byte (timestamptz would come back
 *   as a Date, and lose sub-millisecond digits a unit may send); `ts_ms` BIGINT orders them.
 * - BIGINT comes back from `pg` as a string; the store's pool parses int8 to a JS number (every
 *   BIGINT here is an id, a count or ms since epoch, all below 2^53).
 * - hours are DOUBLE PRECISION (SQLite's REAL), never NUMERIC (which `pg` returns as a string).
 * - a reading's canonical `content` is TEXT and compared as text; JSONB would reorder its keys.
 *   Bodies that are only read back (reading body, evidence, heartbeat, master data) are JSONB.
 */
import { IronLedgerError } from '@ironledger/errors';
import type pg from 'pg';

export interface PgMigration {
  version: number;
  name: string;
  sql: string;
  /**
   * Set when replicas of a build before this migration cannot run beside one after it: why.
   * Such a migration is refused while the database has connections from an older build.
   */
  olderReplicasStopped?: string;
}

export const PG_MIGRATIONS: PgMigration[] = [
  {
    version: 1,
    name: 'initial schema (as SQLite after its migration 2)',
    sql: `
  CREATE TABLE batches (
    batch_id TEXT PRIMARY KEY,
    gateway_id TEXT NOT NULL,
    readings INTEGER NOT NULL,
    accepted INTEGER NOT NULL,
    duplicates INTEGER NOT NULL,
    conflicts INTEGER NOT NULL,
    held INTEGER NOT NULL,
    stored_at TEXT NOT NULL
  );
  CREATE TABLE readings (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    unit_id TEXT NOT NULL,
    ts TEXT NOT NULL,
    ts_ms BIGINT NOT NULL,
    content TEXT NOT NULL,
    body JSONB NOT NULL,
    engine_hours DOUBLE PRECISION NOT NULL,
    idle_hours DOUBLE PRECISION,
    odometer_km DOUBLE PRECISION,
    lat DOUBLE PRECISION,
    lon DOUBLE PRECISION,
    site_id TEXT,
    gateway_id TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    received_at TEXT NOT NULL,
    stored_at TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok','held','conflict','superseded')),
    hold_reason TEXT,
    reported_ts TEXT,
    reported_ts_ms BIGINT,
    conflict_id BIGINT,
    content_hash TEXT GENERATED ALWAYS AS (md5(content)) STORED
  );
  -- The same identity with the same content is one reading, whichever replica stores it.
  CREATE UNIQUE INDEX readings_identity_content ON readings (unit_id, ts_ms, content_hash);
  CREATE INDEX readings_identity ON readings (unit_id, ts_ms);
  CREATE INDEX readings_reported ON readings (unit_id, reported_ts_ms) WHERE reported_ts_ms IS NOT NULL;
  CREATE INDEX readings_batch ON readings (batch_id);
  CREATE INDEX readings_status ON readings (status) WHERE status <> 'ok';
  CREATE TABLE conflicts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    unit_id TEXT NOT NULL,
    ts TEXT NOT NULL,
    ts_ms BIGINT NOT NULL,
    opened_at TEXT NOT NULL,
    resolved_at TEXT,
    resolved_by TEXT,
    keep TEXT,
    kept_reading_id BIGINT,
    reason TEXT
  );
  CREATE INDEX conflicts_identity ON conflicts (unit_id, ts_ms);
  CREATE TABLE conflict_versions (
    conflict_id BIGINT NOT NULL,
    reading_id BIGINT NOT NULL,
    PRIMARY KEY (conflict_id, reading_id)
  );
  CREATE TABLE gateways (
    gateway_id TEXT PRIMARY KEY,
    heartbeat JSONB,
    last_heartbeat_at TEXT,
    last_batch_at TEXT
  );
  CREATE TABLE sites (site_id TEXT PRIMARY KEY, body JSONB NOT NULL, source TEXT NOT NULL DEFAULT 'config');
  CREATE TABLE projects (project_id TEXT PRIMARY KEY, body JSONB NOT NULL, source TEXT NOT NULL DEFAULT 'config');
  CREATE TABLE units (unit_id TEXT PRIMARY KEY, body JSONB NOT NULL, source TEXT NOT NULL DEFAULT 'config');
  CREATE TABLE rates (rate_id TEXT PRIMARY KEY, body JSONB NOT NULL, source TEXT NOT NULL DEFAULT 'config');
  CREATE TABLE dirty_units (
    unit_id TEXT PRIMARY KEY,
    since_ms BIGINT NOT NULL,
    marked_at TEXT NOT NULL,
    generation BIGINT NOT NULL
  );
  CREATE TABLE usage (
    unit_id TEXT NOT NULL,
    day TEXT NOT NULL,
    project_id TEXT NOT NULL,
    site_id TEXT NOT NULL,
    engine_hours DOUBLE PRECISION NOT NULL,
    idle_hours DOUBLE PRECISION NOT NULL,
    working_hours DOUBLE PRECISION NOT NULL,
    distance_km DOUBLE PRECISION,
    readings INTEGER NOT NULL,
    anomalies JSONB NOT NULL,
    meter_from DOUBLE PRECISION,
    meter_to DOUBLE PRECISION,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (unit_id, day, project_id)
  );
  CREATE TABLE anomalies (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    unit_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    ts TEXT NOT NULL,
    detail TEXT NOT NULL,
    before DOUBLE PRECISION,
    after DOUBLE PRECISION
  );
  CREATE INDEX anomalies_unit ON anomalies (unit_id, ts);
  CREATE TABLE allocations (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('normal','adjustment')),
    adjusts TEXT,
    seq INTEGER NOT NULL,
    unit_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    site_id TEXT NOT NULL,
    day TEXT NOT NULL,
    engine_hours DOUBLE PRECISION NOT NULL,
    idle_hours DOUBLE PRECISION NOT NULL,
    working_hours DOUBLE PRECISION NOT NULL,
    rate_id TEXT,
    working_rate_minor BIGINT NOT NULL,
    idle_rate_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    status TEXT NOT NULL,
    hold_reason TEXT,
    evidence JSONB NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    approved_by TEXT,
    approved_at TEXT,
    rejected_by TEXT,
    rejected_at TEXT,
    reject_reason TEXT,
    posted_at TEXT,
    odoo_model TEXT,
    odoo_id BIGINT,
    odoo_date TEXT
  );
  CREATE INDEX allocations_group ON allocations (unit_id, project_id, day, seq);
  CREATE INDEX allocations_status ON allocations (status, day);
  CREATE TABLE dead_letters (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    allocation_id TEXT NOT NULL,
    key TEXT NOT NULL,
    code TEXT NOT NULL,
    message TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    last_attempt_at TEXT NOT NULL,
    resolved_at TEXT
  );
  -- At most one open dead letter per allocation, whichever replica records it.
  CREATE UNIQUE INDEX dead_letters_open ON dead_letters (allocation_id) WHERE resolved_at IS NULL;
  CREATE TABLE period_locks (period TEXT PRIMARY KEY, locked_by TEXT NOT NULL, locked_at TEXT NOT NULL);
  CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
  );
  CREATE TABLE audit (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT
  );
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  `,
  },
  {
    version: 2,
    name: 'allocation versions, claims with leases, job ticks (as SQLite migration 3)',
    sql: `
  ALTER TABLE allocations ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
  -- Who works on shared work (consolidate:<unitId>, post:<allocationId>) until expires_ms.
  CREATE TABLE claims (
    resource TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_ms BIGINT NOT NULL
  );
  -- Which replica ran each scheduled tick: the primary key lets exactly one insert win.
  CREATE TABLE job_ticks (
    job TEXT NOT NULL,
    tick TEXT NOT NULL,
    owner TEXT NOT NULL,
    claimed_at TEXT NOT NULL,
    PRIMARY KEY (job, tick)
  );
  CREATE INDEX job_ticks_age ON job_ticks (job, claimed_at);
  `,
  },
  {
    version: 3,
    name: 'master data read from Odoo (as SQLite migration 4)',
    sql: `
  -- One row per Odoo record of maintenance.equipment and project.project, archived ones
  -- included; the sync cursor per model (Odoo's write_date) lives in meta as odoo.sync.<model>.
  CREATE TABLE odoo_records (
    model TEXT NOT NULL,
    odoo_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    serial_no TEXT,
    account_id BIGINT,
    active BOOLEAN NOT NULL,
    write_date TEXT NOT NULL,
    synced_at TEXT NOT NULL,
    PRIMARY KEY (model, odoo_id)
  );
  CREATE INDEX odoo_records_serial ON odoo_records (model, serial_no);
  `,
  },
  {
    version: 4,
    name: 'a lock row per unit; one live version per identity',
    olderReplicasStopped:
      'replicas before schema 4 lock a unit with an advisory lock, later ones with its row in unit_locks, and the two do not exclude each other',
    sql: `
  -- A transaction that stores or decides a unit's readings locks the unit's row here (FOR SHARE
  -- to add readings without a conflict, FOR UPDATE to decide one). A row lock is kept in the
  -- row itself, so a batch of thousands of units takes no room in the server's shared lock
  -- table, which an advisory lock per unit would exhaust.
  CREATE TABLE unit_locks (unit_id TEXT PRIMARY KEY);
  -- At most one live (ok or held) reading per identity; two versions are both 'conflict'. Two
  -- batches adding the same new identity under shared unit locks meet here: the second waits
  -- for the first and finds its row.
  CREATE UNIQUE INDEX readings_live_identity ON readings (unit_id, ts_ms) WHERE status IN ('ok', 'held');
  -- Its lookups by (unit, ts) are served by readings_identity_content's leading columns, and
  -- those of live readings by the index above: one index less to write per reading.
  DROP INDEX readings_identity;
  `,
  },
];

/** Any constant: the advisory lock every migrating process takes (one at a time per database). */
const MIGRATION_LOCK = 0x1d6e_0001;

export interface MigrationReport {
  from: number;
  to: number;
  applied: Array<{ version: number; name: string }>;
}

/** The highest migration this binary knows. */
export const PG_SCHEMA_VERSION = PG_MIGRATIONS.at(-1)?.version ?? 0;

/**
 * The `application_name` of this build's connections: the schema it runs on, so that a
 * migration older replicas cannot run beside can see them. Builds before schema 4 connect as
 * plain `ironledger-cloud`.
 */
export const PG_APPLICATION_NAME = `ironledger-cloud s${PG_SCHEMA_VERSION}`;

/**
 * Connections to this database from cloud builds older than `version`, other than our own:
 * `ironledger-cloud` (before schema 4) or `ironledger-cloud s<n>` with n below it. A replica
 * whose pool holds no connection at this moment is not seen.
 */
async function olderCloudConnections(
  client: pg.ClientBase,
  version: number,
): Promise<Array<{ pid: number; application_name: string; client_addr: string | null }>> {
  const r = await client.query(
    `SELECT pid, application_name, host(client_addr) AS client_addr FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid()
        AND (application_name = 'ironledger-cloud'
             OR (application_name ~ '^ironledger-cloud s[0-9]{1,9}$'
                 AND substring(application_name FROM 19)::int < $1))
      ORDER BY pid`,
    [version],
  );
  return r.rows;
}

export interface MigrateOptions {
  /** Stop after this version (tests that need a database as an older build left it). */
  upTo?: number;
}

/** Applies what is missing, one transaction per migration, under an advisory lock. */
export async function migratePostgres(
  client: pg.ClientBase,
  opts: MigrateOptions = {},
): Promise<MigrationReport> {
  const applied: MigrationReport['applied'] = [];
  let from = 0;
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY,
      name TEXT NOT NULL,
      applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )`);
    from = await currentVersion(client);
    for (const m of PG_MIGRATIONS) {
      if (m.version <= from) continue;
      if (opts.upTo !== undefined && m.version > opts.upTo) break;
      if (m.olderReplicasStopped) {
        const older = await olderCloudConnections(client, m.version);
        if (older.length > 0) {
          const from_ = [...new Set(older.map((o) => o.client_addr ?? 'local socket'))].join(', ');
          throw new IronLedgerError(
            'CONFIG_INVALID',
            `migration ${m.version} (${m.name}) needs every cloud replica of an older build stopped first: ${m.olderReplicasStopped}. ` +
              `${older.length} connection(s) from such replicas are open (from ${from_}; pids ${older.map((o) => o.pid).join(', ')} in pg_stat_activity). ` +
              'Stop them, run `ironledger-cloud migrate` again, then start the new build',
          );
        }
      }
      await client.query(`SAVEPOINT m${m.version}`);
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [
        m.version,
        m.name,
      ]);
      await client.query(`RELEASE SAVEPOINT m${m.version}`);
      applied.push({ version: m.version, name: m.name });
    }
    await client.query('COMMIT');
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    throw e;
  }
  return { from, to: applied.at(-1)?.version ?? from, applied };
}

/** The applied schema version (0 for an empty database). */
export async function currentVersion(client: pg.ClientBase): Promise<number> {
  const exists = await client.query("SELECT to_regclass('schema_migrations') IS NOT NULL AS ok");
  if (!exists.rows[0].ok) return 0;
  const r = await client.query('SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations');
  return Number(r.rows[0].v);
}
