/**
 * Schema migrations, applied in order by PRAGMA user_version (one transaction each).
 * Never edit a released migration; append a new one.
 *
 * readings: every stored version of a reading. Identity is (unit_id, ts); a second row with the
 * same identity exists only for a conflicting version (status 'conflict' on all of them).
 * status 'held' = stored but excluded from usage (hold_reason says why).
 *
 * Migration 2: resolving what Contract 1 holds back. A held reading released by a person is
 * 'ok' with `reported_ts` set (the unit's own ts, which differs from `ts` when it was rebased);
 * a conflict is a row of `conflicts`, its versions listed in `conflict_versions` (a reading's
 * `conflict_id` is the conflict it is in now), and resolving it leaves the kept version
 * usable and the others 'superseded' (stored as evidence, never used). Master data rows get
 * `source`: 'config' rows follow the config file at start, 'api' rows were changed through the
 * admin API and the config no longer overwrites them.
 *
 * Migration 3: concurrency made explicit. `allocations.version` is bumped by every change, and
 * every change that depends on what was read is a compare-and-set on it (existing rows start
 * at 1). `claims` holds who works on shared work (resource `consolidate:<unitId>` or
 * `post:<allocationId>`) until `expires_ms` (ms since epoch), so one replica at a time does it
 * and a dead replica's lease runs out. `job_ticks` records which replica ran each scheduled tick.
 */
