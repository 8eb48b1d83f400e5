/**
 * The SQLite implementation of the buffer (see buffer.ts for the promise and the format).
 * One connection, synchronous calls: a group of readings is one transaction, and the event
 * loop does nothing else while it commits, so no reading is acknowledged half-stored.
 * The forwarder's thread opens a second connection to the same file (WAL: its reads never
 * wait for the writer; writes take turns, a group append or a batch's creation waiting up to
 * 5 s by the clock, `BUSY_TIMEOUT_MS`); what one connection
 * remembers (the batch cursor, the unbatched count) is read again when the other has
 * committed since.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { ForwardedReading } from '@ironledger/contracts';
import { readingContent } from '@ironledger/contracts/wire';
import { IronLedgerError, retryWhileSqliteBusy } from '@ironledger/errors';
import Database from 'better-sqlite3';
import { AppendGroup } from './append-group.js';
import type {
  AppendItem,
  AppendOutcome,
  BatchInfo,
  BufferStats,
  OutboundBatch,
  QuarantineEntry,
  ReadingBuffer,
  ReplayDecoder,
  ReplaySummary,
} from './buffer.js';
import { migrate } from './migrations.js';
import {
  decodeReading,
  type EncodedReading,
  encodeReading,
  OUTBOX_COLUMNS,
  OUTBOX_ROW_COLUMNS,
  type OutboxRow,
  readingHead,
  readingText,
} from './reading-codec.js';

export interface SqliteBufferOptions {
  path: string;
  /** The gateway this file belongs to; a file of another gateway is refused. */
  gatewayId: string;
  diskBudgetBytes?: number;
  synchronous?: 'FULL' | 'EXTRA' | 'NORMAL';
  /** Page cache of this connection, KiB (SQLite's `cache_size`; better-sqlite3 builds in 16000). */
  cacheKb?: number;
  /** Most quarantined messages kept (oldest evicted beyond it). */
  quarantineMaxEntries?: number;
  /** Bytes of a quarantined payload kept (its full size and sha256 are kept too). */
  quarantineMaxPayloadBytes?: number;
  /** Test hook: read-only open for inspection tools. */
  readonly?: boolean;
}

const MiB = 1024 * 1024;

/**
 * How long a write waits, by the clock, for the lock the other connection holds (the forwarder's
 * thread, the CLI): SQLite's own wait, retried until this much time has passed.
 */
const BUSY_TIMEOUT_MS = 5000;

export function contentHash(r: ForwardedReading): string {
  return createHash('sha256').update(readingContent(r)).digest('base64url').slice(0, 22);
}

/** A reading of a batch: from the outbox (`r`) or a conflicting version (`c`). */
interface RowRef {
  t: 'r' | 'c';
  id: number;
  unitId: string;
  /** The reading's JSON text, as sent. */
  text: string;
  receivedAtMs: number;
}

/** Most unit ids whose `units.ref` is kept in memory (open mode lets anyone invent ids). */
const UNIT_CACHE_MAX = 50_000;

export class SqliteBuffer implements ReadingBuffer {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly gatewayId: string;
  private readonly budgetBytes: number;
  private readonly pageSize: number;
  private full = false;
  private readonly quarantineMaxEntries: number;
  private readonly quarantineMaxPayloadBytes: number;
  /** Approximate bytes the quarantine occupies: its own room, outside the disk budget. */
  private quarantineBytes = 0;
  private quarantineEvictions = 0;
  private readonly st: ReturnType<SqliteBuffer['prepare']>;
  /** unit id ↔ units.ref, as committed (cleared when a transaction rolls back). */
  private unitRefs = new Map<string, number>();
  private unitIds = new Map<number, string>();
  /** units.ref → `readingHead` of its unit id: the start of each of its readings' text. */
  private heads = new Map<number, string>();
  /** Outbox readings with id > cursor are not assigned to a batch yet (meta.outbox_cursor). */
  private cursor = 0;
  /**
   * Outbox readings above the cursor: counted at open, then kept up to date by this
   * connection's own writes, and counted again when another connection (the CLI's
   * `replay`) has committed to the file since (`PRAGMA data_version` moved).
   */
  private unbatchedOutbox = 0;
  private dataVersion = 0;
  /**
   * Schema version of the file as found (0: a new file) and after opening; they differ
   * when this agent upgraded a file written by an older one.
   */
  readonly schema: { readonly from: number; readonly to: number };

