/**
 * Group commit between the MQTT side and the buffer. Each message is decoded at once and
 * queued with its acknowledgement callback; the queue is committed in one transaction on
 * the next turn of the event loop (or as soon as it holds `groupCommitMax` messages), and
 * only then are the callbacks called — in arrival order, so the PUBACKs a client receives
 * keep the order of its PUBLISHes [MQTT-4.6.0-2]. A callback with an error means "not
 * stored": the broker withholds the PUBACK and the unit keeps the reading.
 */
import { isIronLedgerError } from '@ironledger/errors';
import type { Logger } from '@ironledger/logger';
import type { AppendItem, AppendOutcome, ReadingBuffer } from '../buffer/buffer.js';
import { type EdgeMetrics, reasonKind } from '../http/metrics.js';
import { decodeMessage } from './decoders/index.js';

export interface IngestMessage {
  topic: string;
  payload: Buffer;
  clientId?: string | undefined;
}

export type Ack = (err: Error | null) => void;

export class Ingestor {
  private queue: Array<{ item: AppendItem; ack: Ack }> = [];
  private scheduled: NodeJS.Immediate | null = null;
  private fullAlarm = false;
  private readonly onFullChange: (full: boolean) => void;

  constructor(
    private readonly buffer: ReadingBuffer,
    private readonly metrics: EdgeMetrics,
    private readonly log: Logger,
    private readonly opts: {
      groupCommitMax: number;
      now?: () => number;
      onFullChange?: (full: boolean) => void;
      /** Readings newly stored by a commit (wakes the forwarder). */
      onStored?: (n: number) => void;
    },
  ) {
    this.onFullChange = opts.onFullChange ?? (() => {});
  }

  /** True while the disk budget is reached; publishes are refused before they are decoded. */
  get refusing(): boolean {
    return this.buffer.isFull();
  }

  submit(msg: IngestMessage, ack: Ack): void {
    const receivedAtMs = (this.opts.now ?? Date.now)();
    const kind = msg.topic.endsWith('/aemp')
      ? 'aemp'
      : msg.topic.endsWith('/telemetry')
        ? 'telemetry'
        : 'other';
    this.metrics.received.inc({ source: kind });
    const d = decodeMessage(msg.topic, msg.payload, receivedAtMs);
    const item: AppendItem = d.ok
      ? { kind: 'reading', reading: d.reading }
      : {
          kind: 'quarantine',
          topic: msg.topic,
          payload: msg.payload,
          reason: d.reason,
          receivedAtMs,
          clientId: msg.clientId,
        };
    this.queue.push({ item, ack });
    if (this.queue.length >= this.opts.groupCommitMax) this.flush();
    else if (!this.scheduled) this.scheduled = setImmediate(() => this.flush());
  }

  /** Commits what is queued now. Synchronous: returns after the transaction. */
  flush(): void {
    if (this.scheduled) {
      clearImmediate(this.scheduled);
      this.scheduled = null;
    }
    const group = this.queue;
    if (group.length === 0) return;
    this.queue = [];
    const started = process.hrtime.bigint();
    let outcomes: AppendOutcome[];
    try {
      outcomes = this.buffer.append(group.map((g) => g.item));
    } catch (e) {
      this.refuse(group, e);
      return;
    }
    this.metrics.groupCommitSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
    this.metrics.groupCommitSize.observe(group.length);
    if (this.fullAlarm) this.setFull(false);
    let dups = 0;
    let stored = 0;
    let firstDup: AppendItem | null = null;
    outcomes.forEach((o, i) => {
      const item = group[i]!.item;
      if (o === 'stored' || o === 'conflict') stored++;
      if (o === 'duplicate') {
        dups++;
        firstDup ??= item;
      }
      this.account(item, o);
    });
    if (dups > 0 && firstDup !== null && (firstDup as AppendItem).kind === 'reading') {
      // One line per group, not per copy: a redelivery storm must not flood the log.
      const r = (firstDup as Extract<AppendItem, { kind: 'reading' }>).reading;
      this.log.info(
        { event: 'reading.duplicate', count: dups, unitId: r.unitId, ts: r.ts },
        'duplicates stored once',
      );
    }
    for (const g of group) g.ack(null);
    if (stored > 0) this.opts.onStored?.(stored);
  }

  private refuse(group: Array<{ item: AppendItem; ack: Ack }>, e: unknown): void {
    const full = isIronLedgerError(e, 'BUFFER_FULL');
    this.metrics.refused.inc({ reason: full ? 'buffer_full' : 'store_failed' }, group.length);
    if (full) this.setFull(true);
    else
      this.log.error(
        { event: 'buffer.write_failed', err: e, messages: group.length },
        'buffer write failed; publishes refused',
      );
    const err = e instanceof Error ? e : new Error(String(e));
    for (const g of group) g.ack(err);
  }

  private setFull(full: boolean): void {
    if (full === this.fullAlarm) return;
    this.fullAlarm = full;
    if (full) {
      // error: needs a human (uplink down for too long, or the budget too small).
      this.log.error(
        { event: 'buffer.full', diskBudgetExceeded: true },
        'disk budget reached: new QoS 1 publishes are refused (no PUBACK); units keep their readings',
      );
    } else
      this.log.warn(
        { event: 'buffer.ok', diskBudgetExceeded: false },
        'disk budget available again: accepting publishes',
      );
    this.onFullChange(full);
  }

  /** Called when the budget is found reached outside a commit (a refused publish). */
  noteFull(): void {
    this.setFull(this.buffer.isFull());
  }

  private account(item: AppendItem, o: AppendOutcome): void {
    switch (o) {
      case 'stored':
      case 'conflict': {
        const r = item.kind === 'reading' ? item.reading : null;
        this.metrics.stored.inc({ outcome: o });
        if (o === 'conflict') {
          this.metrics.conflicts.inc();
          this.log.warn(
            { event: 'reading.conflict', unitId: r?.unitId, ts: r?.ts },
            'same identity, different content: both kept, flagged',
          );
        } else if (this.log.isLevelEnabled('debug'))
          this.log.debug({ event: 'reading.stored', unitId: r?.unitId, ts: r?.ts });
        break;
      }
      case 'duplicate': {
        this.metrics.duplicates.inc();
        break;
      }
      case 'quarantined': {
        if (item.kind !== 'quarantine') break;
        this.metrics.quarantined.inc({ reason: reasonKind(item.reason) });
        this.log.warn(
          { event: 'reading.quarantined', topic: item.topic, clientId: item.clientId, reason: item.reason },
          'message quarantined',
        );
        break;
      }
    }
  }
}
