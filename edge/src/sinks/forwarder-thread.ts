/**
 * The forwarder on a thread of its own (forwarder-worker.ts), seen from the main thread with
 * the Forwarder's surface: start, notify, state, stop. Ingest and forwarding then use a core
 * each: a gateway draining a backlog at full speed still acknowledges its units' publishes at
 * theirs, and a busy broker no longer holds back the batches (`cloud.forwarderThread`).
 *
 * The thread's log lines and counters come back as messages and go to the main thread's
 * logger and registry. A thread that dies is started again after a back-off (1 s doubling to
 * 60 s): its batches are in the buffer file, so it resumes with the pending one.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { SqliteBufferOptions } from '../buffer/sqlite-buffer.js';
import type { EdgeConfig } from '../config.js';
import {
  type ForwarderLog,
  type ForwarderMetrics,
  type ForwarderState,
  initialForwarderState,
} from './forwarder.js';

export interface ForwarderWorkerData {
  buffer: SqliteBufferOptions;
  cloud: EdgeConfig['cloud'];
  gatewayId: string;
  userAgent: string;
}

export type MainToForwarder = { t: 'notify'; n: number } | { t: 'stop' };
export type ForwarderToMain =
  | { t: 'ready' }
  | { t: 'state'; state: ForwarderState }
  | { t: 'stopped'; state: ForwarderState }
  | { t: 'log'; level: 'info' | 'warn' | 'error' | 'fatal'; fields: Record<string, unknown>; msg?: string }
  | { t: 'metric'; m: 'latency' | 'batch' | 'readings'; outcome: string; v: number };

/**
 * The thread's new-object space. Its garbage is a batch's rows and JSON, dead once the batch
 * is sent; V8's default (16 MB semi-spaces) let a drain peak at +46 MB of RSS over the main
 * thread alone, 2 MB at +16 MB, at the same drain rate (README, Benchmarks).
 */
const YOUNG_GENERATION_MB = 2;
const RESTART_MIN_MS = 1000;
const RESTART_MAX_MS = 60_000;

/** The SEA asset holding the worker's bundle in the single executable (edge/sea/build.mjs). */
export const WORKER_ASSET = 'forwarder-worker.cjs';

/** The worker's script: a file, or (in the single executable) its bundled source. */
export type ForwarderWorkerSource = { file: string } | { code: string };

/**
 * Where the worker's script is: beside this file in dist/, or in dist/ when this file runs
 * from src/ (tests); in the single executable, the bundle it carries as an asset. Null where
 * there is neither (the agent then forwards on the main thread).
 */
export function forwarderWorkerSource(): ForwarderWorkerSource | null {
  const here: string | undefined = import.meta.url;
  if (typeof here !== 'string' || !here.startsWith('file:')) return null;
  const code = seaAsset(here, WORKER_ASSET);
  if (code !== null) return { code };
  const url = here.endsWith('.ts')
    ? new URL('../../dist/sinks/forwarder-worker.js', here)
    : new URL('./forwarder-worker.js', here);
  const file = fileURLToPath(url);
  return existsSync(file) ? { file } : null;
}

function seaAsset(here: string, name: string): string | null {
  try {
    const sea = createRequire(here)('node:sea') as {
      isSea(): boolean;
      getAsset(key: string, encoding: string): string;
    };
    return sea.isSea() ? sea.getAsset(name, 'utf8') : null;
  } catch {
    return null; // not a single executable, or one built without the asset
  }
}

export class ForwarderThread {
  private worker: Worker | null = null;
  private s: ForwarderState;
  private notified = 0;
  private notifyQueued = false;
  private stopping = false;
  private restartMs = RESTART_MIN_MS;
  private restartTimer: NodeJS.Timeout | null = null;
  private exited: Promise<void> = Promise.resolve();

  constructor(
    private readonly source: ForwarderWorkerSource,
    private readonly data: ForwarderWorkerData,
    private readonly deps: {
      metrics: ForwarderMetrics & { forwarderRestarts: { inc(): void } };
      log: ForwarderLog;
    },
  ) {
    this.s = initialForwarderState(data.cloud.batchSize);
  }

  state(): ForwarderState {
    return { ...this.s };
  }

  /** Resolves once the thread has opened the buffer; rejects with what stopped it before. */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      let ready = false;
      const w = new Worker('file' in this.source ? this.source.file : this.source.code, {
        eval: 'code' in this.source,
        workerData: this.data,
        resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
      });
      this.worker = w;
      let exit!: () => void;
      this.exited = new Promise((r) => {
        exit = r;
      });
      let failure: Error | null = null;
      w.on('message', (m: ForwarderToMain) => {
        if (m.t === 'ready') {
          ready = true;
          this.restartMs = RESTART_MIN_MS;
          resolve();
        } else this.onMessage(m);
      });
      w.on('error', (e) => {
        failure = e;
      });
      w.on('exit', (code) => {
        if (this.worker === w) this.worker = null;
        exit();
        if (!ready) {
          reject(failure ?? new Error(`forwarder thread exited with code ${code} before it was ready`));
          return;
        }
        if (this.stopping) return;
        const err = failure ?? new Error(`exit code ${code}`);
        this.s = { ...this.s, state: 'stopped', lastError: `forwarder thread stopped: ${err.message}` };
        this.deps.log.error(
          { event: 'forward.thread_died', err, restartInMs: this.restartMs },
          'forwarder thread stopped unexpectedly: starting it again',
        );
        this.restartLater();
      });
    });
  }

  /** Starts the thread again after the back-off; a start that fails is tried again after a longer one. */
  private restartLater(): void {
    if (this.stopping) return;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (this.stopping) return;
      this.deps.metrics.forwarderRestarts.inc();
      this.start().catch((e: unknown) => {
        this.deps.log.error(
          { event: 'forward.thread_restart_failed', err: e, restartInMs: this.restartMs },
          'forwarder thread failed to start: trying again',
        );
        this.restartLater();
      });
    }, this.restartMs);
    this.restartMs = Math.min(RESTART_MAX_MS, this.restartMs * 2);
  }

  private onMessage(m: ForwarderToMain): void {
    switch (m.t) {
      case 'state':
      case 'stopped':
        this.s = m.state;
        return;
      case 'log':
        this.deps.log[m.level](m.fields, m.msg);
        return;
      case 'metric': {
        const { metrics } = this.deps;
        if (m.m === 'latency') metrics.forwardLatency.observe({ outcome: m.outcome }, m.v);
        else if (m.m === 'batch') metrics.batches.inc({ outcome: m.outcome });
        else metrics.forwardedReadings.inc(m.v);
        return;
      }
      default:
        return;
    }
  }

  /** New readings are in the buffer: one message per event-loop turn, however many commits. */
  notify(n: number): void {
    this.notified += n;
    if (this.notifyQueued) return;
    this.notifyQueued = true;
    setImmediate(() => {
      this.notifyQueued = false;
      const n = this.notified;
      this.notified = 0;
      this.worker?.postMessage({ t: 'notify', n } satisfies MainToForwarder);
    });
  }

  /** Finishes the batch in flight (bounded by cloud.timeoutMs), then stops the thread. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const w = this.worker;
    if (w) {
      w.postMessage({ t: 'stop' } satisfies MainToForwarder);
      // A thread that does not come back within the request deadline is ended.
      const deadline = setTimeout(() => void w.terminate(), this.data.cloud.timeoutMs + 5000);
      await this.exited;
      clearTimeout(deadline);
    }
    this.s = { ...this.s, state: 'stopped' };
  }
}
