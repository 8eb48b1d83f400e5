/**
 * Group commit between the MQTT side and the buffer. Each message is decoded at once and
 * queued with its acknowledgement callback; the queue is committed in one transaction on
 * the next turn of the event loop (or as soon as it holds `groupCommitMax` messages), and
 * only then are the callbacks called — in arrival order, so the PUBACKs a client receives
 * keep the order of its PUBLISHes [MQTT-4.6.0-2]. A callback with an error means "not
 * stored": the broker withholds the PUBACK and the unit keeps the reading.
 */
import type { ParsedTopic } from '@ironledger/contracts';
import { isIronLedgerError } from '@ironledger/errors';
import type { Logger } from '@ironledger/logger';
import { AppendGroup } from '../buffer/append-group.js';
import type { AppendItem, AppendOutcome, ReadingBuffer } from '../buffer/buffer.js';
import { type EdgeMetrics, reasonKind } from '../http/metrics.js';
import { decodeMessage } from './decoders/index.js';

export interface IngestMessage {
  topic: string;
  payload: Buffer;
  clientId?: string | undefined;
  /** `parseUnitTopic(topic)`, when the caller has it already. */
  parsedTopic?: ParsedTopic | null;
}

export type Ack = (err: Error | null) => void;

/** At most one `reading.quarantined` line per this interval, ms. */
const QUARANTINE_LOG_INTERVAL_MS = 1000; // 1 s

