/**
 * The forwarder on a thread of its own (forwarder-worker.ts), seen from the main thread with
 * the Forwarder's surface: start, notify, state, stop. Ingest and forwarding then use a core
 * each: a gateway draining a backlog at full speed still acknowledges its units' publishes at
 * theirs, and a busy broker no longer holds back the batches (`cloud.forwarderThread`).
 *
 * The thread's log lines and counters come back as messages and go to the main thread's
 * logger and registry. A thread that dies is started again after a back-off (1 s doubling to
 * 60 s): its batches are in the buffer file, so it resumes with the pending one.
 *
 * A thread with nothing to send for `cloud.forwarderThreadIdleMs` says so (`idle`); unless a
 * notify crossed that message, it is stopped (~11 MB of memory back) and started again by the
 * next notify, or by `hasWork` (asked every minute: readings another process wrote, such as a
 * quarantine replay, notify no one).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { SqliteBufferOptions } from '../buffer/sqlite-buffer.js';
import type { EdgeConfig } from '../config.js';
import {
  type ForwarderCarry,
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
  /** Set by each start: what the thread before this one had learned. */
  carry?: ForwarderCarry;
}

export type MainToForwarder = { t: 'notify'; n: number } | { t: 'stop' };
export type ForwarderToMain =
  | { t: 'ready' }
  /** Nothing to send for forwarderThreadIdleMs, after `seen` notifies. */
  | { t: 'idle'; seen: number }
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
/** How often a thread that ended while idle asks whether there is work it was not told of. */
const ENDED_CHECK_MS = 60_000;
/** Least time between two notify messages to the thread, ms. */
const NOTIFY_EVERY_MS = 10;

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
  /** Notify messages posted to the current thread. */
  private posted = 0;
  private lastNotifyMs = Number.NEGATIVE_INFINITY;
  /** The thread is being stopped, or has stopped, for want of work. */
  private ending = false;
  private ended = false;
  /** A notify arrived while the idle thread was being stopped: start it again once it has. */
  private wanted = false;
  private endedCheck: NodeJS.Timeout | null = null;
  /** The thread has been ready once: a later start that fails is retried, not given up. */
  private everReady = false;

  constructor(
    private readonly source: ForwarderWorkerSource,
    private readonly data: ForwarderWorkerData,
    private readonly deps: {
      metrics: ForwarderMetrics & {
        forwarderRestarts: { inc(): void };
        forwarderThreadRunning: { set(v: number): void };
      };
      log: ForwarderLog;
      /** Whether the buffer holds readings or batches to send (asked while the thread has ended). */
      hasWork?: () => boolean;
      /** How often `hasWork` is asked (default a minute). */
      endedCheckMs?: number;
      /** A thread started on demand that could never start (the caller forwards another way). */
      onUnavailable?: (e: unknown) => void;
    },
  ) {
    this.s = initialForwarderState(data.cloud.batchSize);
  }

  state(): ForwarderState {
    return { ...this.s };
  }

  /** Whether the thread runs now (false after it ended, for want of work or not). */
  running(): boolean {
    return this.worker !== null && !this.ending;
  }

  /** Whether the thread is ending or has ended for want of work (not after a failure). */
  endedIdle(): boolean {
    return this.ended || this.ending;
  }

  /** Resolves once the thread has opened the buffer; rejects with what stopped it before. */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      let ready = false;
      const w = new Worker('file' in this.source ? this.source.file : this.source.code, {
        eval: 'code' in this.source,
        // A thread started again keeps when the gateway last forwarded and what a 413 taught.
        workerData: {
          ...this.data,
          carry: { lastForwardAt: this.s.lastForwardAt, effectiveBatchSize: this.s.effectiveBatchSize },
        } satisfies ForwarderWorkerData,
        resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
      });
      this.worker = w;
      this.posted = 0;
      this.deps.metrics.forwarderThreadRunning.set(1);
      let exit!: () => void;
      this.exited = new Promise((r) => {
        exit = r;
      });
      let failure: Error | null = null;
      w.on('message', (m: ForwarderToMain) => {
        if (m.t === 'ready') {
          ready = true;
          this.everReady = true;
          this.restartMs = RESTART_MIN_MS;
          resolve();
        } else this.onMessage(m);
      });
      w.on('error', (e) => {
        failure = e;
      });
      w.on('exit', (code) => {
        if (this.worker === w) this.worker = null;
        this.deps.metrics.forwarderThreadRunning.set(0);
        exit();
        if (!ready) {
          reject(failure ?? new Error(`forwarder thread exited with code ${code} before it was ready`));
          return;
        }
        if (this.stopping || this.ending) return;
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
      case 'idle':
        // A notify posted after the thread counted `seen`, or still queued, means work.
        if (m.seen === this.posted && !this.notifyQueued && !this.stopping && !this.ending)
          void this.endIdle();
        return;
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

  /** Stops the idle thread; a notify that arrived meanwhile starts it again. */
  private async endIdle(): Promise<void> {
    const w = this.worker;
    if (!w) return;
    this.ending = true;
    this.deps.metrics.forwarderThreadRunning.set(0);
    w.postMessage({ t: 'stop' } satisfies MainToForwarder);
    await this.exited;
    this.ending = false;
    if (this.stopping) return;
    this.ended = true;
    this.s = { ...this.s, state: 'idle' };
    this.deps.log.info(
      { event: 'forward.thread_ended', idleMs: this.data.cloud.forwarderThreadIdleMs },
      'forwarder thread ended: nothing to send; the next reading starts it again',
    );
    if (this.wanted) this.resume();
    else this.checkWhileEnded();
  }

  private checkWhileEnded(): void {
    if (!this.deps.hasWork) return;
    this.endedCheck = setTimeout(() => {
      this.endedCheck = null;
      if (!this.ended || this.stopping) return;
      let work = false;
      try {
        work = this.deps.hasWork!();
      } catch (e) {
        this.deps.log.warn({ event: 'forward.work_check_failed', err: e }, 'cannot read the backlog');
      }
      if (work) this.resume();
      else this.checkWhileEnded();
    }, this.deps.endedCheckMs ?? ENDED_CHECK_MS);
    this.endedCheck.unref();
  }

  /**
   * Instead of `start` when there is nothing to send: the thread starts with the first notify
   * (or when `hasWork` finds work). If that first start fails, `onUnavailable` is told.
   */
  startOnDemand(): void {
    this.ended = true;
    this.checkWhileEnded();
  }

  /** Starts the thread that ended for want of work; a start that fails is retried with back-off. */
  private resume(): void {
    this.wanted = false;
    if (!this.ended || this.stopping) return;
    this.ended = false;
    if (this.endedCheck) clearTimeout(this.endedCheck);
    this.endedCheck = null;
    this.start().catch((e: unknown) => {
      if (!this.everReady && this.deps.onUnavailable) {
        this.stopping = true; // this object is done: the caller forwards another way
        this.deps.onUnavailable(e);
        return;
      }
      this.deps.log.error(
        { event: 'forward.thread_restart_failed', err: e, restartInMs: this.restartMs },
        'forwarder thread failed to start: trying again',
      );
      this.restartLater();
    });
  }

  /**
   * New readings are in the buffer: one message per event-loop turn, however many commits, and
   * at most one per NOTIFY_EVERY_MS (at full ingest a commit every few ms would otherwise post
   * hundreds a second, each a wake-up of the thread and a clone on this one).
   */
  notify(n: number): void {
    if (this.ended) this.resume();
    else if (this.ending) this.wanted = true;
    this.notified += n;
    if (this.notifyQueued) return;
    this.notifyQueued = true;
    const wait = this.lastNotifyMs + NOTIFY_EVERY_MS - performance.now();
    if (wait > 0) setTimeout(this.postNotify, wait);
    else setImmediate(this.postNotify);
  }

  private readonly postNotify = (): void => {
    this.notifyQueued = false;
    const n = this.notified;
    this.notified = 0;
    const w = this.worker;
    if (!w || this.ending) return; // a thread that starts reads the backlog itself
    this.lastNotifyMs = performance.now();
    w.postMessage({ t: 'notify', n } satisfies MainToForwarder);
    this.posted++;
  };

  /** Finishes the batch in flight (bounded by cloud.timeoutMs), then stops the thread. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    if (this.endedCheck) clearTimeout(this.endedCheck);
    this.restartTimer = null;
    this.endedCheck = null;
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
