/**
 * Sink: buffer → cloud (Contract 2). One batch in flight per gateway. A batch is assigned
 * and committed in the buffer before its first attempt, so every retry — after back-off, a
 * Retry-After, or a restart — sends the same readings under the same batchId, and the cloud
 * can answer a repeat with `duplicates`. Readings leave the outbox only on a 2xx.
 */
import { BatchAnswerSchema } from '@ironledger/contracts';
import type { Logger } from '@ironledger/logger';
import type { OutboundBatch, ReadingBuffer } from '../buffer/buffer.js';
import type { EdgeConfig } from '../config.js';
import type { EdgeMetrics } from '../http/metrics.js';
import type { CloudClient } from './cloud-client.js';
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

/** After this many 2xx in a row the batch size, halved by a 413, is doubled back. */
const GROW_AFTER_SUCCESSES = 20;

export class Forwarder {
  private stopping = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private unbatchedApprox = 0;
  private emptyWait = false;
  private successesInRow = 0;
  private readonly s: ForwarderState;

  constructor(
    private readonly deps: {
      buffer: ReadingBuffer;
      client: CloudClient;
      cloud: EdgeConfig['cloud'];
      gatewayId: string;
      metrics: EdgeMetrics;
      log: Logger;
      random?: () => number;
      now?: () => number;
    },
  ) {
    this.s = {
      state: 'idle',
      attempt: 0,
      currentBatchId: null,
      nextAttemptAt: null,
      lastError: null,
      lastForwardAt: null,
      effectiveBatchSize: deps.cloud.batchSize,
    };
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
      this.deps.log.fatal({ event: 'forward.crashed', err: e }, 'forwarder stopped on an unexpected error');
    });
  }

  /** New readings are in the buffer (n of them). */
  notify(n: number): void {
    this.unbatchedApprox += n;
    // Wake when a full batch is waiting, or when the loop sleeps with nothing to send at
    // all (it then learns when the new readings fall due).
    if (this.emptyWait || this.unbatchedApprox >= this.s.effectiveBatchSize) this.wakeUp();
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

  private async run(): Promise<void> {
    const { buffer, cloud } = this.deps;
    while (!this.stopping) {
      const batch = buffer.nextBatch({
        maxReadings: this.s.effectiveBatchSize,
        maxAgeMs: cloud.maxBatchAgeMs,
        nowMs: this.now(),
      });
      if (!batch) {
        this.s.state = 'idle';
        const due = buffer.nextBatchDueAtMs(cloud.maxBatchAgeMs);
        this.unbatchedApprox = due === null ? 0 : this.unbatchedApprox;
        // Sleep until the oldest unbatched reading is due, or enough arrive for a full batch.
        this.emptyWait = due === null;
        await this.sleep(due === null ? 60_000 : due - this.now());
        this.emptyWait = false;
        continue;
      }
      if (batch.attempts === 0 && this.s.currentBatchId !== batch.batchId) {
        this.unbatchedApprox = Math.max(0, this.unbatchedApprox - batch.readings.length);
      }
      const decision = await this.attempt(batch);
      if (this.stopping) break;
      if (decision.action === 'retry' || decision.action === 'auth') {
        this.s.state = decision.action === 'auth' ? 'auth_failed' : 'backoff';
        this.s.nextAttemptAt = new Date(this.now() + decision.delayMs).toISOString();
        await this.sleep(decision.delayMs);
        this.s.nextAttemptAt = null;
      }
    }
  }

  private async attempt(batch: OutboundBatch): Promise<Decision> {
    const { client, buffer, metrics, log, gatewayId, cloud } = this.deps;
    this.s.state = 'sending';
    this.s.currentBatchId = batch.batchId;
    const count = batch.readings.length;
    const body = `{"gatewayId":${JSON.stringify(gatewayId)},"batchId":${JSON.stringify(batch.batchId)},"readings":${batch.readingsJson}}`;
    const res = await client.post('/v1/batches', body, { gzip: true });
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
    const status = 'error' in res ? null : res.status;
    const ctx = { batchId: batch.batchId, count, status, attempt: this.s.attempt + 1 };

    switch (decision.action) {
      case 'done': {
        buffer.ack(batch.batchId, this.now());
        metrics.forwardedReadings.inc(count);
        const answer = 'body' in res ? BatchAnswerSchema.safeParse(safeJson(res.body)) : null;
        const fields = answer?.success
          ? {
              accepted: answer.data.accepted,
              duplicates: answer.data.duplicates,
              conflicts: answer.data.conflicts,
            }
          : { accepted: null, duplicates: null };
        if (answer && !answer.success)
          log.warn(
            { event: 'forward.answer_unreadable', ...ctx },
            'cloud answered 2xx with an unexpected body',
          );
        log.info(
          { event: 'forward.batch_sent', ...ctx, ...fields, latencyMs: Math.round(res.latencyMs) },
          'batch stored by the cloud',
        );
        this.s.attempt = 0;
        this.s.lastError = null;
        this.s.lastForwardAt = new Date(this.now()).toISOString();
        this.s.currentBatchId = null;
        if (++this.successesInRow >= GROW_AFTER_SUCCESSES && this.s.effectiveBatchSize < cloud.batchSize) {
          this.s.effectiveBatchSize = Math.min(cloud.batchSize, this.s.effectiveBatchSize * 2);
          this.successesInRow = 0;
        }
        break;
      }
      case 'split': {
        const parts = buffer.split(batch.batchId);
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
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return null;
  }
}