export const MIGRATIONS: string[] = [
  `
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
    id INTEGER PRIMARY KEY,
    unit_id TEXT NOT NULL,
    ts TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    content TEXT NOT NULL,
    body TEXT NOT NULL,
    engine_hours REAL NOT NULL,
    idle_hours REAL,
    odometer_km REAL,
    lat REAL,
    lon REAL,
    site_id TEXT,
    gateway_id TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    received_at TEXT NOT NULL,
    stored_at TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok','held','conflict')),
    hold_reason TEXT
  );
  CREATE INDEX readings_identity ON readings (unit_id, ts_ms);
  CREATE INDEX readings_batch ON readings (batch_id);
  CREATE TABLE gateways (
    gateway_id TEXT PRIMARY KEY,
    heartbeat TEXT,
    last_heartbeat_at TEXT,
    last_batch_at TEXT
  );
  CREATE TABLE sites (site_id TEXT PRIMARY KEY, body TEXT NOT NULL);
  CREATE TABLE projects (project_id TEXT PRIMARY KEY, body TEXT NOT NULL);
  CREATE TABLE units (unit_id TEXT PRIMARY KEY, body TEXT NOT NULL);
  CREATE TABLE rates (rate_id TEXT PRIMARY KEY, body TEXT NOT NULL);
  CREATE TABLE dirty_units (
    unit_id TEXT PRIMARY KEY,
    since_ms INTEGER NOT NULL,
    marked_at TEXT NOT NULL,
    generation INTEGER NOT NULL
  );
  CREATE TABLE usage (
    unit_id TEXT NOT NULL,
    day TEXT NOT NULL,
    project_id TEXT NOT NULL,
    site_id TEXT NOT NULL,
    engine_hours REAL NOT NULL,
    idle_hours REAL NOT NULL,
    working_hours REAL NOT NULL,
    distance_km REAL,
    readings INTEGER NOT NULL,
    anomalies TEXT NOT NULL,
    meter_from REAL,
    meter_to REAL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (unit_id, day, project_id)
  );
  CREATE TABLE anomalies (
    id INTEGER PRIMARY KEY,
    unit_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    ts TEXT NOT NULL,
    detail TEXT NOT NULL,
    before REAL,
    after REAL
  );
  CREATE INDEX anomalies_unit ON anomalies (unit_id, ts);
  CREATE TABLE allocations (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('normal','adjustment')),
    adjusts TEXT,
    seq INTEGER NOT NULL,
    unit_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    site_id TEXT NOT NULL,
    day TEXT NOT NULL,
    engine_hours REAL NOT NULL,
    idle_hours REAL NOT NULL,
    working_hours REAL NOT NULL,
    rate_id TEXT,
    working_rate_minor INTEGER NOT NULL,
    idle_rate_minor INTEGER NOT NULL,
    currency TEXT NOT NULL,
    amount_minor INTEGER NOT NULL,
    status TEXT NOT NULL,
    hold_reason TEXT,
    evidence TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    approved_by TEXT,
    approved_at TEXT,
    rejected_by TEXT,
    rejected_at TEXT,
    reject_reason TEXT,
    posted_at TEXT,
    odoo_model TEXT,
    odoo_id INTEGER,
    odoo_date TEXT
  );
  CREATE INDEX allocations_group ON allocations (unit_id, project_id, day, seq);
  CREATE INDEX allocations_status ON allocations (status, day);
  CREATE TABLE dead_letters (
    id INTEGER PRIMARY KEY,
    allocation_id TEXT NOT NULL,
    key TEXT NOT NULL,
    code TEXT NOT NULL,
    message TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    last_attempt_at TEXT NOT NULL,
    resolved_at TEXT
  );
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
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT
  );
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  `,
  `
  CREATE TABLE readings_v2 (
    id INTEGER PRIMARY KEY,
    unit_id TEXT NOT NULL,
    ts TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    content TEXT NOT NULL,
    body TEXT NOT NULL,
    engine_hours REAL NOT NULL,
    idle_hours REAL,
    odometer_km REAL,
    lat REAL,
    lon REAL,
    site_id TEXT,
    gateway_id TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    received_at TEXT NOT NULL,
    stored_at TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok','held','conflict','superseded')),
    hold_reason TEXT,
    reported_ts TEXT,
    reported_ts_ms INTEGER,
    conflict_id INTEGER
  );
  INSERT INTO readings_v2 (id, unit_id, ts, ts_ms, content, body, engine_hours, idle_hours, odometer_km, lat, lon,
    site_id, gateway_id, batch_id, received_at, stored_at, status, hold_reason)
    SELECT id, unit_id, ts, ts_ms, content, body, engine_hours, idle_hours, odometer_km, lat, lon,
    site_id, gateway_id, batch_id, received_at, stored_at, status, hold_reason FROM readings;
  DROP TABLE readings;
  ALTER TABLE readings_v2 RENAME TO readings;
  CREATE INDEX readings_identity ON readings (unit_id, ts_ms);
  CREATE INDEX readings_reported ON readings (unit_id, reported_ts_ms) WHERE reported_ts_ms IS NOT NULL;
  CREATE INDEX readings_batch ON readings (batch_id);
  CREATE INDEX readings_status ON readings (status) WHERE status != 'ok';
  CREATE TABLE conflicts (
    id INTEGER PRIMARY KEY,
    unit_id TEXT NOT NULL,
    ts TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    opened_at TEXT NOT NULL,
    resolved_at TEXT,
    resolved_by TEXT,
    keep TEXT,
    kept_reading_id INTEGER,
    reason TEXT
  );
  CREATE INDEX conflicts_identity ON conflicts (unit_id, ts_ms);
  CREATE TABLE conflict_versions (
    conflict_id INTEGER NOT NULL,
    reading_id INTEGER NOT NULL,
    PRIMARY KEY (conflict_id, reading_id)
  );
  INSERT INTO conflicts (unit_id, ts, ts_ms, opened_at)
    SELECT unit_id, MIN(ts), ts_ms, MIN(stored_at) FROM readings WHERE status = 'conflict' GROUP BY unit_id, ts_ms;
  UPDATE readings SET conflict_id =
    (SELECT c.id FROM conflicts c WHERE c.unit_id = readings.unit_id AND c.ts_ms = readings.ts_ms)
    WHERE status = 'conflict';
  INSERT INTO conflict_versions (conflict_id, reading_id)
    SELECT conflict_id, id FROM readings WHERE status = 'conflict';
  ALTER TABLE sites ADD COLUMN source TEXT NOT NULL DEFAULT 'config';
  ALTER TABLE projects ADD COLUMN source TEXT NOT NULL DEFAULT 'config';
  ALTER TABLE units ADD COLUMN source TEXT NOT NULL DEFAULT 'config';
  ALTER TABLE rates ADD COLUMN source TEXT NOT NULL DEFAULT 'config';
  UPDATE sites SET source = 'api' WHERE site_id IN
    (SELECT target FROM audit WHERE action IN ('site.create', 'site.update'));
  UPDATE projects SET source = 'api' WHERE project_id IN
    (SELECT target FROM audit WHERE action IN ('project.create', 'project.update'));
  UPDATE units SET source = 'api' WHERE unit_id IN
    (SELECT target FROM audit WHERE action IN ('unit.create', 'unit.update'));
  UPDATE rates SET source = 'api' WHERE rate_id IN
    (SELECT target FROM audit WHERE action IN ('rate.create', 'rate.update'));
  `,
  `
  ALTER TABLE allocations ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
  CREATE TABLE claims (
    resource TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_ms INTEGER NOT NULL
  );
  CREATE TABLE job_ticks (
    job TEXT NOT NULL,
    tick TEXT NOT NULL,
    owner TEXT NOT NULL,
    claimed_at TEXT NOT NULL,
    PRIMARY KEY (job, tick)
  );
  `,
  // Migration 4: master data read from Odoo (Odoo owns it). One row per Odoo record of
  // maintenance.equipment and project.project, archived ones included; the sync cursor
  // (Odoo's write_date, whole seconds UTC) per model lives in meta as odoo.sync.<model>.
  `
  CREATE TABLE odoo_records (
    model TEXT NOT NULL,
    odoo_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    serial_no TEXT,
    account_id INTEGER,
    active INTEGER NOT NULL,
    write_date TEXT NOT NULL,
    synced_at TEXT NOT NULL,
    PRIMARY KEY (model, odoo_id)
  );
  CREATE INDEX odoo_records_serial ON odoo_records (model, serial_no);
  `,
];