  constructor(opts: SqliteBufferOptions) {
    this.path = opts.path;
    this.gatewayId = opts.gatewayId;
    this.budgetBytes = opts.diskBudgetBytes ?? 1024 * MiB;
    this.quarantineMaxEntries = opts.quarantineMaxEntries ?? 10_000;
    this.quarantineMaxPayloadBytes = opts.quarantineMaxPayloadBytes ?? 4096;
    if (opts.path !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(opts.path)), { recursive: true });
    this.db = new Database(opts.path);
    try {
      this.db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      // auto_vacuum takes effect only before the first table exists: set it on a new file.
      if ((this.db.pragma('page_count', { simple: true }) as number) === 0)
        this.db.pragma('auto_vacuum = INCREMENTAL');
      this.db.pragma('journal_mode = WAL');
      this.db.pragma(`synchronous = ${opts.synchronous ?? 'FULL'}`);
      if (opts.cacheKb !== undefined)
        this.db.pragma(`cache_size = ${-Math.max(1, Math.round(opts.cacheKb))}`);
      const from = this.db.pragma('user_version', { simple: true }) as number;
      this.schema = { from, to: migrate(this.db) };
      this.bindGateway();
    } catch (e) {
      this.db.close();
      throw new IronLedgerError('STORE_FAILED', `buffer ${opts.path}: ${(e as Error).message}`, {
        cause: e,
        retryable: false,
      });
    }
    this.pageSize = this.db.pragma('page_size', { simple: true }) as number;
    this.st = this.prepare();
    this.cursor = Number(this.st.getCursor.get() ?? 0);
    this.recountUnbatched();
    this.measureQuarantine();
    this.full = this.readingBytes() >= this.budgetBytes;
  }

  private bindGateway(): void {
    const row = this.db.prepare(`SELECT value FROM meta WHERE key = 'gatewayId'`).get() as
      | { value: string }
      | undefined;
    if (!row) this.db.prepare(`INSERT INTO meta(key, value) VALUES ('gatewayId', ?)`).run(this.gatewayId);
    else if (row.value !== this.gatewayId) {
      // Forwarding another gateway's readings under this gateway's id would misattribute them.
      throw new Error(`belongs to gateway ${row.value}, not ${this.gatewayId}`);
    }
  }

  private prepare() {
    const db = this.db;
    return {
      insertReading: db.prepare(
        `INSERT INTO outbox(${OUTBOX_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(ts, unit_ref) DO NOTHING`,
      ),
      readingByIdentity: db
        .prepare(`SELECT ${OUTBOX_ROW_COLUMNS} FROM outbox WHERE ts = ? AND unit_ref = ?`)
        .raw(),
      unitRef: db.prepare(`SELECT ref FROM units WHERE unit_id = ?`).pluck(),
      unitId: db.prepare(`SELECT unit_id FROM units WHERE ref = ?`).pluck(),
      addUnit: db.prepare(`INSERT INTO units(unit_id) VALUES (?)`),
      getCursor: db.prepare(`SELECT value FROM meta WHERE key = 'outbox_cursor'`).pluck(),
      setCursor: db.prepare(
        `INSERT INTO meta(key, value) VALUES ('outbox_cursor', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`,
      ),
      countOutboxAbove: db.prepare(`SELECT count(*) FROM outbox WHERE id > ?`).pluck(),
      dataVersion: db.prepare('PRAGMA data_version').pluck(),
      outboxRange: db
        .prepare(`SELECT ${OUTBOX_ROW_COLUMNS} FROM outbox WHERE id BETWEEN ? AND ? ORDER BY id`)
        .raw(),
      deleteOutboxRange: db.prepare(`DELETE FROM outbox WHERE id BETWEEN ? AND ?`),
      insertConflict: db.prepare(
        `INSERT INTO conflicts(unit_id, ts, content_hash, body, received_at, held) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT(ts, unit_id, content_hash) DO NOTHING`,
      ),
      insertQuarantine: db.prepare(
        `INSERT INTO quarantine(received_at, topic, client_id, reason, payload, size, sha256) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ),
      evictQuarantine: db.prepare(
        `DELETE FROM quarantine WHERE id <= (SELECT id FROM quarantine ORDER BY id DESC LIMIT 1 OFFSET ?)`,
      ),
      quarantineBytes: db
        .prepare(
          // Row estimate: payload prefix + texts + ~48 bytes of record header, ids and integers.
          `SELECT coalesce(sum(length(payload) + length(topic) + length(reason) + coalesce(length(client_id), 0) + length(sha256) + 48), 0) FROM quarantine`,
        )
        .pluck(),
      pageCount: db.prepare('PRAGMA page_count').pluck(),
      freelist: db.prepare('PRAGMA freelist_count').pluck(),
      oldestPending: db.prepare(
        `SELECT batch_id, created_at, attempts FROM batches WHERE state = 'pending' ORDER BY created_at, batch_id LIMIT 1`,
      ),
      oldestPendingExcept: db.prepare(
        `SELECT batch_id, created_at, attempts FROM batches WHERE state = 'pending' AND batch_id <> ? ORDER BY created_at, batch_id LIMIT 1`,
      ),
      unbatchedReadings: db
        .prepare(`SELECT ${OUTBOX_ROW_COLUMNS} FROM outbox WHERE id > ? ORDER BY id LIMIT ?`)
        .raw(),
      unbatchedConflicts: db.prepare(
        `SELECT id, body, received_at FROM conflicts WHERE batch_id IS NULL ORDER BY id LIMIT ?`,
      ),
      countUnbatchedConflicts: db.prepare(`SELECT count(*) FROM conflicts WHERE batch_id IS NULL`).pluck(),
      oldestUnbatched: db
        .prepare(
          `SELECT min(x) FROM (SELECT (SELECT ts + rx FROM outbox WHERE id > ? ORDER BY id LIMIT 1) AS x
                             UNION ALL SELECT (SELECT min(received_at) FROM conflicts WHERE batch_id IS NULL))`,
        )
        .pluck(),
      batchConflicts: db.prepare(
        `SELECT id, body, received_at FROM conflicts WHERE batch_id = ? ORDER BY id`,
      ),
      assignConflict: db.prepare(`UPDATE conflicts SET batch_id = ? WHERE id = ?`),
      insertBatch: db.prepare(
        `INSERT INTO batches(batch_id, state, readings, oldest_received_at, created_at, first_id, last_id)
         VALUES (?, 'pending', ?, ?, ?, ?, ?)`,
      ),
      batchInfo: db.prepare(`SELECT * FROM batches WHERE batch_id = ?`),
    };
  }

  usedBytes(): number {
    return ((this.st.pageCount.get() as number) - (this.st.freelist.get() as number)) * this.pageSize;
  }

  /** Live bytes less the quarantine's own room: what the disk budget limits. */
  readingBytes(): number {
    return Math.max(0, this.usedBytes() - this.quarantineBytes);
  }

  private measureQuarantine(): void {
    this.quarantineBytes = this.st.quarantineBytes.get() as number;
  }

  /** Quarantined messages evicted (oldest first) since the last call. */
  takeQuarantineEvictions(): number {
    const n = this.quarantineEvictions;
    this.quarantineEvictions = 0;
    return n;
  }

  get diskBudgetBytes(): number {
    return this.budgetBytes;
  }

  isFull(): boolean {
    return this.full;
  }

  /** Re-evaluates the budget (after pruning or vacuum freed pages). */
  refreshFull(): boolean {
    this.full = this.readingBytes() >= this.budgetBytes;
    return this.full;
  }

  append(items: readonly AppendItem[]): AppendOutcome[] {
    return this.appendGroup(AppendGroup.of(items));
  }

  appendGroup(group: AppendGroup): AppendOutcome[] {
    if (group.length === 0) return [];
    // when_full = block: refuse before writing, so what is stored stays within budget and
    // nothing unsent is ever evicted to make room.
    if (this.refreshFull()) {
      throw new IronLedgerError(
        'BUFFER_FULL',
        `buffer holds ${this.readingBytes()} bytes of readings, budget ${this.budgetBytes}`,
      );
    }
    const st = this.st;
    let quarantined = 0;
    let stored = 0;
    const run = this.db.transaction((g: AppendGroup) => {
      const out: AppendOutcome[] = [];
      stored = 0;
      quarantined = 0;
      for (let i = 0; i < g.length; i++) {
        const it = g.item(i);
        let o: AppendOutcome;
        if (it === undefined) {
          const unitId = g.unitId(i);
          o = this.insertRow(g.columns(i, this.unitRef(unitId)), unitId);
        } else if (it.kind === 'reading') o = this.insertReading(it.reading);
        else {
          this.insertQuarantine(it);
          quarantined++;
          o = 'quarantined';
        }
        if (o === 'stored') stored++;
        out.push(o);
      }
      // The quarantine's room is bounded: the oldest entries make way (counted, never readings).
      if (quarantined > 0)
        this.quarantineEvictions += st.evictQuarantine.run(this.quarantineMaxEntries).changes;
      return out;
    });
    let out: AppendOutcome[];
    try {
      out = retryWhileSqliteBusy(
        () => run.immediate(group),
        BUSY_TIMEOUT_MS,
        () => this.forgetUncommittedUnits(),
      );
    } catch (e) {
      this.forgetUncommittedUnits();
      throw e;
    }
    this.unbatchedOutbox += stored;
    if (quarantined > 0) this.measureQuarantine();
    return out;
  }

  private recountUnbatched(): void {
    this.dataVersion = this.st.dataVersion.get() as number;
    this.cursor = Number(this.st.getCursor.get() ?? 0);
    this.unbatchedOutbox = this.st.countOutboxAbove.get(this.cursor) as number;
  }

  /**
   * The cursor and the unbatched count as committed, when another connection (the forwarder's
   * thread, the CLI's `replay`) has written to the file since this one last looked.
   */
  private catchUp(): void {
    if ((this.st.dataVersion.get() as number) !== this.dataVersion) this.recountUnbatched();
  }

  /** A rolled-back transaction may have added units the maps remember: start over from the file. */
  private forgetUncommittedUnits(): void {
    this.unitRefs.clear();
    this.unitIds.clear();
    this.heads.clear();
  }

  /** The unit's `units.ref`, added inside the caller's transaction when new. */
  private unitRef(unitId: string): number {
    let ref = this.unitRefs.get(unitId);
    if (ref !== undefined) return ref;
    ref =
      (this.st.unitRef.get(unitId) as number | undefined) ??
      Number(this.st.addUnit.run(unitId).lastInsertRowid);
    if (this.unitRefs.size >= UNIT_CACHE_MAX) this.forgetUncommittedUnits();
    this.unitRefs.set(unitId, ref);
    this.unitIds.set(ref, unitId);
    return ref;
  }

  private unitIdOf(ref: number): string {
    let id = this.unitIds.get(ref);
    if (id !== undefined) return id;
    id = this.st.unitId.get(ref) as string;
    if (this.unitIds.size >= UNIT_CACHE_MAX) this.forgetUncommittedUnits();
    this.unitIds.set(ref, id);
    return id;
  }

  private outboxRef(row: OutboxRow): RowRef {
    const unitId = this.unitIdOf(row[0]);
    let head = this.heads.get(row[0]);
    if (head === undefined) {
      head = readingHead(unitId);
      this.heads.set(row[0], head);
    }
    return { t: 'r', id: row[16], unitId, text: readingText(row, head), receivedAtMs: row[1] + row[2] };
  }

  private insertQuarantine(it: Extract<AppendItem, { kind: 'quarantine' }>): void {
    const p = it.payload;
    this.st.insertQuarantine.run(
      it.receivedAtMs,
      it.topic.slice(0, 1024),
      it.clientId?.slice(0, 256) ?? null,
      it.reason.slice(0, 1024),
      p.length > this.quarantineMaxPayloadBytes ? p.subarray(0, this.quarantineMaxPayloadBytes) : p,
      p.length,
      createHash('sha256').update(p).digest('hex'),
    );
  }

  private insertReading(r: ForwardedReading): AppendOutcome {
    return this.insertRow(encodeReading(r, this.unitRef(r.unitId)), r.unitId, r);
  }

  /** Inserts one reading's columns; `r`, the reading, when the caller has it as an object. */
  private insertRow(row: EncodedReading, unitId: string, r?: ForwardedReading): AppendOutcome {
    const st = this.st;
    const receivedAt = row[1] + row[2];
    const held = row[3];
    // The first version needs no content hash up front: it is computed from the stored
    // columns only when the identity turns up again (duplicates and conflicts are the rare path).
    const first = st.insertReading.run(...row);
    if (first.changes === 1) return 'stored';
    const reading = r ?? decodeReading(row, unitId);
    const hash = contentHash(reading);
    const stored = st.readingByIdentity.get(row[1], row[0]) as OutboxRow;
    if (contentHash(decodeReading(stored, unitId)) === hash) return 'duplicate';
    const flags = [...new Set([...(reading.flags ?? []), 'conflict' as const])];
    const body = JSON.stringify({ ...reading, flags });
    const other = st.insertConflict.run(unitId, reading.ts, hash, body, receivedAt, held);
    return other.changes === 1 ? 'conflict' : 'duplicate';
  }

  nextBatchDueAtMs(maxAgeMs: number): number | null {
    this.catchUp();
    const oldest = this.st.oldestUnbatched.get(this.cursor) as number | null;
    return oldest === null ? null : oldest + maxAgeMs;
  }

  nextBatch(opts: {
    maxReadings: number;
    maxAgeMs: number;
    nowMs: number;
    force?: boolean;
    except?: string;
  }): OutboundBatch | null {
    const pending = (
      opts.except === undefined ? this.st.oldestPending.get() : this.st.oldestPendingExcept.get(opts.except)
    ) as { batch_id: string; created_at: number; attempts: number } | undefined;
    if (pending) return this.loadBatch(pending.batch_id, pending.created_at, pending.attempts);
    const tx = this.db.transaction(() => {
      this.catchUp();
      const outbox = this.st.unbatchedReadings.all(this.cursor, opts.maxReadings) as OutboxRow[];
      const rows = outbox.map((row) => this.outboxRef(row));
      if (rows.length < opts.maxReadings)
        rows.push(...this.conflictRefs(this.st.unbatchedConflicts.all(opts.maxReadings - rows.length)));
      if (rows.length === 0) return null;
      const oldest = minReceived(rows);
      const due = opts.force || rows.length >= opts.maxReadings || oldest + opts.maxAgeMs <= opts.nowMs;
      if (!due) return null;
      const batchId = this.newBatchId(opts.nowMs);
      const range = idRange(rows);
      this.st.insertBatch.run(batchId, rows.length, oldest, opts.nowMs, range.first, range.last);
      if (range.last !== null) this.st.setCursor.run(String(range.last));
      for (const r of rows) if (r.t === 'c') this.st.assignConflict.run(batchId, r.id);
      return { batch: toBatch(batchId, rows, opts.nowMs, 0), cursor: range.last, readings: outbox.length };
    });
    const made = retryWhileSqliteBusy(() => tx.immediate(), BUSY_TIMEOUT_MS);
    if (!made) return null;
    if (made.cursor !== null) this.cursor = made.cursor;
    this.unbatchedOutbox -= made.readings;
    return made.batch;
  }

  private conflictRefs(rows: unknown[]): RowRef[] {
    return (rows as Array<{ id: number; body: string; received_at: number }>).map((c) => {
      const reading = JSON.parse(c.body) as ForwardedReading;
      return {
        t: 'c',
        id: c.id,
        unitId: reading.unitId,
        text: JSON.stringify(reading),
        receivedAtMs: c.received_at,
      };
    });
  }

  /** A batch's rows: its outbox range, then its conflicting versions (each in id order). */
  private batchRows(batchId: string): RowRef[] {
    const info = this.st.batchInfo.get(batchId) as
      | { first_id: number | null; last_id: number | null }
      | undefined;
    const rows =
      info?.first_id != null
        ? (this.st.outboxRange.all(info.first_id, info.last_id) as OutboxRow[]).map((r) => this.outboxRef(r))
        : [];
    rows.push(...this.conflictRefs(this.st.batchConflicts.all(batchId)));
    return rows;
  }

  private newBatchId(nowMs: number): string {
    // Unique across buffer files too (a reinstalled gateway starts a new file): time + random.
    const rand = createHash('sha256')
      .update(`${nowMs}:${Math.random()}:${process.pid}`)
      .digest('base64url')
      .slice(0, 10);
    return `${this.gatewayId}:${nowMs.toString(36)}-${rand.replace(/[^A-Za-z0-9]/g, 'x')}`;
  }

  private loadBatch(batchId: string, createdAt: number, attempts: number): OutboundBatch {
    return toBatch(batchId, this.batchRows(batchId), createdAt, attempts);
  }

  ack(batchId: string, nowMs: number): void {
    this.db
      .prepare(
        `UPDATE batches SET state = 'sent', sent_at = ?, last_error = NULL WHERE batch_id = ? AND state != 'split'`,
      )
      .run(nowMs, batchId);
  }

  recordAttempt(batchId: string, error: string): void {
    this.db
      .prepare(`UPDATE batches SET attempts = attempts + 1, last_error = ? WHERE batch_id = ?`)
      .run(error.slice(0, 500), batchId);
  }

  park(batchId: string, reason: string, nowMs: number): void {
    this.db
      .prepare(
        `UPDATE batches SET state = 'parked', parked_at = ?, last_error = ? WHERE batch_id = ? AND state = 'pending'`,
      )
      .run(nowMs, reason.slice(0, 500), batchId);
  }

  unpark(batchId?: string): number {
    const sql = `UPDATE batches SET state = 'pending', parked_at = NULL, attempts = 0 WHERE state = 'parked'`;
    return batchId
      ? this.db.prepare(`${sql} AND batch_id = ?`).run(batchId).changes
      : this.db.prepare(sql).run().changes;
  }

  split(batchId: string): string[] {
    return this.db
      .transaction(() => {
        const info = this.st.batchInfo.get(batchId) as { created_at: number; state: string } | undefined;
        if (info?.state !== 'pending') return [];
        const rows = this.batchRows(batchId);
        if (rows.length < 2) return [];
        const half = Math.ceil(rows.length / 2);
        const parts = [rows.slice(0, half), rows.slice(half)];
        // Derived ids keep the lineage visible at the cloud and stay stable across restarts.
        const ids = parts.map((_, i) => `${batchId}.${i + 1}`);
        parts.forEach((part, i) => {
          const id = ids[i]!;
          const range = idRange(part);
          this.st.insertBatch.run(
            id,
            part.length,
            minReceived(part),
            info.created_at,
            range.first,
            range.last,
          );
          for (const r of part) if (r.t === 'c') this.st.assignConflict.run(id, r.id);
        });
        this.db
          .prepare(
            `UPDATE batches SET state = 'split', readings = 0, first_id = NULL, last_id = NULL WHERE batch_id = ?`,
          )
          .run(batchId);
        return ids;
      })
      .immediate();
  }

  listBatches(state?: BatchInfo['state']): BatchInfo[] {
    const rows = (
      state
        ? this.db.prepare(`SELECT * FROM batches WHERE state = ? ORDER BY created_at, batch_id`).all(state)
        : this.db.prepare(`SELECT * FROM batches ORDER BY created_at, batch_id`).all()
    ) as Array<{
      batch_id: string;
      state: BatchInfo['state'];
      readings: number;
      created_at: number;
      attempts: number;
      last_error: string | null;
    }>;
    return rows.map((r) => ({
      batchId: r.batch_id,
      state: r.state,
      readings: r.readings,
      createdAt: new Date(r.created_at).toISOString(),
      attempts: r.attempts,
      lastError: r.last_error,
    }));
  }

  stats(): BufferStats {
    this.catchUp();
    const unbatched = this.unbatchedOutbox + (this.st.countUnbatchedConflicts.get() as number);
    const b = this.db
      .prepare(
        `SELECT
           coalesce(sum(CASE WHEN state IN ('pending','parked') THEN readings END), 0) AS queued,
           count(CASE WHEN state = 'pending' THEN 1 END) AS pending,
           count(CASE WHEN state = 'parked' THEN 1 END) AS parked,
           coalesce(sum(CASE WHEN state = 'parked' THEN readings END), 0) AS parkedReadings,
           min(CASE WHEN state IN ('pending','parked') THEN oldest_received_at END) AS oldest
         FROM batches WHERE state IN ('pending', 'parked')`,
      )
      .get() as {
      queued: number;
      pending: number;
      parked: number;
      parkedReadings: number;
      oldest: number | null;
    };
    const oldestUnbatched = this.st.oldestUnbatched.get(this.cursor) as number | null;
    const oldest = [oldestUnbatched, b.oldest].filter((x): x is number => x !== null);
    const held = this.db
      .prepare(
        `SELECT count(*) FROM outbox r WHERE held = 1 AND (id > ? OR
           EXISTS (SELECT 1 FROM batches b WHERE b.state IN ('pending', 'parked') AND r.id BETWEEN b.first_id AND b.last_id))`,
      )
      .pluck()
      .get(this.cursor) as number;
    return {
      queuedReadings: unbatched + b.queued,
      oldestUnsentReceivedAtMs: oldest.length ? Math.min(...oldest) : null,
      unbatchedReadings: unbatched,
      pendingBatches: b.pending,
      parkedBatches: b.parked,
      parkedReadings: b.parkedReadings,
      heldReadings: held,
      quarantined: this.db
        .prepare(`SELECT count(*) FROM quarantine WHERE replayed_at IS NULL`)
        .pluck()
        .get() as number,
      conflicts: this.db.prepare(`SELECT count(*) FROM conflicts`).pluck().get() as number,
      usedBytes: this.usedBytes(),
    };
  }

  listQuarantine(opts: { limit?: number; includeReplayed?: boolean } = {}): QuarantineEntry[] {
    const where = opts.includeReplayed ? '' : 'WHERE replayed_at IS NULL';
    const rows = this.db
      .prepare(`SELECT * FROM quarantine ${where} ORDER BY id LIMIT ?`)
      .all(opts.limit ?? 1000) as Array<{
      id: number;
      received_at: number;
      topic: string;
      client_id: string | null;
      reason: string;
      payload: Buffer;
      size: number;
      sha256: string;
      replayed_at: number | null;
    }>;
    return rows.map((r) => ({
      id: r.id,
      receivedAt: new Date(r.received_at).toISOString(),
      topic: r.topic,
      clientId: r.client_id,
      reason: r.reason,
      payload: r.payload,
      size: r.size,
      sha256: r.sha256,
      replayedAt: r.replayed_at === null ? null : new Date(r.replayed_at).toISOString(),
    }));
  }

  replayQuarantine(decode: ReplayDecoder, ids?: readonly number[]): ReplaySummary {
    const rows = (
      ids?.length
        ? this.db
            .prepare(
              `SELECT id, received_at, topic, payload FROM quarantine WHERE replayed_at IS NULL AND id IN (SELECT value FROM json_each(?))`,
            )
            .all(JSON.stringify(ids))
        : this.db
            .prepare(
              `SELECT id, received_at, topic, payload FROM quarantine WHERE replayed_at IS NULL ORDER BY id`,
            )
            .all()
    ) as Array<{ id: number; received_at: number; topic: string; payload: Buffer }>;
    const summary: ReplaySummary = {
      considered: rows.length,
      stored: 0,
      duplicates: 0,
      conflicts: 0,
      stillInvalid: 0,
    };
    let stored = 0;
    const markReplayed = this.db.prepare(`UPDATE quarantine SET replayed_at = ? WHERE id = ?`);
    const updateReason = this.db.prepare(`UPDATE quarantine SET reason = ? WHERE id = ?`);
    const replay = this.db.transaction(() => {
      for (const q of rows) {
        const d = decode(q.topic, q.payload, q.received_at);
        if (!d.ok) {
          summary.stillInvalid++;
          updateReason.run(d.reason, q.id);
          continue;
        }
        const outcome = this.insertReading(d.reading);
        if (outcome === 'stored') {
          summary.stored++;
          stored++;
        } else if (outcome === 'conflict') summary.conflicts++;
        else summary.duplicates++;
        markReplayed.run(Date.now(), q.id);
      }
    });
    try {
      replay.immediate();
    } catch (e) {
      this.forgetUncommittedUnits();
      throw e;
    }
    this.unbatchedOutbox += stored;
    return summary;
  }

  pruneSent(beforeMs: number): number {
    return this.db
      .transaction(() => {
        const batches = this.db
          .prepare(
            `SELECT batch_id, first_id, last_id FROM batches WHERE (state = 'sent' AND sent_at < ?) OR (state = 'split' AND created_at < ?)`,
          )
          .all(beforeMs, beforeMs) as Array<{
          batch_id: string;
          first_id: number | null;
          last_id: number | null;
        }>;
        let removed = 0;
        const delC = this.db.prepare(`DELETE FROM conflicts WHERE batch_id = ?`);
        const delB = this.db.prepare(`DELETE FROM batches WHERE batch_id = ?`);
        for (const b of batches) {
          if (b.first_id !== null) removed += this.st.deleteOutboxRange.run(b.first_id, b.last_id).changes;
          removed += delC.run(b.batch_id).changes;
          delB.run(b.batch_id);
        }
        return removed;
      })
      .immediate();
  }

  pruneQuarantine(beforeMs: number): number {
    const n = this.db.prepare(`DELETE FROM quarantine WHERE received_at < ?`).run(beforeMs).changes;
    this.measureQuarantine();
    return n;
  }

  vacuum(opts: { full?: boolean } = {}): void {
    if (opts.full) this.db.exec('VACUUM');
    else this.db.pragma('incremental_vacuum');
    this.db.pragma('wal_checkpoint(TRUNCATE)');
    this.refreshFull();
  }

  checkpoint(): void {
    this.db.pragma('wal_checkpoint(PASSIVE)');
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

function toBatch(batchId: string, rows: RowRef[], createdAtMs: number, attempts: number): OutboundBatch {
  const texts = byUnit(rows).map((r) => r.text);
  let readings: ForwardedReading[] | undefined;
  return {
    batchId,
    texts,
    get readings() {
      readings ??= texts.map((t) => JSON.parse(t) as ForwardedReading);
      return readings;
    },
    createdAtMs,
    attempts,
  };
}

/**
 * The readings grouped by unit: units in the order of their first reading, each unit's readings
 * in their own order. The same rows always give the same order (parts are positions in it).
 * A backlog holds one reading per unit at a time, so a batch in buffer order gives every part
 * as many units as readings, and the cloud rewrites one index page per unit for each of them;
 * grouped, a part of a batch of 8 readings per unit carries an eighth of the units.
 */
function byUnit(rows: RowRef[]): RowRef[] {
  const groups = new Map<string, RowRef[]>();
  for (const r of rows) {
    const g = groups.get(r.unitId);
    if (g) g.push(r);
    else groups.set(r.unitId, [r]);
  }
  if (groups.size === rows.length || groups.size === 1) return rows;
  const out: RowRef[] = [];
  for (const g of groups.values()) for (const r of g) out.push(r);
  return out;
}

function minReceived(rows: readonly RowRef[]): number {
  let m = Number.POSITIVE_INFINITY;
  for (const r of rows) if (r.receivedAtMs < m) m = r.receivedAtMs;
  return m;
}

/** The outbox id range of a batch's readings (they are consecutive outbox rows), or nulls. */
function idRange(rows: readonly RowRef[]): { first: number | null; last: number | null } {
  let first: number | null = null;
  let last: number | null = null;
  for (const r of rows) {
    if (r.t !== 'r') continue;
    if (first === null || r.id < first) first = r.id;
    if (last === null || r.id > last) last = r.id;
  }
  return { first, last };
}
