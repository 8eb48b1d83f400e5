/**
 * The gateway's buffer: every reading a unit published, from the moment it is acknowledged
 * until the cloud has acknowledged it, and the quarantine of messages that were not readings.
 *
 * Durability promise
 *   - `append` returns only after its transaction is committed. The broker sends a unit's
 *     PUBACK after `append` returns [MQTT-4.3.2-2], so an acknowledged reading is on disk:
 *     it survives SIGKILL at any instant, and power loss too with `synchronous = FULL`
 *     (the WAL is fsynced at every commit; group commit makes that one fsync per group).
 *   - Identity is (unitId, ts) (DESIGN.md, Contract 1): a second copy with the same content
 *     is a duplicate and changes nothing; a copy with different content is a conflict, kept
 *     beside the first version and forwarded flagged. Nothing is silently dropped.
 *   - A reading is assigned to a batch, and the assignment is committed, before the batch is
 *     sent: a retry, even after a restart, sends the same readings under the same batchId.
 *   - Data is deleted only after acknowledgement: a reading leaves the outbox when the cloud
 *     answered 2xx for its batch (`ack`); sent readings are pruned later by housekeeping.
 *     Unsent readings are never deleted, not even when the disk budget is reached: then
 *     `append` refuses new readings (`when_full = block`), and units keep their own buffers.
 *
 * On-disk format (SQLite, WAL journal, schema version in `PRAGMA user_version`)
 *   outbox     (id AUTOINCREMENT, unit_ref, ts ms, rx = receivedAt - ts ms, held, seq,
 *              engine_hours, idle_hours, engine_on, lat, lon, speed_kmh, fuel_used_l,
 *              odometer_km, source, flags, body) UNIQUE(ts, unit_ref): the first version of
 *              each identity as typed columns (reading-codec.ts: the forwarded JSON comes back
 *              byte for byte; body holds the JSON only of a reading the columns cannot
 *              reproduce). ~105 bytes per reading. Readings with id > meta.outbox_cursor are
 *              not yet in a batch; ids are assigned to batches in order.
 *   units      (ref, unit_id UNIQUE): unit ids interned
 *   readings   a view of the outbox in the v1-v3 shape (unit_id, ts text, batch_id) for tools
 *   conflicts  (id, unit_id, ts, content_hash, body JSON, received_at, held, batch_id);
 *              UNIQUE(ts, unit_id, content_hash): later versions of an identity
 *   batches    (batch_id, state pending|sent|parked|split, readings, created_at, attempts, ...,
 *              first_id, last_id): the batch's readings are outbox ids first_id..last_id
 *   quarantine (id, received_at, topic, client_id, reason, payload BLOB, size, sha256, replayed_at)
 *              payload = at most `quarantine.maxPayloadBytes` of it; size and sha256 of the whole.
 *              A room of its own: at most `quarantine.maxEntries` rows (oldest evicted,
 *              counted), outside the disk budget, so garbage can never refuse a valid reading.
 *   meta       (key, value): the gateway the file belongs to
 */
import type { ForwardedReading } from '@ironledger/contracts';
import type { AppendGroup } from './append-group.js';

export type AppendItem =
  | { kind: 'reading'; reading: ForwardedReading }
  | {
      kind: 'quarantine';
      topic: string;
      payload: Buffer;
      reason: string;
      receivedAtMs: number;
      clientId?: string | undefined;
    };

export type AppendOutcome = 'stored' | 'duplicate' | 'conflict' | 'quarantined';

export interface OutboundBatch {
  batchId: string;
  /**
   * Each forwarded reading's JSON text exactly as it is sent, grouped by unit (units in the
   * order of their first reading, each unit's in buffer order); the same after every restart.
   */
  texts: readonly string[];
  /** The same readings as objects, parsed from `texts` when first asked for (tools, tests). */
  readonly readings: ForwardedReading[];
  createdAtMs: number;
  attempts: number;
}

