/**
 * Sink: buffer → cloud (Contract 2). A batch is assigned and committed in the buffer before
 * its first attempt, so every retry — after back-off, a Retry-After, or a restart — sends the
 * same readings under the same batchId, and the cloud can answer a repeat with `duplicates`.
 * Readings leave the outbox only when the cloud answered 2xx for every one of them.
 *
 * Several requests in flight (`cloud.maxInFlight`): the buffer batch then holds up to
 * `batchSize × maxInFlight × 2` readings and is sent as parts of `batchSize`, at most
 * `maxInFlight` at once. A part's id is `<batchId>:u<start>-<end>` (its readings' positions in
 * the buffer batch, whose order, grouped by unit, is stable across restarts), so a part resent
 * after a restart or a retry carries exactly the readings it carried before. The `u` names that
 * order: parts numbered in the plain buffer order of earlier versions carry no `u`, so a batch
 * half sent before an upgrade is sent again whole under new ids (the cloud counts what it
 * already has as duplicates) and no id ever stands for two sets of readings. A batch that fits
 * one part is sent under its own batchId, as with one request in flight. The buffer batch is
 * acknowledged after its last part's 2xx; a part that must be retried is retried alone, after
 * the parts in flight have been answered. A part the cloud refuses (413 or another 4xx) halves
 * the whole buffer batch (`split`), as a refused batch always was, down to the one reading that
 * is parked.
 *
 * The request slots form one window over up to two buffer batches: once every part of the
 * current batch has been sent, the slots it leaves free send the parts of the next (committed
 * as its own pending batch first), and each batch is acknowledged as soon as its last part is
 * answered, so the cloud never waits for the edge to finish one batch and read the next. When
 * a part fails, no new part is sent; the parts in flight are answered, the failed part's batch
 * is decided, and the other stays pending: each is retried by the parts not yet answered.
 */
import { MAX_READINGS_PER_BATCH, readBatchAnswer } from '@ironledger/contracts/wire';
import type { Logger } from '@ironledger/logger';
import type { OutboundBatch, ReadingBuffer } from '../buffer/buffer.js';
import type { EdgeConfig } from '../config.js';
import type { CloudClient, HttpResult } from './cloud-client.js';
import { type Decision, decide } from './retry-policy.js';

export interface ForwarderState {
  state: 'idle' | 'sending' | 'backoff' | 'auth_failed' | 'stopped';
  attempt: number;
  currentBatchId: string | null;
  nextAttemptAt: string | null;
  lastError: string | null;
  lastForwardAt: string | null;
  effectiveBatchSize: number;
}

/** What one forwarder hands the next: when it last forwarded, and the batch size a 413 left. */
export type ForwarderCarry = Pick<ForwarderState, 'lastForwardAt' | 'effectiveBatchSize'>;

/** A forwarder that has sent nothing yet. */
export function initialForwarderState(batchSize: number): ForwarderState {
  return {
    state: 'idle',
    attempt: 0,
    currentBatchId: null,
    nextAttemptAt: null,
    lastError: null,
    lastForwardAt: null,
    effectiveBatchSize: batchSize,
  };
}

/** What the forwarder counts (EdgeMetrics has them; the forwarder's thread relays them). */
export interface ForwarderMetrics {
  forwardLatency: { observe(labels: { outcome: string }, seconds: number): void };
  batches: { inc(labels: { outcome: string }): void };
  forwardedReadings: { inc(n: number): void };
}

export type ForwarderLog = Pick<Logger, 'info' | 'warn' | 'error' | 'fatal'>;

/** After this many 2xx in a row the batch size, halved by a 413, is doubled back. */
const GROW_AFTER_SUCCESSES = 20;
/** Parts per request slot in one buffer batch (the next batch fills the window's tail). */
const PARTS_PER_SLOT = 2;

/** One request's share of a buffer batch: readings [start, end). */
interface Part {
  id: string;
  start: number;
  end: number;
}

/** A buffer batch being sent: what the cloud acknowledged of it, and its parts to send. */
interface OpenBatch {
  batch: OutboundBatch;
  done: Uint8Array;
  todo: Part[];
  /** Index in `todo` of the next part to send. */
  next: number;
}

/** The first part that failed in a window, with its answer and what it asks of its batch. */
interface Failure {
  decision: Decision;
  res: HttpResult;
  part: Part;
  batch: OutboundBatch;
}

