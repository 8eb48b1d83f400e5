/**
 * Versioned schema of the buffer file. `PRAGMA user_version` holds the number of migrations
 * applied; each runs once, in its own transaction, in order. Migrations are only ever
 * appended: a newer agent opens any older buffer file and upgrades it in place, so a gateway
 * updated in the field keeps its unsent readings.
 */
import { createHash } from 'node:crypto';
import type BetterSqlite3 from 'better-sqlite3';

/** Payload bytes an upgraded file keeps of each quarantined message (as the default config). */
const MIGRATED_QUARANTINE_PAYLOAD_BYTES = 4096;

export interface Migration {
  version: number;
  description: string;
  up(db: BetterSqlite3.Database): void;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'readings outbox, batches, quarantine',
    up(db) {
      db.exec(`
        CREATE TABLE readings (
          id           INTEGER PRIMARY KEY,
          unit_id      TEXT    NOT NULL,
          ts           TEXT    NOT NULL,
          content_hash TEXT    NOT NULL, -- '' for first versions: derived from body when needed
          body         TEXT    NOT NULL,
          received_at  INTEGER NOT NULL,
          held         INTEGER NOT NULL DEFAULT 0,
          batch_id     TEXT
        );
        -- (ts, unit_id), not (unit_id, ts): live readings arrive in ts order, so inserts
        -- append at the right edge of the index instead of dirtying one leaf page per unit
        -- per commit (measured: ~55 → ~9 µs per reading with 1000 units, synchronous=FULL).
        CREATE UNIQUE INDEX readings_identity ON readings(ts, unit_id);
        CREATE INDEX readings_unbatched ON readings(id) WHERE batch_id IS NULL;
        CREATE INDEX readings_batch ON readings(batch_id) WHERE batch_id IS NOT NULL;
        CREATE INDEX readings_held ON readings(id) WHERE held = 1;

        CREATE TABLE batches (
          batch_id    TEXT PRIMARY KEY,
          state       TEXT    NOT NULL CHECK (state IN ('pending', 'sent', 'parked', 'split')),
          readings    INTEGER NOT NULL,
          oldest_received_at INTEGER NOT NULL,
          created_at  INTEGER NOT NULL,
          attempts    INTEGER NOT NULL DEFAULT 0,
          last_error  TEXT,
          parked_at   INTEGER,
          sent_at     INTEGER
        );
        CREATE INDEX batches_state ON batches(state, created_at, batch_id);

        CREATE TABLE quarantine (
          id          INTEGER PRIMARY KEY,
          received_at INTEGER NOT NULL,
          topic       TEXT    NOT NULL,
          client_id   TEXT,
          reason      TEXT    NOT NULL,
          payload     BLOB    NOT NULL
        );
      `);
    },
  },
  {
    version: 2,
    description: 'conflicting versions of an identity; quarantine replay; owner gateway',
    up(db) {
      db.exec(`
        CREATE TABLE conflicts (
          id           INTEGER PRIMARY KEY,
          unit_id      TEXT    NOT NULL,
          ts           TEXT    NOT NULL,
          content_hash TEXT    NOT NULL,
          body         TEXT    NOT NULL,
          received_at  INTEGER NOT NULL,
          held         INTEGER NOT NULL DEFAULT 0,
          batch_id     TEXT
        );
        CREATE UNIQUE INDEX conflicts_version ON conflicts(ts, unit_id, content_hash);
        CREATE INDEX conflicts_unbatched ON conflicts(id) WHERE batch_id IS NULL;
        CREATE INDEX conflicts_batch ON conflicts(batch_id) WHERE batch_id IS NOT NULL;

        ALTER TABLE quarantine ADD COLUMN replayed_at INTEGER;
        CREATE INDEX quarantine_open ON quarantine(id) WHERE replayed_at IS NULL;

        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      `);
    },
  },
  {
    version: 3,
    description: 'quarantine keeps a bounded prefix of each payload with its full size and sha256',
    up(db) {
      db.exec(`
        ALTER TABLE quarantine ADD COLUMN size INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE quarantine ADD COLUMN sha256 TEXT NOT NULL DEFAULT '';
      `);
      // Files from before the bound may hold payloads of megabytes: cut them now.
      const rows = db.prepare('SELECT id, payload FROM quarantine').iterate() as Iterable<{
        id: number;
        payload: Buffer;
      }>;
      const update = db.prepare('UPDATE quarantine SET payload = ?, size = ?, sha256 = ? WHERE id = ?');
      const updates: Array<[Buffer, number, string, number]> = [];
      for (const r of rows)
        updates.push([
          r.payload.subarray(0, MIGRATED_QUARANTINE_PAYLOAD_BYTES),
          r.payload.length,
          createHash('sha256').update(r.payload).digest('hex'),
          r.id,
        ]);
      for (const u of updates) update.run(...u);
    },
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** Applies the migrations the file lacks; refuses a file written by a newer agent. */
export function migrate(db: BetterSqlite3.Database, upTo: number = SCHEMA_VERSION): number {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > SCHEMA_VERSION) {
    throw new Error(
      `buffer schema version ${current} is newer than this agent's ${SCHEMA_VERSION}; upgrade the agent`,
    );
  }
  for (const m of MIGRATIONS) {
    if (m.version <= current || m.version > upTo) continue;
    db.transaction(() => {
      m.up(db);
      db.pragma(`user_version = ${m.version}`);
    }).immediate();
  }
  return db.pragma('user_version', { simple: true }) as number;
}