export interface BufferStats {
  /** Readings stored and not yet acknowledged by the cloud (parked included). */
  queuedReadings: number;
  /** Receive time of the oldest unacknowledged reading; null when nothing is queued. */
  oldestUnsentReceivedAtMs: number | null;
  /** Readings not yet assigned to a batch. */
  unbatchedReadings: number;
  pendingBatches: number;
  parkedBatches: number;
  parkedReadings: number;
  /** Unsent readings flagged clock_invalid (the cloud holds them from usage). */
  heldReadings: number;
  /** Quarantined messages not (successfully) replayed. */
  quarantined: number;
  conflicts: number;
  /** Bytes in live pages (file size less free pages). */
  usedBytes: number;
}

export interface QuarantineEntry {
  id: number;
  receivedAt: string;
  topic: string;
  clientId: string | null;
  reason: string;
  /** The payload as kept: its first `quarantine.maxPayloadBytes` bytes. */
  payload: Buffer;
  /** Size of the whole payload as received, bytes. */
  size: number;
  /** sha256 (hex) of the whole payload as received. */
  sha256: string;
  replayedAt: string | null;
}

export interface BatchInfo {
  batchId: string;
  state: 'pending' | 'sent' | 'parked' | 'split';
  readings: number;
  createdAt: string;
  attempts: number;
  lastError: string | null;
}

export type ReplayDecoder = (
  topic: string,
  payload: Buffer,
  receivedAtMs: number,
) => { ok: true; reading: ForwardedReading } | { ok: false; reason: string };

export interface ReplaySummary {
  considered: number;
  stored: number;
  duplicates: number;
  conflicts: number;
  stillInvalid: number;
}

export interface ReadingBuffer {
  /** Commits all items in one transaction; outcomes in item order. Throws BUFFER_FULL when over budget. */
  append(items: readonly AppendItem[]): AppendOutcome[];
  /** `append` for the items of a group, in its order (the ingest's group commit). */
  appendGroup(group: AppendGroup): AppendOutcome[];
  /** True when live data has reached the disk budget (new readings are refused). */
  isFull(): boolean;
  /**
   * The batch to send next: the oldest pending one (a retry keeps its batchId), else a new
   * one of up to `maxReadings` unbatched readings when there are `maxReadings` of them or the
   * oldest is `maxAgeMs` old (or `force`). The assignment is committed before returning.
   * `except`: a pending batch already being sent, passed over (the next one is prepared while
   * its last requests are in flight).
   */
  nextBatch(opts: {
    maxReadings: number;
    maxAgeMs: number;
    nowMs: number;
    force?: boolean;
    except?: string;
  }): OutboundBatch | null;
  /** When the oldest unbatched reading reaches `maxAgeMs` (ms epoch), or null if none. */
  nextBatchDueAtMs(maxAgeMs: number): number | null;
  /** The cloud answered 2xx: the batch's readings leave the outbox. */
  ack(batchId: string, nowMs: number): void;
  recordAttempt(batchId: string, error: string): void;
  /** A failure retrying cannot fix: kept, never dropped, reported; `unpark` re-queues. */
  park(batchId: string, reason: string, nowMs: number): void;
  unpark(batchId?: string): number;
  /** 413: replaces the batch by two halves (new stable ids derived from the old one). */
  split(batchId: string): string[];
  listBatches(state?: BatchInfo['state']): BatchInfo[];
  stats(): BufferStats;
  listQuarantine(opts?: { limit?: number; includeReplayed?: boolean }): QuarantineEntry[];
  replayQuarantine(decode: ReplayDecoder, ids?: readonly number[]): ReplaySummary;
  /** Deletes readings whose batch was acknowledged before `beforeMs`; returns rows removed. */
  pruneSent(beforeMs: number): number;
  pruneQuarantine(beforeMs: number): number;
  /** Quarantined messages evicted to keep the quarantine's bound, since the last call. */
  takeQuarantineEvictions(): number;
  /** Returns free pages to the file system and truncates the WAL. */
  vacuum(opts?: { full?: boolean }): void;
  close(): void;
}
