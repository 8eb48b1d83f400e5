/**
 * One consolidation worker thread (consolidation-worker.ts) seen from the main thread: a unit's
 * usage is computed there, so a long run leaves the event loop free to answer batches (the
 * second core does the work). A worker that dies fails the requests it held and is started
 * again on the next one; the runner then releases the unit, which the next run retries.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { IronLedgerError } from '@ironledger/errors';
import type { MeterReading } from '../store/store.js';
import type { WorkerReply, WorkerRequest } from './consolidation-worker.js';
import type { UnitUsage, UnitUsageRequest, UsageSince } from './unit-usage.js';

/** The compiled worker: beside this file in dist/, or dist/ when this file runs from src/ (tests). */
export function workerFile(): string | null {
  const here = import.meta.url;
  const url = here.endsWith('.ts')
    ? new URL('../../dist/consolidation/consolidation-worker.js', here)
    : new URL('./consolidation-worker.js', here);
  const file = fileURLToPath(url);
  return existsSync(file) ? file : null;
}

export class UsageWorker {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve: (u: UnitUsage) => void; reject: (e: Error) => void }
  >();

  /** sqlitePath: the worker reads readings itself from this file; null: they come with each request. */
  constructor(
    private readonly file: string,
    private readonly sqlitePath: string | null,
  ) {}

  /** With `given`, computes over those readings; else (SQLite) reads them in the worker. */
  unitUsage(
    req: UnitUsageRequest,
    given?: { readings: MeterReading[]; since?: UsageSince | undefined },
  ): Promise<UnitUsage> {
    const w = this.start();
    const id = this.nextId++;
    // Keeps the process alive while a request is out; idle, the worker holds nothing open.
    if (this.pending.size === 0) w.ref();
    return new Promise<UnitUsage>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const msg: WorkerRequest = { id, req, ...(given ? { given } : {}) };
      w.postMessage(msg);
    });
  }

  get readsItself(): boolean {
    return this.sqlitePath !== null;
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(this.file, { workerData: { sqlitePath: this.sqlitePath } });
    // Idle between runs: the process may exit without waiting for it.
    w.unref();
    w.on('message', (r: WorkerReply) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      if (this.pending.size === 0) w.unref();
      if ('error' in r)
        p.reject(new IronLedgerError('INTERNAL', `consolidation worker: ${r.error}`, { retryable: true }));
      else p.resolve(r.usage);
    });
    const fail = (e: Error) => {
      if (this.worker === w) this.worker = null;
      for (const p of this.pending.values())
        p.reject(
          new IronLedgerError('INTERNAL', `consolidation worker stopped: ${e.message}`, {
            cause: e,
            retryable: true,
          }),
        );
      this.pending.clear();
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`exit code ${code}`)));
    this.worker = w;
    return w;
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    if (w) await w.terminate();
  }
}
