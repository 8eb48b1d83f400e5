/**
 * The ingest writer thread of a SQLite store (ingest-thread.ts is its main-thread side): it
 * holds its own connection to the store's file and stores the batches the main thread has
 * parsed, with the store's own group commit (`SqliteStore.ingestBatch`), while the main thread
 * reads, inflates and validates the next requests on the other core.
 *
 * Messages: in `{ id, batch }` or `{ close: true }`; out `{ id, ok, commits }` or
 * `{ id, error }`. A reply is sent only after the batch's transaction has committed (or was
 * refused); `close` is answered by closing the connection once every batch already received
 * has its reply, and the thread then ends.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { IngestResult } from '../store.js';
import { type PackedBatch, unpackBatch } from './ingest-thread.js';
import { SqliteStore } from './sqlite-store.js';

export type IngestRequest = { id: number; batch: PackedBatch } | { close: true };

/** An error as it crosses the thread boundary: what the main thread needs to answer with it. */
export interface WireError {
  message: string;
  /** An IronLedgerError's code, or a SQLite error's (SQLITE_CONSTRAINT_…). */
  code: string | undefined;
  retryable: boolean | undefined;
  ironLedger: boolean;
  stack: string | undefined;
}

export type IngestReply =
  | { id: number; ok: IngestResult; commits: { commits: number; batches: number } }
  | { id: number; error: WireError };

const { path } = workerData as { path: string };
const store = new SqliteStore(path);
const outstanding = new Set<Promise<void>>();

function toWire(e: unknown): WireError {
  const err = e instanceof Error ? e : new Error(String(e));
  const x = err as Error & { code?: unknown; retryable?: unknown };
  return {
    message: err.message,
    code: typeof x.code === 'string' ? x.code : undefined,
    retryable: typeof x.retryable === 'boolean' ? x.retryable : undefined,
    ironLedger: err.name === 'IronLedgerError',
    stack: err.stack,
  };
}

parentPort!.on('message', (m: IngestRequest) => {
  if ('close' in m) {
    void Promise.allSettled([...outstanding]).then(async () => {
      await store.close();
      parentPort!.close();
    });
    return;
  }
  const done = store.storeBatch(unpackBatch(m.batch)).then(
    (ok) =>
      parentPort!.postMessage({ id: m.id, ok, commits: { ...store.ingestCommits } } satisfies IngestReply),
    (e) => parentPort!.postMessage({ id: m.id, error: toWire(e) } satisfies IngestReply),
  );
  outstanding.add(done);
  void done.finally(() => outstanding.delete(done));
});