export class Ingestor {
  // The queue: the group (readings packed as they arrive) and its acknowledgements, in
  // step. Two groups take turns, so neither's memory is allocated again for each commit.
  private group = new AppendGroup();
  private spare: AppendGroup | null = new AppendGroup();
  private acks: Ack[] = [];
  // Messages received per source since the last commit; added to the counter once per group.
  private receivedTelemetry = 0;
  private receivedAemp = 0;
  private receivedOther = 0;
  private scheduled: NodeJS.Immediate | null = null;
  private readonly flushSoon = () => this.flush();
  private fullAlarm = false;
  // Quarantine log lines: at most one per QUARANTINE_LOG_INTERVAL_MS, with the count of the
  // ones not logged since, so a flood of garbage writes a bounded log.
  private lastQuarantineLogMs = 0;
  private quarantineUnlogged = 0;
  private readonly onFullChange: (full: boolean) => void;
  private readonly now: () => number;

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
    this.now = opts.now ?? Date.now;
  }

  /** True while the disk budget is reached; publishes are refused before they are decoded. */
  get refusing(): boolean {
    return this.buffer.isFull();
  }

  submit(msg: IngestMessage, ack: Ack): void {
    const receivedAtMs = this.now();
    const topic = msg.topic;
    if (topic.endsWith('/telemetry')) this.receivedTelemetry++;
    else if (topic.endsWith('/aemp')) this.receivedAemp++;
    else this.receivedOther++;
    const d = decodeMessage(topic, msg.payload, receivedAtMs, msg.parsedTopic);
    if (d.ok) this.group.addReading(d.reading);
    else
      this.group.add({
        kind: 'quarantine',
        topic,
        payload: msg.payload,
        reason: d.reason,
        receivedAtMs,
        clientId: msg.clientId,
      });
    this.acks.push(ack);
    if (this.acks.length >= this.opts.groupCommitMax) this.flush();
    else if (!this.scheduled) this.scheduled = setImmediate(this.flushSoon);
  }

  /** Commits what is queued now. Synchronous: returns after the transaction. */
  flush(): void {
    if (this.scheduled) {
      clearImmediate(this.scheduled);
      this.scheduled = null;
    }
    this.countReceived();
    const group = this.group;
    const acks = this.acks;
    if (acks.length === 0) return;
    this.group = this.spare ?? new AppendGroup();
    this.spare = null;
    this.acks = [];
    try {
      this.commit(group, acks);
    } finally {
      group.clear();
      this.spare = group;
    }
  }

  private commit(group: AppendGroup, acks: Ack[]): void {
    const started = process.hrtime.bigint();
    let outcomes: AppendOutcome[];
    try {
      outcomes = this.buffer.appendGroup(group);
    } catch (e) {
      this.refuse(acks, e);
      return;
    }
    this.metrics.groupCommitSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
    this.metrics.groupCommitSize.observe(group.length);
    if (this.fullAlarm) this.setFull(false);
    let stored = 0;
    let conflicts = 0;
    let dups = 0;
    let firstDup: AppendItem | null = null;
    for (let i = 0; i < outcomes.length; i++) {
      const o = outcomes[i]!;
      if (o === 'stored') stored++;
      else this.account(group.at(i), o);
      if (o === 'conflict') conflicts++;
      else if (o === 'duplicate' && dups++ === 0) firstDup = group.at(i);
    }
    if (stored > 0) {
      this.metrics.stored.inc({ outcome: 'stored' }, stored);
      if (this.log.isLevelEnabled('debug'))
        for (let i = 0; i < outcomes.length; i++) {
          const it = group.at(i);
          if (outcomes[i] === 'stored' && it.kind === 'reading')
            this.log.debug({ event: 'reading.stored', unitId: it.reading.unitId, ts: it.reading.ts });
        }
    }
    if (dups > 0 && firstDup?.kind === 'reading') {
      // One line per group, not per copy: a redelivery storm must not flood the log.
      const r = firstDup.reading;
      this.log.info(
        { event: 'reading.duplicate', count: dups, unitId: r.unitId, ts: r.ts },
        'duplicates stored once',
      );
    }
    const evicted = this.buffer.takeQuarantineEvictions();
    if (evicted > 0) this.metrics.quarantineEvicted.inc(evicted);
    // PUBACKs strictly after the commit, in arrival order [MQTT-4.6.0-2].
    for (let i = 0; i < acks.length; i++) acks[i]!(null);
    if (stored + conflicts > 0) this.opts.onStored?.(stored + conflicts);
  }

  private countReceived(): void {
    const m = this.metrics.received;
    if (this.receivedTelemetry > 0) m.inc({ source: 'telemetry' }, this.receivedTelemetry);
    if (this.receivedAemp > 0) m.inc({ source: 'aemp' }, this.receivedAemp);
    if (this.receivedOther > 0) m.inc({ source: 'other' }, this.receivedOther);
    this.receivedTelemetry = this.receivedAemp = this.receivedOther = 0;
  }

  private refuse(acks: Ack[], e: unknown): void {
    const full = isIronLedgerError(e, 'BUFFER_FULL');
    this.metrics.refused.inc({ reason: full ? 'buffer_full' : 'store_failed' }, acks.length);
    if (full) this.setFull(true);
    else
      this.log.error(
        { event: 'buffer.write_failed', err: e, messages: acks.length },
        'buffer write failed; publishes refused',
      );
    const err = e instanceof Error ? e : new Error(String(e));
    for (const ack of acks) ack(err);
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

  /** The rare outcomes, one by one ('stored' is counted per group in `flush`). */
  private account(item: AppendItem, o: AppendOutcome): void {
    switch (o) {
      case 'stored':
        break;
      case 'conflict': {
        const r = item.kind === 'reading' ? item.reading : null;
        this.metrics.stored.inc({ outcome: o });
        this.metrics.conflicts.inc();
        this.log.warn(
          { event: 'reading.conflict', unitId: r?.unitId, ts: r?.ts },
          'same identity, different content: both kept, flagged',
        );
        break;
      }
      case 'duplicate': {
        this.metrics.duplicates.inc();
        break;
      }
      case 'quarantined': {
        if (item.kind !== 'quarantine') break;
        this.metrics.quarantined.inc({ reason: reasonKind(item.reason) });
        const now = this.now();
        if (now - this.lastQuarantineLogMs < QUARANTINE_LOG_INTERVAL_MS) {
          this.quarantineUnlogged++;
          break;
        }
        this.lastQuarantineLogMs = now;
        this.log.warn(
          {
            event: 'reading.quarantined',
            topic: item.topic.slice(0, 256),
            clientId: item.clientId?.slice(0, 128),
            reason: item.reason.slice(0, 512),
            bytes: item.payload.length,
            notLoggedBefore: this.quarantineUnlogged,
          },
          'message quarantined',
        );
        this.quarantineUnlogged = 0;
        break;
      }
    }
  }
}