export class Forwarder {
  private stopping = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private unbatchedApprox = 0;
  private emptyWait = false;
  private successesInRow = 0;
  /**
   * Readings the cloud has acknowledged (by position) of the buffer batches being sent, kept
   * across a back-off so a retry sends only what is missing. An entry leaves when its batch is
   * acknowledged, split or parked.
   */
  private readonly progress = new Map<string, Uint8Array>();
  private readonly s: ForwarderState;

  constructor(
    private readonly deps: {
      buffer: ReadingBuffer;
      client: CloudClient;
      cloud: EdgeConfig['cloud'];
      gatewayId: string;
      metrics: ForwarderMetrics;
      log: ForwarderLog;
      random?: () => number;
      now?: () => number;
      /** After the loop stopped on an unexpected error (logged): the forwarder's thread ends itself. */
      onCrash?: (e: unknown) => void;
      /** What a forwarder before this one learned (a forwarder thread started again). */
      carry?: ForwarderCarry;
    },
  ) {
    this.s = initialForwarderState(deps.cloud.batchSize);
    if (deps.carry) {
      this.s.lastForwardAt = deps.carry.lastForwardAt;
      this.s.effectiveBatchSize = Math.max(1, Math.min(deps.cloud.batchSize, deps.carry.effectiveBatchSize));
    }
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  state(): ForwarderState {
    return { ...this.s };
  }

  start(): void {
    this.unbatchedApprox = this.deps.buffer.stats().unbatchedReadings;
    this.loop = this.run().catch((e: unknown) => {
      this.s.state = 'stopped';
      this.s.lastError = `crashed: ${(e as Error)?.message ?? String(e)}`.slice(0, 500);
      this.deps.log.fatal({ event: 'forward.crashed', err: e }, 'forwarder stopped on an unexpected error');
      this.deps.onCrash?.(e);
    });
  }

  /** Asleep with nothing at all to send: no batch pending, no reading waiting to be batched. */
  hasNothingToSend(): boolean {
    return this.emptyWait && !this.stopping;
  }

  /** New readings are in the buffer (n of them). */
  notify(n: number): void {
    this.unbatchedApprox += n;
    // Wake when a full batch is waiting, or when the loop sleeps with nothing to send at
    // all (it then learns when the new readings fall due).
    // A back-off is never cut short: the cloud said when to come back.
    if (this.s.state === 'backoff' || this.s.state === 'auth_failed') return;
    if (this.emptyWait || this.unbatchedApprox >= this.fetchSize()) this.wakeUp();
  }

  private wakeUp(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** Finishes the batch in flight (bounded by cloud.timeoutMs), then stops. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wakeUp();
    await this.loop;
    this.s.state = 'stopped';
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(done, Math.max(0, ms));
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
  }

  /** Readings per buffer batch: one part with one request in flight, more parts with more. */
  private fetchSize(): number {
    const inFlight = this.deps.cloud.maxInFlight;
    if (inFlight <= 1) return this.s.effectiveBatchSize;
    return Math.min(2 * MAX_READINGS_PER_BATCH, this.s.effectiveBatchSize * inFlight * PARTS_PER_SLOT);
  }

  private async run(): Promise<void> {
    const { buffer, cloud } = this.deps;
    while (!this.stopping) {
      const decision = await this.sendWindow();
      if (decision === null) {
        this.s.state = 'idle';
        const due = buffer.nextBatchDueAtMs(cloud.maxBatchAgeMs);
        this.unbatchedApprox = due === null ? 0 : this.unbatchedApprox;
        // Sleep until the oldest unbatched reading is due, or enough arrive for a full batch.
        this.emptyWait = due === null;
        await this.sleep(due === null ? 60_000 : due - this.now());
        this.emptyWait = false;
        continue;
      }
      if (this.stopping) break;
      if (decision.action === 'retry' || decision.action === 'auth') {
        this.s.state = decision.action === 'auth' ? 'auth_failed' : 'backoff';
        this.s.nextAttemptAt = new Date(this.now() + decision.delayMs).toISOString();
        await this.sleep(decision.delayMs);
        this.s.nextAttemptAt = null;
      }
    }
  }

  /**
   * The buffer batch to send next, passing over the one being sent (`except`): a pending one,
   * else a new one when due. Its progress starts here, so readings it took are counted off once.
   */
  private fetch(except?: string): OutboundBatch | null {
    const batch = this.deps.buffer.nextBatch({
      maxReadings: this.fetchSize(),
      maxAgeMs: this.deps.cloud.maxBatchAgeMs,
      nowMs: this.now(),
      ...(except === undefined ? {} : { except }),
    });
    if (batch && !this.progress.has(batch.batchId)) {
      if (batch.attempts === 0) this.unbatchedApprox = Math.max(0, this.unbatchedApprox - batch.texts.length);
      this.progress.set(batch.batchId, new Uint8Array(batch.texts.length));
    }
    return batch;
  }

  /** The parts of `batch` not yet acknowledged, at the current part size. */
  private todoOf(batch: OutboundBatch): Part[] {
    const done = this.progress.get(batch.batchId)!;
    return this.partsOf(batch).filter((p) => done.subarray(p.start, p.end).includes(0));
  }

  /** The parts of `batch` at the current part size; one part, under the batch's own id, if it fits. */
  private partsOf(batch: OutboundBatch): Part[] {
    const n = batch.texts.length;
    const size = this.s.effectiveBatchSize;
    if (n <= size) return [{ id: batch.batchId, start: 0, end: n }];
    const parts: Part[] = [];
    for (let start = 0; start < n; start += size) {
      const end = Math.min(n, start + size);
      parts.push({ id: `${batch.batchId}:u${start}-${end}`, start, end });
    }
    return parts;
  }

  /**
   * Sends buffer batches, `maxInFlight` requests at once, until there is nothing to send or a
   * part fails. Up to two batches are open: when every part of the open ones has been sent,
   * the next batch is read so the free slots go on with it; a batch is acknowledged as soon as
   * its last part is answered, and the window never waits for a whole batch to finish. Returns
   * null when nothing was there to send, else `done` or what the first failed part asks of its
   * batch (retry, split, park, auth); the other open batch then stays pending with what the
   * cloud has acknowledged of it.
   */
  private async sendWindow(): Promise<Decision | null> {
    const open: OpenBatch[] = [];
    // Widened so the assignments inside `slot` are seen after the await.
    let failure = null as Failure | null;
    let inFlight = 0;
    let waiters: Array<() => void> = [];
    const admit = (): boolean => {
      if (open.length >= 2) return false;
      const batch = this.fetch(open[0]?.batch.batchId);
      if (!batch) return false;
      const o = { batch, done: this.progress.get(batch.batchId)!, todo: this.todoOf(batch), next: 0 };
      open.push(o);
      this.s.state = 'sending';
      this.s.currentBatchId = open[0]!.batch.batchId;
      if (o.todo.length === 0) this.acknowledge(o, open);
      return true;
    };
    const slot = async (): Promise<void> => {
      while (failure === null && !this.stopping) {
        const o = open.find((x) => x.next < x.todo.length);
        if (!o) {
          if (admit()) continue;
          // Both open batches are all in flight: wait for an answer to make room.
          if (open.length < 2 || inFlight === 0) break;
          await new Promise<void>((r) => waiters.push(r));
          continue;
        }
        const part = o.todo[o.next++]!;
        inFlight++;
        const { decision, res } = await this.post(o.batch, part);
        inFlight--;
        if (decision.action === 'done') {
          o.done.fill(1, part.start, part.end);
          if (!o.done.includes(0)) this.acknowledge(o, open);
        } else failure ??= { decision, res, part, batch: o.batch };
        const w = waiters;
        waiters = [];
        for (const r of w) r();
      }
    };
    if (!admit()) return null;
    await Promise.all(Array.from({ length: Math.max(1, this.deps.cloud.maxInFlight) }, slot));
    if (failure === null) {
      // Stopping between parts: the open batches stay pending and are resent, part by part, after a restart.
      if (open.length > 0)
        return { action: 'retry', delayMs: 0, reason: 'stopping', honouredRetryAfter: false };
      return { action: 'done' };
    }
    return this.decideFailure(failure);
  }

  /** Every reading of `o` acknowledged by the cloud: the buffer batch leaves the outbox. */
  private acknowledge(o: OpenBatch, open: OpenBatch[]): void {
    this.deps.buffer.ack(o.batch.batchId, this.now());
    this.progress.delete(o.batch.batchId);
    open.splice(open.indexOf(o), 1);
    this.s.attempt = 0;
    this.s.lastError = null;
    this.s.lastForwardAt = new Date(this.now()).toISOString();
    this.s.currentBatchId = open[0]?.batch.batchId ?? null;
  }

  /** What a failed part asks of its buffer batch: retry, split, park or auth, logged and done. */
  private decideFailure(failure: Failure): Decision {
    const { buffer, log } = this.deps;
    const { res, part, batch } = failure;
    this.s.currentBatchId = batch.batchId;
    let decision = failure.decision;
    // A refused part of a larger batch halves the batch, so that only the refused reading is parked.
    if (decision.action === 'park' && batch.texts.length > 1)
      decision = { action: 'split', reason: decision.reason, shrink: false };
    const count = part.end - part.start;
    const status = 'error' in res ? null : res.status;
    const ctx = { batchId: part.id, count, status, attempt: this.s.attempt + 1 };

    switch (decision.action) {
      case 'done':
        break;
      case 'split': {
        const parts = buffer.split(batch.batchId);
        this.progress.delete(batch.batchId);
        if (decision.shrink) {
          this.s.effectiveBatchSize = Math.max(1, Math.min(this.s.effectiveBatchSize, Math.floor(count / 2)));
          this.successesInRow = 0;
        }
        log.warn(
          {
            event: 'forward.split',
            ...ctx,
            into: parts,
            batchSize: this.s.effectiveBatchSize,
            reason: decision.reason,
          },
          decision.shrink
            ? 'cloud said 413: sending the batch in halves'
            : 'cloud refused the batch: sending it in halves so only the refused reading is parked',
        );
        this.s.currentBatchId = null;
        break;
      }
      case 'park': {
        const reason = `${decision.reason}: ${'body' in res ? res.body.slice(0, 300) : ''}`;
        buffer.park(batch.batchId, reason, this.now());
        this.progress.delete(batch.batchId);
        log.error(
          { event: 'forward.parked', ...ctx, reason },
          'cloud refused the batch in a way retrying cannot fix: parked, not dropped',
        );
        this.s.attempt = 0;
        this.s.currentBatchId = null;
        break;
      }
      case 'retry':
      case 'auth': {
        const why = 'error' in res ? res.error : `${res.status} ${res.body.slice(0, 200)}`;
        buffer.recordAttempt(batch.batchId, why);
        this.s.attempt++;
        this.s.lastError = why;
        this.successesInRow = 0;
        const fields = { event: 'forward.retry', ...ctx, delayMs: decision.delayMs, reason: why };
        if (decision.action === 'auth')
          log.error(fields, 'cloud refused the gateway (token or URL): retrying; needs a human');
        else
          log.warn(
            { ...fields, retryAfter: decision.honouredRetryAfter },
            'batch not stored; retrying the same batchId',
          );
        break;
      }
    }
    return decision;
  }

  /** One request: a part of `batch`; counts and logs its outcome, decides nothing for the batch. */
  private async post(batch: OutboundBatch, part: Part): Promise<{ decision: Decision; res: HttpResult }> {
    const { client, metrics, log, gatewayId, cloud } = this.deps;
    const count = part.end - part.start;
    // Each reading's text apart (small strings), joined in the client's kept buffer: the part's
    // whole text as one string would be a large allocation per request (body-buffers.ts).
    const items = batch.texts.slice(part.start, part.end);
    const head = `{"gatewayId":${JSON.stringify(gatewayId)},"batchId":${JSON.stringify(part.id)},"readings":[`;
    const res = await client.post('/v1/batches', { head, items, tail: ']}' }, { gzip: true });
    const decision = decide(
      'error' in res
        ? { error: res.error, readings: count }
        : { status: res.status, retryAfter: res.retryAfter, readings: count },
      this.s.attempt,
      cloud.backoff,
      this.deps.random ?? Math.random,
      this.now(),
    );
    metrics.forwardLatency.observe({ outcome: decision.action }, res.latencyMs / 1000);
    metrics.batches.inc({ outcome: decision.action === 'done' ? 'sent' : decision.action });
    if (decision.action !== 'done') return { decision, res };
    metrics.forwardedReadings.inc(count);
    const status = 'error' in res ? null : res.status;
    const ctx = { batchId: part.id, count, status, attempt: this.s.attempt + 1 };
    const answer = 'body' in res ? readBatchAnswer(safeJson(res.body)) : undefined;
    const fields = answer
      ? { accepted: answer.accepted, duplicates: answer.duplicates, conflicts: answer.conflicts }
      : { accepted: null, duplicates: null };
    if (answer === null)
      log.warn({ event: 'forward.answer_unreadable', ...ctx }, 'cloud answered 2xx with an unexpected body');
    log.info(
      { event: 'forward.batch_sent', ...ctx, ...fields, latencyMs: Math.round(res.latencyMs) },
      'batch stored by the cloud',
    );
    if (++this.successesInRow >= GROW_AFTER_SUCCESSES && this.s.effectiveBatchSize < cloud.batchSize) {
      this.s.effectiveBatchSize = Math.min(cloud.batchSize, this.s.effectiveBatchSize * 2);
      this.successesInRow = 0;
    }
    return { decision, res };
  }
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return null;
  }
}
