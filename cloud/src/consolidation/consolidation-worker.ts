/**
 * The consolidation worker thread: computes a unit's usage (unit-usage.ts) off the event loop
 * that answers batches. With `sqlitePath` it also reads the readings itself, on its own
 * read-only connection to the store's file (WAL: it sees every commit made before each read);
 * otherwise the readings come with the request. It writes nothing: the runner on the main
 * thread plans allocations and writes the result in the store's one transaction, as before.
 *
 * Messages: in `{ id, req, readings?, since? }`, out `{ id, usage }` or `{ id, error }`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { lastUsableBefore, meterReadings } from '../store/sqlite/meter-readings.js';
import type { MeterReading } from '../store/store.js';
import {
  computeUnitUsage,
  readingsToConsolidate,
  type UnitUsage,
  type UnitUsageRequest,
  type UsageSince,
} from './unit-usage.js';

export interface WorkerRequest {
  id: number;
  req: UnitUsageRequest;
  /** The readings, when the worker does not read the store itself. */
  given?: { readings: MeterReading[]; since?: UsageSince | undefined };
}

export type WorkerReply = { id: number; usage: UnitUsage } | { id: number; error: string };

const sqlitePath = (workerData as { sqlitePath?: string | null } | undefined)?.sqlitePath ?? null;
let db: Database.Database | null = null;
function source() {
  if (!db) {
    db = new Database(sqlitePath!, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
  }
  const d = db;
  return {
    lastUsableReadingBefore: (unitId: string, ms: number) => lastUsableBefore(d, unitId, ms),
    usageReadings: (unitId: string, fromMs?: number) => meterReadings(d, unitId, fromMs),
  };
}

parentPort?.on('message', async (m: WorkerRequest) => {
  let reply: WorkerReply;
  try {
    const { readings, since } = m.given ?? (await readingsToConsolidate(source(), m.req));
    reply = { id: m.id, usage: computeUnitUsage(m.req, readings, since) };
  } catch (e) {
    reply = { id: m.id, error: (e as Error).stack ?? String(e) };
  }
  parentPort!.postMessage(reply);
});
