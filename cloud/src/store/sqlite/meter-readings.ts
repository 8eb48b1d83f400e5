/**
 * Consolidation's reads of the readings table on any connection to a cloud SQLite file: the
 * store's own and the consolidation worker's read-only one (WAL: a read sees every commit made
 * before it started). Only the columns usage needs, as arrays: the JSON body and content are
 * most of a row's bytes, and turning them into strings was half of a full run's CPU.
 */
import type Database from 'better-sqlite3';
import type { MeterReading } from '../store.js';

const cache = new WeakMap<Database.Database, Map<string, Database.Statement>>();

function stmt(db: Database.Database, sql: string): Database.Statement {
  let m = cache.get(db);
  if (!m) {
    m = new Map();
    cache.set(db, m);
  }
  let st = m.get(sql);
  if (!st) {
    st = db.prepare(sql);
    m.set(sql, st);
  }
  return st;
}

/** ts (ms) of the unit's last usable reading strictly before `ms`, or null. */
export function lastUsableBefore(db: Database.Database, unitId: string, ms: number): number | null {
  const r = stmt(
    db,
    "SELECT MAX(ts_ms) AS ts_ms FROM readings WHERE unit_id = ? AND status = 'ok' AND ts_ms < ?",
  ).get(unitId, ms) as { ts_ms: number | null };
  return r.ts_ms ?? null;
}

const COLS = 'ts, ts_ms, engine_hours, idle_hours, odometer_km, lat, lon, site_id';
/** A row as selected: ts, ts_ms, engine, idle, odometer, lat, lon, site. */
type MeterRow = [
  string,
  number,
  number,
  number | null,
  number | null,
  number | null,
  number | null,
  string | null,
];

/** A unit's usable readings by ts; with `fromMs`, from the last one strictly before it on (all when none is). */
export function meterReadings(db: Database.Database, unitId: string, fromMs?: number): MeterReading[] {
  const start = fromMs === undefined ? null : lastUsableBefore(db, unitId, fromMs);
  const rows = (
    start === null
      ? stmt(db, `SELECT ${COLS} FROM readings WHERE unit_id = ? AND status = 'ok' ORDER BY ts_ms, id`)
          .raw(true)
          .all(unitId)
      : stmt(
          db,
          `SELECT ${COLS} FROM readings WHERE unit_id = ? AND status = 'ok' AND ts_ms >= ? ORDER BY ts_ms, id`,
        )
          .raw(true)
          .all(unitId, start)
  ) as MeterRow[];
  return rows.map((r) => ({
    ts: r[0],
    tsMs: r[1],
    engineHours: r[2],
    idleHours: r[3],
    odometerKm: r[4],
    position: r[5] != null && r[6] != null ? { lat: r[5], lon: r[6] } : null,
    siteId: r[7],
  }));
}
