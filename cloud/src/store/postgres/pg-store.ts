/**
 * CloudStore on PostgreSQL (node-postgres), shared by any number of cloud replicas. A method
 * that returns has committed (synchronous_commit stays on). Every mutating method is one
 * transaction, retried from the start on a serialization failure or deadlock.
 *
 * What makes replicas safe, in the database rather than in a process's memory:
 * - Idempotent ingest by constraints: a batch claims its `batch_id` row first (PRIMARY KEY,
 *   `ON CONFLICT DO NOTHING`); the same batch arriving at two replicas at once waits on that
 *   row and then answers `replayed`. Readings of one unit are stored under a lock on the unit's
 *   row in `unit_locks`, taken in unit order: shared by batches that only add readings, whose
 *   race on one new identity meets at the unique index on live readings' (unit, ts); exclusive
 *   to decide a conflict, release or resolve. That makes "same identity, other content" a
 *   conflict even when the two versions race; a unique index on (unit, ts, md5(content)) is
 *   the last line behind it.
 * - Every write that depends on an earlier read checks what it read in its WHERE clause
 *   (generation, status, version), so it is a compare-and-set under READ COMMITTED.
 * - Master data is read from the database on each use; nothing is cached per process.
 */
import type {
  AllocationFilter,
  AllocationStatus,
  Anomaly,
  AuditEntry,
  ConflictKeep,
  DeadLetter,
  ForwardedReading,
  Heartbeat,
  Project,
  Rate,
  Site,
  Unit,
  UsageRow,
} from '@ironledger/contracts';
import { parseInstantMs } from '@ironledger/contracts';
import { IronLedgerError } from '@ironledger/errors';
import type pg from 'pg';
import type { UsageFigure } from '../../domain/types.js';
import type {
  AllocationChange,
  AllocationExpect,
  AllocationPatch,
  AllocationRecord,
  AuditRecord,
  ClearHold,
  ClearHoldResult,
  CloudStore,
  ConflictFilter,
  ConflictRecord,
  ConsolidationResult,
  ConsolidationWrite,
  DecisionsResult,
  DirtyUnit,
  GatewayActivity,
  HeldReading,
  IngestBatch,
  IngestResult,
  Lease,
  MarkPosted,
  MarkPostedResult,
  MasterDataSeed,
  MasterKind,
  MeterReading,
  NewAllocation,
  OdooMasterModel,
  OdooMasterRecord,
  OdooSyncResult,
  OdooSyncWrite,
  ReadingRecord,
  ReleaseHeld,
  ReleaseResult,
  ResolveConflict,
  ResolveResult,
  SeedReport,
  StoredReading,
  TokenRecord,
  UnitActivity,
  UsageFilter,
} from '../store.js';
import { odooSyncCursorKey } from '../store.js';
import { currentVersion, migratePostgres, PG_SCHEMA_VERSION } from './migrations.js';
import { createPgClient, createPgPool } from './pool.js';

type Row = Record<string, unknown>;
type Q = Pick<pg.ClientBase, 'query'>;

/** Thrown inside a transaction to roll it back and run it again (with what it has learned). */
class RunAgain extends Error {}

/** SQLSTATEs after which the whole transaction is safe to run again. */
const RETRY_SQLSTATE = new Set(['40001', '40P01']); // serialization_failure, deadlock_detected
const MAX_TX_ATTEMPTS = 5;
const UNIQUE_VIOLATION = '23505';

export interface PostgresStoreOptions {
  url: string;
  poolMax?: number;
  statementTimeoutMs?: number;
  /** Apply pending migrations on open; otherwise refuse a database that is behind. */
  migrate?: boolean;
  onIdleError?: (e: Error) => void;
  /**
   * Whose clock a lease's start and expiry are measured on. `server` (the default): the
   * database server's, so replicas whose own clocks disagree never take a live lease over
   * early. `caller`: `Lease.nowMs`, for tests that move time by hand.
   */
  leaseClock?: 'server' | 'caller';
}

/** The database server's clock in epoch ms, or the caller's when one is passed. */
const LEASE_NOW = (param: string) =>
  `COALESCE(${param}::bigint, (extract(epoch FROM clock_timestamp()) * 1000)::bigint)`;

/** `?` placeholders → `$n`, so dynamic filters read like the SQLite store's. */
class Sql {
  readonly where: string[] = [];
  readonly args: unknown[] = [];
  add(clause: string, ...values: unknown[]): this {
    let out = '';
    let i = 0;
    for (const ch of clause) {
      if (ch === '?') {
        this.args.push(values[i++]);
        out += `$${this.args.length}`;
      } else out += ch;
    }
    this.where.push(out);
    return this;
  }
  clause(): string {
    return this.where.length ? `WHERE ${this.where.join(' AND ')}` : '';
  }
}

const ALLOCATION_COLUMNS: Record<
  keyof AllocationPatch | 'key' | 'kind' | 'unitId' | 'projectId' | 'day',
  string
> = {
  key: 'key',
  kind: 'kind',
  adjusts: 'adjusts',
  seq: 'seq',
  unitId: 'unit_id',
  projectId: 'project_id',
  siteId: 'site_id',
  day: 'day',
  engineHours: 'engine_hours',
  idleHours: 'idle_hours',
  workingHours: 'working_hours',
  rateId: 'rate_id',
  workingRateMinor: 'working_rate_minor',
  idleRateMinor: 'idle_rate_minor',
  currency: 'currency',
  amountMinor: 'amount_minor',
  status: 'status',
  holdReason: 'hold_reason',
  evidence: 'evidence',
  createdAt: 'created_at',
  updatedAt: 'updated_at',
  approvedBy: 'approved_by',
  approvedAt: 'approved_at',
  rejectedBy: 'rejected_by',
  rejectedAt: 'rejected_at',
  rejectReason: 'reject_reason',
  postedAt: 'posted_at',
  odoo: 'odoo',
};

function allocationValue(k: string, v: unknown): Record<string, unknown> {
  if (k === 'evidence') return { evidence: JSON.stringify(v) };
  if (k === 'odoo') {
    const o = v as { model: string; id: number; date: string | null } | null;
    return { odoo_model: o?.model ?? null, odoo_id: o?.id ?? null, odoo_date: o?.date ?? null };
  }
  const col = ALLOCATION_COLUMNS[k as keyof typeof ALLOCATION_COLUMNS];
  if (!col) throw new IronLedgerError('STORE_FAILED', `unknown allocation field ${k}`, { retryable: false });
  return { [col]: v ?? null };
}

function toAllocation(r: Row): AllocationRecord {
  return {
    id: String(r.id),
    version: r.version as number,
    key: r.key as string,
    kind: r.kind as 'normal' | 'adjustment',
    adjusts: (r.adjusts as string | null) ?? null,
    seq: r.seq as number,
    unitId: r.unit_id as string,
    projectId: r.project_id as string,
    siteId: r.site_id as string,
    day: r.day as string,
    engineHours: r.engine_hours as number,
    idleHours: r.idle_hours as number,
    workingHours: r.working_hours as number,
    rateId: (r.rate_id as string | null) ?? null,
    workingRateMinor: r.working_rate_minor as number,
    idleRateMinor: r.idle_rate_minor as number,
    currency: r.currency as string,
    amountMinor: r.amount_minor as number,
    status: r.status as AllocationStatus,
    holdReason: (r.hold_reason as string | null) ?? null,
    evidence: r.evidence as AllocationRecord['evidence'],
    createdAt: r.created_at as string,
    updatedAt: r.updated_at as string,
    approvedBy: (r.approved_by as string | null) ?? null,
    approvedAt: (r.approved_at as string | null) ?? null,
    rejectedBy: (r.rejected_by as string | null) ?? null,
    rejectedAt: (r.rejected_at as string | null) ?? null,
    rejectReason: (r.reject_reason as string | null) ?? null,
    postedAt: (r.posted_at as string | null) ?? null,
    odoo:
      r.odoo_model != null && r.odoo_id != null
        ? {
            model: r.odoo_model as string,
            id: r.odoo_id as number,
            date: (r.odoo_date as string | null) ?? null,
          }
        : null,
  };
}

/** Rounds stored hours to 1e-9 h so float noise never reads as a change in usage. */
function h(x: number): number {
  return Math.round(x * 1e9) / 1e9;
}

function isId(id: string): boolean {
  return /^\d{1,15}$/.test(id);
}

export class PostgresStore implements CloudStore {
  private constructor(
    private readonly pool: pg.Pool,
    private readonly url: string,
    private readonly leaseClock: 'server' | 'caller' = 'server',
  ) {}

  /** `Lease.nowMs` when the caller's clock rules, else null: the server's clock (LEASE_NOW). */
  private leaseNowMs(lease: Lease): number | null {
    return this.leaseClock === 'caller' ? lease.nowMs : null;
  }

  /** Opens the pool and brings (or checks) the schema to this binary's version. */
  static async open(opts: PostgresStoreOptions): Promise<PostgresStore> {
    const pool = createPgPool({
      url: opts.url,
      poolMax: opts.poolMax ?? 10,
      statementTimeoutMs: opts.statementTimeoutMs ?? 60_000,
      ...(opts.onIdleError ? { onIdleError: opts.onIdleError } : {}),
    });
    try {
      const c = await pool.connect();
      try {
        if (opts.migrate ?? true) await migratePostgres(c);
        const v = await currentVersion(c);
        if (v < PG_SCHEMA_VERSION)
          throw new IronLedgerError(
            'CONFIG_INVALID',
            `the database schema is at version ${v}, this cloud needs ${PG_SCHEMA_VERSION}: run \`ironledger-cloud migrate\``,
          );
      } finally {
        c.release();
      }
    } catch (e) {
      await pool.end().catch(() => {});
      if (e instanceof IronLedgerError) throw e;
      throw new IronLedgerError('STORE_FAILED', `cannot open the PostgreSQL store: ${(e as Error).message}`, {
        cause: e,
        retryable: false,
      });
    }
    return new PostgresStore(pool, opts.url, opts.leaseClock);
  }

  private async q(sql: string, args: unknown[] = [], c: Q = this.pool): Promise<Row[]> {
    try {
      return (await c.query(sql, args)).rows as Row[];
    } catch (e) {
      throw storeError(e);
    }
  }

  private async one(sql: string, args: unknown[] = [], c: Q = this.pool): Promise<Row | undefined> {
    return (await this.q(sql, args, c))[0];
  }

  /** One transaction; run again from the start on a serialization failure or deadlock. */
  private async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      let c: pg.PoolClient;
      try {
        c = await this.pool.connect();
      } catch (e) {
        throw storeError(e);
      }
      let broken: Error | undefined;
      try {
        await c.query('BEGIN');
        const out = await fn(c);
        await c.query('COMMIT');
        return out;
      } catch (e) {
        try {
          await c.query('ROLLBACK');
        } catch (e2) {
          broken = e2 as Error;
        }
        if (e instanceof RunAgain) continue;
        const code = sqlState(e);
        if (code && RETRY_SQLSTATE.has(code) && attempt < MAX_TX_ATTEMPTS) continue;
        throw storeError(e);
      } finally {
        c.release(broken);
      }
    }
  }

  private async insertAudit(c: Q, e: AuditRecord, at: string): Promise<void> {
    await this.q(
      'INSERT INTO audit (at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5)',
      [at, e.actor, e.action, e.target, e.detail],
      c,
    );
  }

  /**
   * Locks units until the end of the transaction: their rows in `unit_locks`, locked in the
   * order of their ids so that two transactions locking overlapping sets never wait on each
   * other in a cycle. `share`: batches that only add readings hold a unit together (a race on
   * one new identity meets at the index `readings_live_identity`); `update`: one transaction
   * decides a conflict, releases or resolves, alone. A unit seen for the first time gets its
   * row first; a second transaction inserting the same new unit waits until the first ends.
   * Row locks take no room in the server's shared lock table, whatever the number of units (a
   * lock per unit there runs out of shared memory at about 13,000 held at once on a default
   * server).
   */
  private async lockUnits(
    c: Q,
    unitIds: Iterable<string>,
    mode: 'share' | 'update' = 'update',
  ): Promise<void> {
    const units = [...new Set(unitIds)].sort();
    if (units.length === 0) return;
    await this.q(
      `INSERT INTO unit_locks (unit_id) SELECT u FROM unnest($1::text[]) AS u ORDER BY 1
       ON CONFLICT (unit_id) DO NOTHING`,
      [units],
      c,
    );
    await this.q(
      `SELECT 1 FROM unit_locks WHERE unit_id = ANY($1::text[]) ORDER BY unit_id ${mode === 'share' ? 'FOR SHARE' : 'FOR UPDATE'}`,
      [units],
      c,
    );
  }

  // ---- ingest --------------------------------------------------------------------------

  async ingestBatch(batch: IngestBatch): Promise<IngestResult> {
    // Shared unit locks first; a batch that meets a conflict, or a concurrent batch's version
    // of one of its identities, runs again under exclusive ones.
    let exclusive = false;
    return this.tx(async (c) => {
      // The batch's row first: a second replica with the same batch waits here, then replays.
      const claimed = await this.q(
        `INSERT INTO batches (batch_id, gateway_id, readings, accepted, duplicates, conflicts, held, stored_at)
         VALUES ($1, $2, $3, 0, 0, 0, 0, $4) ON CONFLICT (batch_id) DO NOTHING RETURNING batch_id`,
        [batch.batchId, batch.gatewayId, batch.readings.length, batch.storedAt],
        c,
      );
      if (claimed.length === 0) {
        const prior = (await this.one('SELECT * FROM batches WHERE batch_id = $1', [batch.batchId], c))!;
        if (prior.gateway_id !== batch.gatewayId)
          return { kind: 'batch_id_taken', byGatewayId: prior.gateway_id as string };
        return {
          kind: 'replayed',
          accepted: prior.accepted as number,
          duplicates: prior.duplicates as number,
          conflicts: prior.conflicts as number,
          held: prior.held as number,
        };
      }
      await this.lockUnits(
        c,
        batch.readings.map((r) => r.reading.unitId),
        exclusive ? 'update' : 'share',
      );
      const counts = await this.storeReadings(c, batch, exclusive);
      if (counts === 'exclusive') {
        exclusive = true;
        throw new RunAgain();
      }
      await this.markDirtyMany(c, counts.touched, batch.storedAt);
      await this.q(
        'UPDATE batches SET accepted = $2, duplicates = $3, conflicts = $4, held = $5 WHERE batch_id = $1',
        [batch.batchId, counts.accepted, counts.duplicates, counts.conflicts, counts.held],
        c,
      );
      await this.q(
        `INSERT INTO gateways (gateway_id, last_batch_at) VALUES ($1, $2)
         ON CONFLICT (gateway_id) DO UPDATE SET last_batch_at = excluded.last_batch_at`,
        [batch.gatewayId, batch.storedAt],
        c,
      );
      return {
        kind: 'stored',
        accepted: counts.accepted,
        duplicates: counts.duplicates,
        conflicts: counts.conflicts,
        held: counts.held,
      };
    });
  }

  /**
   * Decides each reading against every stored version of its identity (read in one query) and
   * the batch's own earlier readings. Without a conflict in the batch, the new readings go in
   * with one INSERT; a conflict takes the reading-by-reading path, as rare as conflicts are.
   */
  private async storeReadings(
    c: Q,
    batch: IngestBatch,
    exclusive: boolean,
  ): Promise<
    | 'exclusive'
    | {
        accepted: number;
        duplicates: number;
        conflicts: number;
        held: number;
        touched: Map<string, number>;
      }
  > {
    const units: string[] = [];
    const times: number[] = [];
    for (const { reading } of batch.readings) {
      units.push(reading.unitId);
      times.push(parseInstantMs(reading.ts));
    }
    // Only identities at or below their unit's highest stored instant (ts, or the ts a version
    // was reported under before its release) can have versions: a unit's readings mostly arrive
    // in order, so most of a batch needs no lookup, only its units' two index maxima. A version
    // a concurrent batch adds after this read meets this batch at a unique index instead.
    const marks = await this.q(
      `SELECT u, GREATEST((SELECT max(ts_ms) FROM readings WHERE unit_id = u),
                          (SELECT max(reported_ts_ms) FROM readings WHERE unit_id = u)) AS hi
         FROM unnest($1::text[]) AS u`,
      [[...new Set(units)]],
      c,
    );
    const high = new Map<string, number>();
    for (const m of marks) if (m.hi != null) high.set(m.u as string, m.hi as number);
    const lookUnits: string[] = [];
    const lookTimes: number[] = [];
    for (let i = 0; i < units.length; i++) {
      const hi = high.get(units[i]!);
      if (hi !== undefined && times[i]! <= hi) {
        lookUnits.push(units[i]!);
        lookTimes.push(times[i]!);
      }
    }
    const existing =
      lookUnits.length === 0
        ? []
        : await this.q(
            `SELECT r.id, r.unit_id, r.content, r.status, r.ts_ms, r.reported_ts_ms
               FROM readings r JOIN (SELECT DISTINCT * FROM unnest($1::text[], $2::bigint[])) AS k(u, t)
                 ON r.unit_id = k.u AND r.ts_ms = k.t
             UNION
             SELECT r.id, r.unit_id, r.content, r.status, r.ts_ms, r.reported_ts_ms
               FROM readings r JOIN (SELECT DISTINCT * FROM unnest($1::text[], $2::bigint[])) AS k(u, t)
                 ON r.unit_id = k.u AND r.reported_ts_ms = k.t`,
            [lookUnits, lookTimes],
            c,
          );
    // Every stored content of an identity, also of one released under another ts since (a resend
    // of what is stored is a duplicate whatever happened to it); and the live ones per identity.
    const known = new Set<string>();
    const live = new Map<string, Set<string>>();
    const addTo = (m: Map<string, Set<string>>, k: string, v: string) => {
      if (!m.has(k)) m.set(k, new Set());
      m.get(k)!.add(v);
    };
    for (const e of existing) {
      known.add(`${e.unit_id}|${e.ts_ms}|${e.content}`);
      if (e.reported_ts_ms != null) known.add(`${e.unit_id}|${e.reported_ts_ms}|${e.content}`);
      if (e.status !== 'superseded') addTo(live, `${e.unit_id}|${e.ts_ms}`, e.content as string);
    }
    let hasConflict = false;
    const seen = new Set(known);
    for (const [i, r] of batch.readings.entries()) {
      const id = `${units[i]}|${times[i]}`;
      if (r.flaggedConflict) hasConflict = true;
      if (seen.has(`${id}|${r.content}`)) continue;
      if ((live.get(id)?.size ?? 0) > 0) hasConflict = true;
      seen.add(`${id}|${r.content}`);
      addTo(live, id, r.content);
    }
    if (hasConflict) return exclusive ? this.storeReadingsOneByOne(c, batch) : 'exclusive';

    const col: Record<string, unknown[]> = {
      unit_id: [],
      ts: [],
      ts_ms: [],
      content: [],
      body: [],
      engine_hours: [],
      idle_hours: [],
      odometer_km: [],
      lat: [],
      lon: [],
      received_at: [],
      status: [],
      hold_reason: [],
    };
    const touched = new Map<string, number>();
    let duplicates = 0;
    let held = 0;
    for (const [i, { reading: r, content, holdReason, body }] of batch.readings.entries()) {
      const k = `${units[i]}|${times[i]}|${content}`;
      if (known.has(k)) {
        duplicates++;
        continue;
      }
      known.add(k);
      col.unit_id!.push(r.unitId);
      col.ts!.push(r.ts);
      col.ts_ms!.push(times[i]);
      col.content!.push(content);
      col.body!.push(body);
      col.engine_hours!.push(r.engineHours);
      col.idle_hours!.push(r.idleHours ?? null);
      col.odometer_km!.push(r.odometerKm ?? null);
      col.lat!.push(r.position?.lat ?? null);
      col.lon!.push(r.position?.lon ?? null);
      col.received_at!.push(r.receivedAt);
      col.status!.push(holdReason ? 'held' : 'ok');
      col.hold_reason!.push(holdReason);
      if (holdReason) held++;
      const prev = touched.get(r.unitId);
      touched.set(r.unitId, prev === undefined ? times[i]! : Math.min(prev, times[i]!));
    }
    let accepted = 0;
    if (col.unit_id!.length > 0) {
      const n = col.unit_id!.length;
      // Under shared locks a plain INSERT: a row a concurrent batch added since the read above
      // (the same content, a duplicate, or another, a conflict) breaks a unique index, and the
      // batch is decided again, alone. `ON CONFLICT DO NOTHING` would check every unique index
      // before each row as well as on its insert. Under exclusive locks nothing can have come
      // in between; DO NOTHING stays as the last line.
      const inserted = await this.q(
        `INSERT INTO readings (unit_id, ts, ts_ms, content, body, engine_hours, idle_hours, odometer_km, lat, lon,
           received_at, status, hold_reason, site_id, gateway_id, batch_id, stored_at)
         SELECT u, ts, tm, ct, b::jsonb, eh, ih, ok, la, lo, ra, st, hr, $14, $15, $16, $17
           FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::float8[], $7::float8[],
                       $8::float8[], $9::float8[], $10::float8[], $11::text[], $12::text[], $13::text[])
             AS x(u, ts, tm, ct, b, eh, ih, ok, la, lo, ra, st, hr)
         ${exclusive ? 'ON CONFLICT DO NOTHING RETURNING id' : ''}`,
        [
          col.unit_id,
          col.ts,
          col.ts_ms,
          col.content,
          col.body,
          col.engine_hours,
          col.idle_hours,
          col.odometer_km,
          col.lat,
          col.lon,
          col.received_at,
          col.status,
          col.hold_reason,
          batch.siteId,
          batch.gatewayId,
          batch.batchId,
          batch.storedAt,
        ],
        c,
      ).catch((e: unknown) => {
        if (!exclusive && sqlState((e as Error).cause) === UNIQUE_VIOLATION) return null;
        throw e;
      });
      if (inserted === null) return 'exclusive';
      accepted = exclusive ? inserted.length : n;
      duplicates += n - accepted;
    }
    return { accepted, duplicates, conflicts: 0, held, touched };
  }

  /** The SQLite store's algorithm, reading by reading (used when the batch holds a conflict). */
  private async storeReadingsOneByOne(
    c: Q,
    batch: IngestBatch,
  ): Promise<{
    accepted: number;
    duplicates: number;
    conflicts: number;
    held: number;
    touched: Map<string, number>;
  }> {
    const touched = new Map<string, number>();
    let accepted = 0;
    let duplicates = 0;
    let conflicts = 0;
    let held = 0;
    for (const { reading: r, content, holdReason, flaggedConflict, body } of batch.readings) {
      const tsMs = parseInstantMs(r.ts);
      const existing = await this.q(
        `SELECT id, content, status, ts_ms, conflict_id FROM readings WHERE unit_id = $1 AND ts_ms = $2
         UNION SELECT id, content, status, ts_ms, conflict_id FROM readings WHERE unit_id = $1 AND reported_ts_ms = $2`,
        [r.unitId, tsMs],
        c,
      );
      if (existing.some((e) => e.content === content)) {
        duplicates++;
        continue;
      }
      const live = existing.filter((e) => e.ts_ms === tsMs && e.status !== 'superseded');
      const conflict = live.length > 0 || flaggedConflict;
      let status: 'ok' | 'held' | 'conflict' = 'ok';
      let reason = holdReason;
      let conflictId: number | null = null;
      if (conflict) {
        status = 'conflict';
        reason = CONFLICT_REASON;
        const open = live.find((e) => e.status === 'conflict' && e.conflict_id !== null)?.conflict_id as
          | number
          | undefined;
        conflictId =
          open ??
          ((await this.one(
            'INSERT INTO conflicts (unit_id, ts, ts_ms, opened_at) VALUES ($1, $2, $3, $4) RETURNING id',
            [r.unitId, r.ts, tsMs, batch.storedAt],
            c,
          ))!.id as number);
        for (const e of live) {
          await this.q(
            "UPDATE readings SET status = 'conflict', hold_reason = $1, conflict_id = $2 WHERE id = $3",
            [CONFLICT_REASON, conflictId, e.id],
            c,
          );
          await this.q(
            'INSERT INTO conflict_versions (conflict_id, reading_id) VALUES ($1, $2) ON CONFLICT DO NOTHING',
            [conflictId, e.id],
            c,
          );
        }
        conflicts++;
      } else if (holdReason) {
        status = 'held';
        held++;
      }
      const ins = await this.one(
        `INSERT INTO readings (unit_id, ts, ts_ms, content, body, engine_hours, idle_hours, odometer_km, lat, lon, site_id,
           gateway_id, batch_id, received_at, stored_at, status, hold_reason, conflict_id)
         VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
         RETURNING id`,
        [
          r.unitId,
          r.ts,
          tsMs,
          content,
          body,
          r.engineHours,
          r.idleHours ?? null,
          r.odometerKm ?? null,
          r.position?.lat ?? null,
          r.position?.lon ?? null,
          batch.siteId,
          batch.gatewayId,
          batch.batchId,
          r.receivedAt,
          batch.storedAt,
          status,
          reason,
          conflictId,
        ],
        c,
      );
      if (conflictId !== null)
        await this.q(
          'INSERT INTO conflict_versions (conflict_id, reading_id) VALUES ($1, $2) ON CONFLICT DO NOTHING',
          [conflictId, ins!.id],
          c,
        );
      accepted++;
      const prev = touched.get(r.unitId);
      touched.set(r.unitId, prev === undefined ? tsMs : Math.min(prev, tsMs));
    }
    return { accepted, duplicates, conflicts, held, touched };
  }

  async recordHeartbeat(gatewayId: string, heartbeat: Heartbeat, at: string): Promise<void> {
    await this.q(
      `INSERT INTO gateways (gateway_id, heartbeat, last_heartbeat_at) VALUES ($1, $2::jsonb, $3)
       ON CONFLICT (gateway_id) DO UPDATE SET heartbeat = excluded.heartbeat, last_heartbeat_at = excluded.last_heartbeat_at`,
      [gatewayId, JSON.stringify(heartbeat), at],
    );
  }

  async gatewayActivity(): Promise<GatewayActivity[]> {
    return (await this.q('SELECT * FROM gateways ORDER BY gateway_id')).map((r) => ({
      gatewayId: r.gateway_id as string,
      heartbeat: (r.heartbeat as Heartbeat | null) ?? null,
      lastHeartbeatAt: (r.last_heartbeat_at as string | null) ?? null,
      lastBatchAt: (r.last_batch_at as string | null) ?? null,
    }));
  }

  async unitActivity(): Promise<UnitActivity[]> {
    return (
      await this.q(
        'SELECT unit_id, MAX(ts) AS last_ts, MAX(received_at) AS last_rx FROM readings GROUP BY unit_id ORDER BY unit_id',
      )
    ).map((r) => ({
      unitId: r.unit_id as string,
      lastReadingTs: (r.last_ts as string | null) ?? null,
      lastReceivedAt: (r.last_rx as string | null) ?? null,
    }));
  }

  async countReadings(): Promise<number> {
    return (await this.one('SELECT COUNT(*) AS n FROM readings'))!.n as number;
  }

  async heldReadings(filter: { unit?: string; from?: string; to?: string }): Promise<HeldReading[]> {
    const s = new Sql().add("status IN ('held', 'conflict')");
    if (filter.unit) s.add('unit_id = ?', filter.unit);
    if (filter.from) s.add('ts >= ?', filter.from);
    if (filter.to) s.add('ts < ?', exclusiveEnd(filter.to));
    return (await this.q(`SELECT * FROM readings ${s.clause()} ORDER BY unit_id, ts_ms, id`, s.args)).map(
      (r) => ({
        id: String(r.id),
        unitId: r.unit_id as string,
        ts: r.ts as string,
        status: r.status as 'held' | 'conflict',
        reason: (r.hold_reason as string | null) ?? (r.status as string),
        engineHours: r.engine_hours as number,
        receivedAt: r.received_at as string,
        batchId: r.batch_id as string,
        conflictId: r.conflict_id == null ? null : String(r.conflict_id),
      }),
    );
  }

  private async readingRow(id: string, c: Q = this.pool, forUpdate = false): Promise<Row | undefined> {
    if (!isId(id)) return undefined;
    return this.one(`SELECT * FROM readings WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`, [Number(id)], c);
  }

  async getReading(id: string): Promise<ReadingRecord | null> {
    const r = await this.readingRow(id);
    return r ? toReadingRecord(r) : null;
  }

  async releaseHeld(op: ReleaseHeld): Promise<ReleaseResult> {
    return this.tx(async (c) => {
      const peek = await this.readingRow(op.id, c);
      if (!peek) return { kind: 'not_found' };
      // The unit's lock: no batch stores a version at the new identity while this moves there.
      await this.lockUnits(c, [peek.unit_id as string]);
      const row = (await this.readingRow(op.id, c, true))!;
      if (row.status !== 'held') return { kind: 'not_held', reading: toReadingRecord(row) };
      if (row.ts !== op.expectTs) return { kind: 'stale', reading: toReadingRecord(row) };
      const tsMs = Date.parse(op.ts);
      if (tsMs !== row.ts_ms) {
        const taken = await this.one(
          'SELECT * FROM readings WHERE unit_id = $1 AND ts_ms = $2 AND id <> $3 ORDER BY id LIMIT 1',
          [row.unit_id, tsMs, row.id],
          c,
        );
        if (taken) return { kind: 'identity_taken', by: toReadingRecord(taken) };
      }
      await this.q(
        `UPDATE readings SET status = 'ok', hold_reason = NULL, ts = $1, ts_ms = $2,
           reported_ts = COALESCE(reported_ts, ts), reported_ts_ms = COALESCE(reported_ts_ms, ts_ms)
         WHERE id = $3 AND status = 'held'`,
        [op.ts, tsMs, row.id],
        c,
      );
      await this.markDirtyIn(c, row.unit_id as string, tsMs, op.at);
      await this.insertAudit(c, op.audit, op.at);
      return { kind: 'released', reading: toReadingRecord((await this.readingRow(op.id, c))!) };
    });
  }

  async listConflicts(filter: ConflictFilter): Promise<ConflictRecord[]> {
    const s = new Sql();
    const status = filter.status ?? 'open';
    if (status === 'open') s.add('resolved_at IS NULL');
    if (status === 'resolved') s.add('resolved_at IS NOT NULL');
    if (filter.unit) s.add('unit_id = ?', filter.unit);
    if (filter.from) s.add('ts >= ?', filter.from);
    if (filter.to) s.add('ts < ?', exclusiveEnd(filter.to));
    const rows = await this.q(`SELECT * FROM conflicts ${s.clause()} ORDER BY unit_id, ts_ms, id`, s.args);
    const out: ConflictRecord[] = [];
    for (const c of rows) out.push(await this.toConflict(c));
    return out;
  }

  async getConflict(id: string): Promise<ConflictRecord | null> {
    if (!isId(id)) return null;
    const c = await this.one('SELECT * FROM conflicts WHERE id = $1', [Number(id)]);
    return c ? this.toConflict(c) : null;
  }

  private async toConflict(c: Row): Promise<ConflictRecord> {
    const versions = (
      await this.q(
        'SELECT r.* FROM conflict_versions v JOIN readings r ON r.id = v.reading_id WHERE v.conflict_id = $1 ORDER BY r.id',
        [c.id],
      )
    ).map(toReadingRecord);
    return {
      id: String(c.id),
      unitId: c.unit_id as string,
      ts: c.ts as string,
      status: c.resolved_at ? 'resolved' : 'open',
      openedAt: c.opened_at as string,
      versions,
      resolution: c.resolved_at
        ? {
            keep: c.keep as ConflictKeep,
            readingId: String(c.kept_reading_id),
            by: c.resolved_by as string,
            at: c.resolved_at as string,
            reason: c.reason as string,
          }
        : null,
    };
  }

  async resolveConflict(op: ResolveConflict): Promise<ResolveResult> {
    if (!isId(op.id)) return 'not_found';
    return this.tx(async (c) => {
      const peek = await this.one('SELECT unit_id FROM conflicts WHERE id = $1', [Number(op.id)], c);
      if (!peek) return 'not_found';
      // The unit's lock: no batch adds a version to this conflict while it is decided.
      await this.lockUnits(c, [peek.unit_id as string]);
      const cf = (await this.one('SELECT * FROM conflicts WHERE id = $1 FOR UPDATE', [Number(op.id)], c))!;
      if (cf.resolved_at) return 'already_resolved';
      const ids = (
        await this.q(
          'SELECT reading_id FROM conflict_versions WHERE conflict_id = $1 ORDER BY reading_id',
          [cf.id],
          c,
        )
      ).map((v) => String(v.reading_id));
      if (ids.join(',') !== op.versionIds.join(',') || !ids.includes(op.keepReadingId)) return 'stale';
      await this.q(
        'UPDATE readings SET status = $1, hold_reason = $2 WHERE id = $3',
        [op.keptStatus, op.keptHoldReason, Number(op.keepReadingId)],
        c,
      );
      await this.q(
        `UPDATE readings SET status = 'superseded', hold_reason = $1
         WHERE id IN (SELECT reading_id FROM conflict_versions WHERE conflict_id = $2) AND id <> $3`,
        [`superseded: conflict ${op.id} kept reading ${op.keepReadingId}`, cf.id, Number(op.keepReadingId)],
        c,
      );
      await this.q(
        'UPDATE conflicts SET resolved_at = $1, resolved_by = $2, keep = $3, kept_reading_id = $4, reason = $5 WHERE id = $6',
        [op.at, op.audit.actor, op.keep, Number(op.keepReadingId), op.reason, cf.id],
        c,
      );
      await this.markDirtyIn(c, cf.unit_id as string, cf.ts_ms as number, op.at);
      await this.insertAudit(c, op.audit, op.at);
      return 'resolved';
    });
  }

  // ---- master data -----------------------------------------------------------------------

  /**
   * An admin API write: a record it changes (or creates) is the API's from now on. Every
   * replica hears of it (NOTIFY, delivered when the transaction commits) and reloads.
   */
  private async upsertBody(table: string, idCol: string, id: string, body: unknown): Promise<void> {
    await this.tx(async (c) => {
      const changed = await this.q(
        `INSERT INTO ${table} (${idCol}, body, source) VALUES ($1, $2::jsonb, 'api')
         ON CONFLICT (${idCol}) DO UPDATE SET body = excluded.body, source = 'api'
         WHERE ${table}.body IS DISTINCT FROM excluded.body
         RETURNING ${idCol}`,
        [id, JSON.stringify(body)],
        c,
      );
      if (changed.length > 0) await this.notifyMasterData(c, table);
    });
  }

  private async notifyMasterData(c: Q, what: string): Promise<void> {
    await this.q('SELECT pg_notify($1, $2)', [MASTER_DATA_CHANNEL, what], c);
  }

  /**
   * Calls `onChange` whenever master data changes through any replica (LISTEN on a dedicated
   * connection), and once more after that connection was lost and re-established (a change
   * may have been missed meanwhile). Returns a function that stops listening.
   */
  async watchMasterData(onChange: () => void, onError?: (e: Error) => void): Promise<() => Promise<void>> {
    let stopped = false;
    let client: pg.Client | null = null;
    let retryTimer: NodeJS.Timeout | null = null;
    const connect = async (again: boolean): Promise<void> => {
      const c = createPgClient(this.url);
      c.on('notification', (m) => {
        if (m.channel === MASTER_DATA_CHANNEL) onChange();
      });
      c.on('error', (e) => {
        onError?.(e);
        c.end().catch(() => {});
        if (client === c) client = null;
        if (!stopped) retryTimer = setTimeout(() => void connect(true).catch(() => {}), 1000); // 1 s
      });
      try {
        await c.connect();
        await c.query(`LISTEN ${MASTER_DATA_CHANNEL}`);
      } catch (e) {
        onError?.(e as Error);
        await c.end().catch(() => {});
        if (!stopped) retryTimer = setTimeout(() => void connect(true).catch(() => {}), 1000); // 1 s
        return;
      }
      if (stopped) {
        await c.end().catch(() => {});
        return;
      }
      client = c;
      if (again) onChange();
    };
    await connect(false);
    return async () => {
      stopped = true;
      if (retryTimer) clearTimeout(retryTimer);
      await client?.end().catch(() => {});
      client = null;
    };
  }

  async seedMasterData(seed: MasterDataSeed): Promise<SeedReport> {
    return this.tx(async (c) => {
      const report: SeedReport = { inserted: [], updated: [], keptApiEdits: [] };
      const one = async (kind: MasterKind, table: string, idCol: string, id: string, body: unknown) => {
        const json = JSON.stringify(body);
        // Replicas seeding together: the insert is idempotent; the comparison is on jsonb values.
        const ins = await this.q(
          `INSERT INTO ${table} (${idCol}, body, source) VALUES ($1, $2::jsonb, 'config')
           ON CONFLICT (${idCol}) DO NOTHING RETURNING ${idCol}`,
          [id, json],
          c,
        );
        if (ins.length > 0) {
          report.inserted.push({ kind, id });
          return;
        }
        const row = (await this.one(
          `SELECT body = $2::jsonb AS same, source FROM ${table} WHERE ${idCol} = $1 FOR UPDATE`,
          [id, json],
          c,
        ))!;
        if (row.same) return;
        if (row.source === 'config') {
          await this.q(
            `UPDATE ${table} SET body = $2::jsonb WHERE ${idCol} = $1 AND source = 'config'`,
            [id, json],
            c,
          );
          report.updated.push({ kind, id });
        } else report.keptApiEdits.push({ kind, id });
      };
      for (const x of seed.sites) await one('site', 'sites', 'site_id', x.siteId, x);
      for (const x of seed.projects) await one('project', 'projects', 'project_id', x.projectId, x);
      for (const x of seed.units) await one('unit', 'units', 'unit_id', x.unitId, x);
      for (const x of seed.rates) await one('rate', 'rates', 'rate_id', x.rateId, x);
      if (report.inserted.length + report.updated.length > 0) await this.notifyMasterData(c, 'seed');
      return report;
    });
  }

  private async listBodies<T>(table: string, idCol: string): Promise<T[]> {
    return (await this.q(`SELECT body FROM ${table} ORDER BY ${idCol}`)).map((r) => r.body as T);
  }
  upsertSite(site: Site): Promise<void> {
    return this.upsertBody('sites', 'site_id', site.siteId, site);
  }
  listSites(): Promise<Site[]> {
    return this.listBodies('sites', 'site_id');
  }
  upsertProject(project: Project): Promise<void> {
    return this.upsertBody('projects', 'project_id', project.projectId, project);
  }
  listProjects(): Promise<Project[]> {
    return this.listBodies('projects', 'project_id');
  }
  /**
   * Registers the unit and, in the same transaction, lets its readings held as `unknown_unit`
   * join usage, marking the unit dirty from the earliest of them.
   */
  async upsertUnit(unit: Unit): Promise<void> {
    await this.tx(async (c) => {
      const changed = await this.q(
        `INSERT INTO units (unit_id, body, source) VALUES ($1, $2::jsonb, 'api')
         ON CONFLICT (unit_id) DO UPDATE SET body = excluded.body, source = 'api'
         WHERE units.body IS DISTINCT FROM excluded.body
         RETURNING unit_id`,
        [unit.unitId, JSON.stringify(unit)],
        c,
      );
      if (changed.length > 0) await this.notifyMasterData(c, 'units');
      const released = await this.q(
        `UPDATE readings SET status = 'ok', hold_reason = NULL
         WHERE unit_id = $1 AND status = 'held' AND hold_reason LIKE 'unknown_unit%'
         RETURNING ts_ms`,
        [unit.unitId],
        c,
      );
      if (released.length > 0) {
        const since = Math.min(...released.map((r) => Number(r.ts_ms)));
        await this.markDirtyIn(c, unit.unitId, since, new Date().toISOString());
      }
    });
  }
  listUnits(): Promise<Unit[]> {
    return this.listBodies('units', 'unit_id');
  }
  async getUnit(unitId: string): Promise<Unit | null> {
    const r = await this.one('SELECT body FROM units WHERE unit_id = $1', [unitId]);
    return r ? (r.body as Unit) : null;
  }
  upsertRate(rate: Rate): Promise<void> {
    return this.upsertBody('rates', 'rate_id', rate.rateId, rate);
  }
  listRates(): Promise<Rate[]> {
    return this.listBodies('rates', 'rate_id');
  }

  // ---- consolidation ---------------------------------------------------------------------

  private async markDirtyIn(c: Q, unitId: string, sinceMs: number, at: string): Promise<void> {
    await this.q(
      `INSERT INTO dirty_units (unit_id, since_ms, marked_at, generation) VALUES ($1, $2, $3, 1)
       ON CONFLICT (unit_id) DO UPDATE SET since_ms = LEAST(dirty_units.since_ms, excluded.since_ms),
         generation = dirty_units.generation + 1`,
      [unitId, sinceMs, at],
      c,
    );
  }

  /** markDirtyIn for many units in one statement (in unit order, as row locks are taken). */
  private async markDirtyMany(c: Q, sinceByUnit: Map<string, number>, at: string): Promise<void> {
    if (sinceByUnit.size === 0) return;
    const units = [...sinceByUnit.keys()].sort();
    await this.q(
      `INSERT INTO dirty_units (unit_id, since_ms, marked_at, generation)
       SELECT u, s, $3, 1 FROM unnest($1::text[], $2::bigint[]) AS x(u, s) ORDER BY u
       ON CONFLICT (unit_id) DO UPDATE SET since_ms = LEAST(dirty_units.since_ms, excluded.since_ms),
         generation = dirty_units.generation + 1`,
      [units, units.map((u) => sinceByUnit.get(u)), at],
      c,
    );
  }

  markDirty(unitId: string, sinceMs: number, at: string): Promise<void> {
    return this.markDirtyIn(this.pool, unitId, sinceMs, at);
  }

  async dirtyUnits(): Promise<DirtyUnit[]> {
    return (await this.q('SELECT * FROM dirty_units ORDER BY marked_at, unit_id')).map(toDirtyUnit);
  }

  async lastUsableReadingBefore(unitId: string, ms: number): Promise<number | null> {
    const r = await this.one(
      "SELECT MAX(ts_ms) AS ts_ms FROM readings WHERE unit_id = $1 AND status = 'ok' AND ts_ms < $2",
      [unitId, ms],
    );
    return (r?.ts_ms as number | null) ?? null;
  }

  async batchIdsBetween(unitId: string, fromMs: number, toMs: number): Promise<string[]> {
    return (
      await this.q(
        "SELECT DISTINCT batch_id FROM readings WHERE unit_id = $1 AND status = 'ok' AND ts_ms >= $2 AND ts_ms < $3 ORDER BY batch_id",
        [unitId, fromMs, toMs],
      )
    ).map((r) => r.batch_id as string);
  }

  async usableReadings(unitId: string, fromMs?: number): Promise<StoredReading[]> {
    const start = fromMs === undefined ? null : await this.lastUsableReadingBefore(unitId, fromMs);
    const rows =
      start === null
        ? await this.q("SELECT * FROM readings WHERE unit_id = $1 AND status = 'ok' ORDER BY ts_ms, id", [
            unitId,
          ])
        : await this.q(
            "SELECT * FROM readings WHERE unit_id = $1 AND status = 'ok' AND ts_ms >= $2 ORDER BY ts_ms, id",
            [unitId, start],
          );
    return rows.map((r) => ({
      unitId: r.unit_id as string,
      ts: r.ts as string,
      tsMs: r.ts_ms as number,
      engineHours: r.engine_hours as number,
      idleHours: (r.idle_hours as number | null) ?? null,
      odometerKm: (r.odometer_km as number | null) ?? null,
      position: r.lat != null && r.lon != null ? { lat: r.lat as number, lon: r.lon as number } : null,
      siteId: (r.site_id as string | null) ?? null,
      receivedAt: r.received_at as string,
      batchId: r.batch_id as string,
      gatewayId: r.gateway_id as string,
    }));
  }

  async usageReadings(unitId: string, fromMs?: number): Promise<MeterReading[]> {
    const start = fromMs === undefined ? null : await this.lastUsableReadingBefore(unitId, fromMs);
    // Only the columns usage needs: the JSON body and content are most of a row's bytes.
    const cols = 'ts, ts_ms, engine_hours, idle_hours, odometer_km, lat, lon, site_id';
    const rows =
      start === null
        ? await this.q(
            `SELECT ${cols} FROM readings WHERE unit_id = $1 AND status = 'ok' ORDER BY ts_ms, id`,
            [unitId],
          )
        : await this.q(
            `SELECT ${cols} FROM readings WHERE unit_id = $1 AND status = 'ok' AND ts_ms >= $2 ORDER BY ts_ms, id`,
            [unitId, start],
          );
    return rows.map((r) => ({
      ts: r.ts as string,
      tsMs: r.ts_ms as number,
      engineHours: r.engine_hours as number,
      idleHours: (r.idle_hours as number | null) ?? null,
      odometerKm: (r.odometer_km as number | null) ?? null,
      position: r.lat != null && r.lon != null ? { lat: r.lat as number, lon: r.lon as number } : null,
      siteId: (r.site_id as string | null) ?? null,
    }));
  }

  async markAllDirty(at: string): Promise<void> {
    // One statement, in unit order (as row locks are taken), instead of one upsert per unit.
    await this.q(
      `INSERT INTO dirty_units (unit_id, since_ms, marked_at, generation)
       SELECT u, 0, $1, 1 FROM (SELECT DISTINCT unit_id AS u FROM readings) x ORDER BY u
       ON CONFLICT (unit_id) DO UPDATE SET since_ms = 0, generation = dirty_units.generation + 1`,
      [at],
    );
  }

  async applyConsolidation(w: ConsolidationWrite): Promise<ConsolidationResult> {
    try {
      return await this.consolidationTx(w);
    } catch (e) {
      // Thrown inside the transaction, so nothing of this write was kept.
      if (e instanceof StaleWrite) return { kind: 'stale', reason: e.message };
      throw e;
    }
  }

  private async consolidationTx(w: ConsolidationWrite): Promise<ConsolidationResult> {
    return this.tx(async (c) => {
      const existing = new Map(
        (w.since
          ? await this.q(
              'SELECT * FROM usage WHERE unit_id = $1 AND day >= $2 FOR UPDATE',
              [w.unitId, w.since.fromDay],
              c,
            )
          : await this.q('SELECT * FROM usage WHERE unit_id = $1 FOR UPDATE', [w.unitId], c)
        ).map((r) => [`${r.day}|${r.project_id}`, r]),
      );
      let rowsWritten = 0;
      const keep = new Set<string>();
      for (const f of w.figures) {
        const k = `${f.day}|${f.projectId}`;
        keep.add(k);
        const row = usageRow(f, w.consolidatedAt);
        const old = existing.get(k);
        if (old && sameUsage(old, row)) continue;
        await this.q(
          `INSERT INTO usage (unit_id, day, project_id, site_id, engine_hours, idle_hours, working_hours, distance_km,
             readings, anomalies, meter_from, meter_to, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11, $12, $13)
           ON CONFLICT (unit_id, day, project_id) DO UPDATE SET site_id = excluded.site_id,
             engine_hours = excluded.engine_hours, idle_hours = excluded.idle_hours,
             working_hours = excluded.working_hours, distance_km = excluded.distance_km, readings = excluded.readings,
             anomalies = excluded.anomalies, meter_from = excluded.meter_from, meter_to = excluded.meter_to,
             updated_at = excluded.updated_at`,
          [
            row.unit_id,
            row.day,
            row.project_id,
            row.site_id,
            row.engine_hours,
            row.idle_hours,
            row.working_hours,
            row.distance_km,
            row.readings,
            row.anomalies,
            row.meter_from,
            row.meter_to,
            row.updated_at,
          ],
          c,
        );
        rowsWritten++;
      }
      for (const [k, r] of existing) {
        if (keep.has(k)) continue;
        await this.q(
          'DELETE FROM usage WHERE unit_id = $1 AND day = $2 AND project_id = $3',
          [w.unitId, r.day, r.project_id],
          c,
        );
        rowsWritten++;
      }
      if (w.since)
        await this.q('DELETE FROM anomalies WHERE unit_id = $1 AND ts > $2', [w.unitId, w.since.afterTs], c);
      else await this.q('DELETE FROM anomalies WHERE unit_id = $1', [w.unitId], c);
      for (const a of w.anomalies)
        await this.q(
          'INSERT INTO anomalies (unit_id, kind, ts, detail, before, after) VALUES ($1, $2, $3, $4, $5, $6)',
          [a.unitId, a.kind, a.ts, a.detail, a.before, a.after],
          c,
        );
      await this.applyAllocationChanges(c, w.allocations, w.consolidatedAt);
      if (w.generation !== null)
        await this.q(
          'DELETE FROM dirty_units WHERE unit_id = $1 AND generation = $2',
          [w.unitId, w.generation],
          c,
        );
      await this.q(
        `INSERT INTO meta (key, value) VALUES ('lastConsolidatedAt', $1)
         ON CONFLICT (key) DO UPDATE SET value = GREATEST(meta.value, excluded.value)`,
        [w.consolidatedAt],
        c,
      );
      if (w.claimOwner) await this.releaseClaim(c, `${CONSOLIDATE}${w.unitId}`, w.claimOwner);
      return { kind: 'applied', rowsWritten };
    });
  }

  /** Inside a transaction: throws StaleWrite (rolling it back) when a premise no longer holds. */
  private async applyAllocationChanges(
    c: Q,
    ch: ConsolidationWrite['allocations'],
    at: string,
  ): Promise<void> {
    for (const a of ch.create) {
      // The unique key is the last word: one created meanwhile by another replica is stale.
      const id = await this.insertAllocation(c, a);
      if (id === null) throw new StaleWrite(`allocation ${a.key} was created meanwhile`);
    }
    for (const u of ch.update)
      if (!(await this.patchAllocation(c, u.id, u.patch, u.expect)))
        throw new StaleWrite(
          `allocation ${u.id} changed after version ${u.expect.version} (${u.expect.status})`,
        );
    for (const e of ch.audit) await this.insertAudit(c, e, at);
  }

  /** The new id, or null when an allocation with its key exists. */
  private async insertAllocation(c: Q, a: NewAllocation): Promise<string | null> {
    const cols: Record<string, unknown> = { version: 1 };
    for (const [k, v] of Object.entries(a)) Object.assign(cols, allocationValue(k, v));
    const names = Object.keys(cols);
    const values = names.map((n, i) => (n === 'evidence' ? `$${i + 1}::jsonb` : `$${i + 1}`)).join(', ');
    const r = await this.one(
      `INSERT INTO allocations (${names.join(', ')}) VALUES (${values}) ON CONFLICT (key) DO NOTHING RETURNING id`,
      names.map((n) => cols[n]),
      c,
    );
    return r ? String(r.id) : null;
  }

  /**
   * Every change bumps the version. With `expect`, a compare-and-set: applied only while the
   * allocation is at that version and status (checked by the UPDATE itself, which under READ
   * COMMITTED re-reads a row another transaction changed before deciding); false otherwise.
   */
  private async patchAllocation(
    c: Q,
    id: string,
    patch: AllocationPatch,
    expect?: AllocationExpect,
  ): Promise<boolean> {
    if (!isId(id)) return false;
    const cols: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(patch)) Object.assign(cols, allocationValue(k, v));
    const names = Object.keys(cols);
    const args: unknown[] = [Number(id), ...names.map((n) => cols[n])];
    const set = [
      ...names.map((n, i) => `${n} = $${i + 2}${n === 'evidence' ? '::jsonb' : ''}`),
      'version = version + 1',
    ].join(', ');
    let where = 'id = $1';
    if (expect) {
      args.push(expect.version, expect.status);
      where += ` AND version = $${args.length - 1} AND status = $${args.length}`;
    }
    return (await this.q(`UPDATE allocations SET ${set} WHERE ${where} RETURNING id`, args, c)).length === 1;
  }

  // ---- claims ----------------------------------------------------------------------------

  /** Takes `resource` for `owner` unless another owner holds a lease that has not expired. */
  private async claim(c: Q, resource: string, lease: Lease): Promise<boolean> {
    const r = await this.q(
      `INSERT INTO claims (resource, owner, expires_ms) VALUES ($1, $2, ${LEASE_NOW('$4')} + $3)
       ON CONFLICT (resource) DO UPDATE SET owner = excluded.owner, expires_ms = excluded.expires_ms
       WHERE claims.expires_ms <= ${LEASE_NOW('$4')} OR claims.owner = excluded.owner
       RETURNING resource`,
      [resource, lease.owner, lease.leaseMs, this.leaseNowMs(lease)],
      c,
    );
    return r.length > 0;
  }

  private async releaseClaim(c: Q, resource: string, owner?: string): Promise<void> {
    if (owner === undefined) await this.q('DELETE FROM claims WHERE resource = $1', [resource], c);
    else await this.q('DELETE FROM claims WHERE resource = $1 AND owner = $2', [resource, owner], c);
  }

  async claimDirtyUnit(lease: Lease): Promise<DirtyUnit | null> {
    // Claimable: nobody, the caller included, holds a live claim on it. SKIP LOCKED: replicas
    // claiming at the same moment take different units instead of queueing.
    // A candidate another replica claimed between this statement's snapshot and its row lock
    // fails the claim's own check, and the next candidate is tried.
    for (let attempt = 0; attempt < 3; attempt++) {
      const got = await this.tx(async (c) => {
        const r = await this.one(
          `SELECT d.* FROM dirty_units d LEFT JOIN claims cl ON cl.resource = $1 || d.unit_id
           WHERE cl.resource IS NULL OR cl.expires_ms <= ${LEASE_NOW('$2')}
           ORDER BY d.marked_at, d.unit_id LIMIT 1 FOR UPDATE OF d SKIP LOCKED`,
          [CONSOLIDATE, this.leaseNowMs(lease)],
          c,
        );
        if (!r) return null;
        return (await this.claim(c, `${CONSOLIDATE}${r.unit_id}`, lease)) ? toDirtyUnit(r) : 'taken';
      });
      if (got !== 'taken') return got;
    }
    return null;
  }

  async releaseDirtyUnit(unitId: string, owner: string): Promise<void> {
    await this.releaseClaim(this.pool, `${CONSOLIDATE}${unitId}`, owner);
  }

  async claimForPosting(ids: string[], lease: Lease): Promise<AllocationRecord[]> {
    // In id order, so two replicas claiming overlapping sets never wait on each other in a cycle.
    const sorted = [...new Set(ids)].filter(isId).sort((a, b) => Number(a) - Number(b));
    return this.tx(async (c) => {
      const out: AllocationRecord[] = [];
      for (const id of sorted) {
        const a = await this.getAllocation(id, c);
        if (a?.status === 'approved' && (await this.claim(c, `${POST}${a.id}`, lease))) out.push(a);
      }
      return out;
    });
  }

  async releasePostingClaims(ids: string[], owner: string): Promise<void> {
    await this.q('DELETE FROM claims WHERE resource = ANY($1::text[]) AND owner = $2', [
      ids.map((id) => `${POST}${id}`),
      owner,
    ]);
  }

  async claimOwners(): Promise<string[]> {
    return (await this.q('SELECT DISTINCT owner FROM claims ORDER BY owner')).map((r) => r.owner as string);
  }

  async releaseClaimsOf(replicaId: string): Promise<number> {
    // starts_with, not LIKE: a replica id may hold characters LIKE treats as patterns.
    return (
      await this.q(
        "DELETE FROM claims WHERE owner = $1 OR starts_with(owner, $1 || '/') RETURNING resource",
        [replicaId],
      )
    ).length;
  }

  async claimJobTick(job: string, tick: string, owner: string, at: string): Promise<boolean> {
    return this.tx(async (c) => {
      const won = await this.q(
        `INSERT INTO job_ticks (job, tick, owner, claimed_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (job, tick) DO NOTHING RETURNING tick`,
        [job, tick, owner, at],
        c,
      );
      // Ticks older than a week say nothing any more.
      if (won.length > 0)
        await this.q(
          'DELETE FROM job_ticks WHERE job = $1 AND claimed_at < $2',
          [job, new Date(Date.parse(at) - 7 * DAY_MS).toISOString()],
          c,
        );
      return won.length > 0;
    });
  }

  async listUsage(filter: UsageFilter): Promise<UsageRow[]> {
    const s = usageWhere(filter);
    return (await this.q(`SELECT * FROM usage ${s.clause()} ORDER BY day, unit_id, project_id`, s.args)).map(
      (r) => ({
        unitId: r.unit_id as string,
        day: r.day as string,
        projectId: r.project_id as string,
        siteId: r.site_id as string,
        engineHours: r.engine_hours as number,
        idleHours: r.idle_hours as number,
        workingHours: r.working_hours as number,
        distanceKm: (r.distance_km as number | null) ?? null,
        readings: r.readings as number,
        anomalies: (r.anomalies as unknown[]).length,
      }),
    );
  }

  async listAnomalies(filter: UsageFilter): Promise<Anomaly[]> {
    const s = new Sql();
    if (filter.unit) s.add('unit_id = ?', filter.unit);
    if (filter.from) s.add('ts >= ?', shiftDay(filter.from, -1));
    if (filter.to) s.add('ts < ?', shiftDay(filter.to, 2));
    return (await this.q(`SELECT * FROM anomalies ${s.clause()} ORDER BY unit_id, ts, id`, s.args)).map(
      (r) => ({
        unitId: r.unit_id as string,
        kind: r.kind as Anomaly['kind'],
        ts: r.ts as string,
        detail: r.detail as string,
        before: (r.before as number | null) ?? null,
        after: (r.after as number | null) ?? null,
      }),
    );
  }

  async getMeta(key: string): Promise<string | null> {
    const r = await this.one('SELECT value FROM meta WHERE key = $1', [key]);
    return (r?.value as string | undefined) ?? null;
  }

  // ---- allocations ------------------------------------------------------------------------

  async allocationsForUnit(unitId: string): Promise<AllocationRecord[]> {
    return (
      await this.q('SELECT * FROM allocations WHERE unit_id = $1 ORDER BY day, project_id, seq', [unitId])
    ).map(toAllocation);
  }

  async allocationsForUnitFrom(unitId: string, fromDay: string): Promise<AllocationRecord[]> {
    return (
      await this.q(
        'SELECT * FROM allocations WHERE unit_id = $1 AND day >= $2 ORDER BY day, project_id, seq',
        [unitId, fromDay],
      )
    ).map(toAllocation);
  }

  async listAllocations(filter: AllocationFilter & { ids?: string[] }): Promise<AllocationRecord[]> {
    const s = new Sql();
    if (filter.ids) {
      if (filter.ids.length === 0) return [];
      s.add(
        'id = ANY(?::bigint[])',
        filter.ids.map((i) => (isId(i) ? Number(i) : -1)),
      );
    }
    if (filter.status) s.add('status = ?', filter.status);
    if (filter.from) s.add('day >= ?', filter.from);
    if (filter.to) s.add('day <= ?', filter.to);
    if (filter.project) s.add('project_id = ?', filter.project);
    if (filter.unit) s.add('unit_id = ?', filter.unit);
    return (
      await this.q(`SELECT * FROM allocations ${s.clause()} ORDER BY day, unit_id, project_id, seq`, s.args)
    ).map(toAllocation);
  }

  async getAllocation(id: string, c: Q = this.pool): Promise<AllocationRecord | null> {
    if (!isId(id)) return null;
    const r = await this.one('SELECT * FROM allocations WHERE id = $1', [Number(id)], c);
    return r ? toAllocation(r) : null;
  }

  async getAllocationByKey(key: string): Promise<AllocationRecord | null> {
    const r = await this.one('SELECT * FROM allocations WHERE key = $1', [key]);
    return r ? toAllocation(r) : null;
  }

  async countAllocationsByStatus(): Promise<Record<AllocationStatus, number>> {
    const out: Record<AllocationStatus, number> = {
      pending: 0,
      approved: 0,
      posted: 0,
      rejected: 0,
      superseded: 0,
    };
    for (const r of await this.q('SELECT status, COUNT(*) AS n FROM allocations GROUP BY status'))
      out[r.status as AllocationStatus] = r.n as number;
    return out;
  }

  async applyDecisions(changes: AllocationChange[], at: string): Promise<DecisionsResult> {
    return this.tx(async (c) => {
      const res: DecisionsResult = { applied: [], stale: [] };
      for (const ch of changes) {
        if (await this.patchAllocation(c, ch.id, ch.patch, ch.expect)) {
          for (const e of ch.audit) await this.insertAudit(c, e, at);
          res.applied.push(ch.id);
        } else res.stale.push({ id: ch.id, current: await this.getAllocation(ch.id, c) });
      }
      return res;
    });
  }

  // ---- posting ledger ---------------------------------------------------------------------

  async markPosted(op: MarkPosted): Promise<MarkPostedResult> {
    const { id, sent, outcome, at, actor } = op;
    if (!isId(id)) return { kind: 'not_found' };
    return this.tx(async (c): Promise<MarkPostedResult> => {
      // The row lock orders this after (or before) a decision or consolidation in flight.
      const row = await this.one('SELECT * FROM allocations WHERE id = $1 FOR UPDATE', [Number(id)], c);
      if (!row) return { kind: 'not_found' };
      const a = toAllocation(row);
      await this.releaseClaim(c, `${POST}${id}`);
      if (a.status === 'posted') return { kind: 'already_posted', allocation: a };
      const unchanged = a.version === sent.version && a.status === 'approved';
      // The record keeps what Odoo holds: the figures sent, whatever happened meanwhile.
      const patch: AllocationPatch = {
        status: 'posted',
        postedAt: at,
        holdReason: null,
        odoo:
          outcome.odooId === null ? null : { model: outcome.model, id: outcome.odooId, date: outcome.date },
      };
      if (!unchanged)
        Object.assign(patch, {
          engineHours: sent.engineHours,
          idleHours: sent.idleHours,
          workingHours: sent.workingHours,
          workingRateMinor: sent.workingRateMinor,
          idleRateMinor: sent.idleRateMinor,
          amountMinor: sent.amountMinor,
          currency: sent.currency,
          updatedAt: at,
        });
      await this.patchAllocation(c, id, patch, { version: a.version, status: a.status });
      await this.q(
        'UPDATE dead_letters SET resolved_at = $1 WHERE allocation_id = $2 AND resolved_at IS NULL',
        [at, id],
        c,
      );
      // What changed meanwhile is now a difference to what is posted: the next consolidation of
      // the unit books it as an adjustment (from the day before, as days are site-local).
      if (!unchanged) await this.markDirtyIn(c, a.unitId, Date.parse(`${a.day}T00:00:00Z`) - DAY_MS, at);
      const meanwhile = unchanged
        ? {}
        : {
            changedMeanwhile: {
              version: a.version,
              status: a.status,
              engineHours: a.engineHours,
              amountMinor: a.amountMinor,
            },
          };
      await this.insertAudit(
        c,
        {
          actor,
          action: 'allocation.post',
          target: a.key,
          detail: JSON.stringify({ id, ...outcome, sent, ...meanwhile }),
        },
        at,
      );
      const posted = (await this.getAllocation(id, c))!;
      return unchanged
        ? { kind: 'posted', allocation: posted }
        : { kind: 'posted_changed', allocation: posted, meanwhile: a };
    });
  }

  async deadLetter(id: string, code: string, message: string, at: string, actor: string): Promise<void> {
    await this.tx(async (c) => {
      const a = await this.getAllocation(id, c);
      const key = a?.key ?? id;
      await this.releaseClaim(c, `${POST}${id}`);
      // The partial unique index keeps one open dead letter per allocation across replicas.
      await this.q(
        `INSERT INTO dead_letters (allocation_id, key, code, message, attempts, created_at, last_attempt_at)
         VALUES ($1, $2, $3, $4, 1, $5, $5)
         ON CONFLICT (allocation_id) WHERE resolved_at IS NULL DO UPDATE SET code = excluded.code,
           message = excluded.message, attempts = dead_letters.attempts + 1, last_attempt_at = excluded.last_attempt_at`,
        [id, key, code, message, at],
        c,
      );
      await this.insertAudit(
        c,
        { actor, action: 'allocation.deadletter', target: key, detail: `${code}: ${message}` },
        at,
      );
    });
  }

  async hold(id: string, reason: string, at: string, actor: string): Promise<void> {
    await this.tx(async (c) => {
      const a = await this.getAllocation(id, c);
      await this.releaseClaim(c, `${POST}${id}`);
      await this.patchAllocation(c, id, { holdReason: reason, updatedAt: at });
      await this.insertAudit(
        c,
        { actor, action: 'allocation.hold', target: a?.key ?? id, detail: reason },
        at,
      );
    });
  }

  async listDeadLetters(opts: { includeResolved?: boolean } = {}): Promise<DeadLetter[]> {
    const rows = await this.q(
      `SELECT * FROM dead_letters ${opts.includeResolved ? '' : 'WHERE resolved_at IS NULL'} ORDER BY id`,
    );
    return rows.map((r) => ({
      id: String(r.id),
      allocationId: r.allocation_id as string,
      key: r.key as string,
      code: r.code as string,
      message: r.message as string,
      attempts: r.attempts as number,
      createdAt: r.created_at as string,
      lastAttemptAt: r.last_attempt_at as string,
    }));
  }

  // ---- periods, tokens, audit ---------------------------------------------------------------

  async lockedPeriods(): Promise<string[]> {
    return (await this.q('SELECT period FROM period_locks ORDER BY period')).map((r) => r.period as string);
  }

  async setPeriodLock(period: string, locked: boolean, actor: string, at: string): Promise<boolean> {
    return this.tx(async (c) => {
      const changed = locked
        ? (
            await this.q(
              'INSERT INTO period_locks (period, locked_by, locked_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING period',
              [period, actor, at],
              c,
            )
          ).length > 0
        : (await this.q('DELETE FROM period_locks WHERE period = $1 RETURNING period', [period], c)).length >
          0;
      if (changed)
        await this.insertAudit(
          c,
          { actor, action: locked ? 'period.lock' : 'period.unlock', target: period, detail: null },
          at,
        );
      return changed;
    });
  }

  async listTokens(): Promise<TokenRecord[]> {
    return (await this.q('SELECT * FROM tokens ORDER BY created_at, id')).map(toToken);
  }

  async findTokenByHash(tokenHash: string): Promise<TokenRecord | null> {
    const r = await this.one('SELECT * FROM tokens WHERE token_hash = $1', [tokenHash]);
    return r ? toToken(r) : null;
  }

  async createToken(t: TokenRecord, actor: string): Promise<void> {
    await this.tx(async (c) => {
      await this.q(
        'INSERT INTO tokens (id, name, role, token_hash, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, NULL)',
        [t.id, t.name, t.role, t.tokenHash, t.createdAt],
        c,
      );
      await this.insertAudit(
        c,
        { actor, action: 'token.create', target: t.id, detail: `${t.name} (${t.role})` },
        t.createdAt,
      );
    });
  }

  async seedToken(t: TokenRecord): Promise<void> {
    await this.q(
      `INSERT INTO tokens (id, name, role, token_hash, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, NULL)
       ON CONFLICT (id) DO UPDATE SET role = excluded.role, token_hash = excluded.token_hash`,
      [t.id, t.name, t.role, t.tokenHash, t.createdAt],
    );
  }

  async revokeToken(id: string, actor: string, at: string): Promise<'revoked' | 'already' | 'not_found'> {
    return this.tx(async (c) => {
      const r = await this.one('SELECT * FROM tokens WHERE id = $1 FOR UPDATE', [id], c);
      if (!r) return 'not_found';
      if (r.revoked_at) return 'already';
      await this.q('UPDATE tokens SET revoked_at = $1 WHERE id = $2', [at, id], c);
      await this.insertAudit(c, { actor, action: 'token.revoke', target: id, detail: r.name as string }, at);
      return 'revoked';
    });
  }

  async audit(entry: AuditRecord, at: string): Promise<void> {
    await this.insertAudit(this.pool, entry, at);
  }

  async listAudit(filter: {
    from?: string;
    to?: string;
    actor?: string;
    action?: string;
  }): Promise<AuditEntry[]> {
    const s = new Sql();
    if (filter.from) s.add('at >= ?', filter.from);
    if (filter.to)
      s.add('at < ?', /^\d{4}-\d{2}-\d{2}$/.test(filter.to) ? shiftDay(filter.to, 1) : filter.to);
    if (filter.actor) s.add('actor = ?', filter.actor);
    if (filter.action)
      s.add("action LIKE ? ESCAPE '\\'", `${filter.action.replace(/[\\%_]/g, (m) => `\\${m}`)}%`);
    return (
      await this.q(`SELECT at, actor, action, target, detail FROM audit ${s.clause()} ORDER BY id`, s.args)
    ).map((r) => ({
      at: r.at as string,
      actor: r.actor as string,
      action: r.action as string,
      target: r.target as string,
      detail: (r.detail as string | null) ?? null,
    }));
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => {});
  }

  // ---- AEMP feeds and endpoint (Contract 3) ------------------------------------------------

  async casMeta(key: string, expected: string | null, value: string): Promise<boolean> {
    const rows =
      expected === null
        ? await this.q(
            'INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING RETURNING key',
            [key, value],
          )
        : await this.q('UPDATE meta SET value = $1 WHERE key = $2 AND value = $3 RETURNING key', [
            value,
            key,
            expected,
          ]);
    return rows.length === 1;
  }

  async usableReadingBodies(
    unitId: string,
    fromMs: number,
    toMs: number,
    limit: number,
    offset: number,
  ): Promise<ForwardedReading[]> {
    const rows = await this.q(
      `SELECT ts, body FROM readings WHERE unit_id = $1 AND status = 'ok' AND ts_ms >= $2 AND ts_ms <= $3
       ORDER BY ts_ms, id LIMIT $4 OFFSET $5`,
      [unitId, fromMs, toMs, limit, offset],
    );
    return rows.map((r) => ({ ...(r.body as ForwardedReading), ts: r.ts as string }));
  }

  async latestUsableReading(unitId: string): Promise<ForwardedReading | null> {
    const r = await this.one(
      `SELECT ts, body FROM readings WHERE unit_id = $1 AND status = 'ok' ORDER BY ts_ms DESC, id DESC LIMIT 1`,
      [unitId],
    );
    return r ? { ...(r.body as ForwardedReading), ts: r.ts as string } : null;
  }

  // ---- posting holds ------------------------------------------------------------------------

  async clearHold(op: ClearHold): Promise<ClearHoldResult> {
    if (!isId(op.id)) return { kind: 'stale', current: null };
    return this.tx(async (c): Promise<ClearHoldResult> => {
      const row = await this.one('SELECT * FROM allocations WHERE id = $1 FOR UPDATE', [Number(op.id)], c);
      if (!row) return { kind: 'stale', current: null };
      const a = toAllocation(row);
      if (a.version !== op.expect.version || a.status !== op.expect.status)
        return { kind: 'stale', current: a };
      if (!a.holdReason) return { kind: 'no_hold' };
      if (!(await this.patchAllocation(c, op.id, { holdReason: null, updatedAt: op.at }, op.expect)))
        return { kind: 'stale', current: a };
      await this.insertAudit(
        c,
        { actor: op.actor, action: 'allocation.hold_cleared', target: a.key, detail: `was: ${a.holdReason}` },
        op.at,
      );
      return { kind: 'cleared', allocation: (await this.getAllocation(op.id, c))! };
    });
  }

  // ---- master data from Odoo ----------------------------------------------------------------

  async listOdooRecords(model: OdooMasterModel): Promise<OdooMasterRecord[]> {
    const rows = await this.q('SELECT * FROM odoo_records WHERE model = $1 ORDER BY odoo_id', [model]);
    return rows.map((r) => ({
      odooId: r.odoo_id as number,
      name: r.name as string,
      serialNo: (r.serial_no as string | null) ?? null,
      accountId: (r.account_id as number | null) ?? null,
      active: r.active === true,
      writeDate: r.write_date as string,
    }));
  }

  async applyOdooSync(op: OdooSyncWrite): Promise<OdooSyncResult> {
    const { model, at, actor } = op;
    const key = odooSyncCursorKey(model);
    // One record per id (the last read wins), in the order read.
    const records = [...new Map(op.records.map((r) => [r.odooId, r])).values()];
    return this.tx(async (c): Promise<OdooSyncResult> => {
      // Syncs of one model take turns (the cursor row may not exist yet to lock), so the
      // cursor compared below is still the stored one when the rows and the cursor are written.
      await this.q('SELECT pg_advisory_xact_lock(hashtext($1))', [key], c);
      const stored =
        ((await this.one('SELECT value FROM meta WHERE key = $1', [key], c))?.value as string | undefined) ??
        null;
      if (stored !== op.since) return { kind: 'stale', cursor: stored };
      const written =
        records.length === 0
          ? []
          : await this.q(
              `INSERT INTO odoo_records (model, odoo_id, name, serial_no, account_id, active, write_date, synced_at)
               SELECT $1, r.odoo_id, r.name, r.serial_no, r.account_id, r.active, r.write_date, $8
               FROM unnest($2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::boolean[], $7::text[])
                 AS r (odoo_id, name, serial_no, account_id, active, write_date)
               ON CONFLICT (model, odoo_id) DO UPDATE SET name = excluded.name, serial_no = excluded.serial_no,
                 account_id = excluded.account_id, active = excluded.active, write_date = excluded.write_date,
                 synced_at = excluded.synced_at
               WHERE (odoo_records.name, odoo_records.serial_no, odoo_records.account_id, odoo_records.active,
                      odoo_records.write_date)
                 IS DISTINCT FROM (excluded.name, excluded.serial_no, excluded.account_id, excluded.active,
                      excluded.write_date)
               RETURNING odoo_id, (xmax = 0) AS inserted`,
              [
                model,
                records.map((r) => r.odooId),
                records.map((r) => r.name),
                records.map((r) => r.serialNo),
                records.map((r) => r.accountId),
                records.map((r) => r.active),
                records.map((r) => r.writeDate),
                at,
              ],
              c,
            );
      const inserted = new Map(written.map((w) => [w.odoo_id as number, w.inserted === true]));
      const added: number[] = [];
      const changed: number[] = [];
      for (const r of records) {
        const wasInserted = inserted.get(r.odooId);
        if (wasInserted === undefined) continue;
        (wasInserted ? added : changed).push(r.odooId);
      }
      if (op.cursor !== null && op.cursor !== stored)
        await this.q(
          'INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
          [key, op.cursor],
          c,
        );
      if (added.length + changed.length > 0)
        await this.insertAudit(
          c,
          { actor, action: 'odoo.sync', target: model, detail: JSON.stringify({ added, changed }) },
          at,
        );
      return { kind: 'applied', added, changed };
    });
  }
}

const CONFLICT_REASON = 'conflict: same (unitId, ts), different content';
/** NOTIFY channel: master data changed (payload: the table, or 'seed'). */
const MASTER_DATA_CHANNEL = 'ironledger_master_data';
const DAY_MS = 24 * 3600 * 1000;
/** Claim resources: a dirty unit's consolidation, an allocation's posting. */
const CONSOLIDATE = 'consolidate:';
const POST = 'post:';

/** A compare-and-set premise failed inside a transaction; thrown to roll it back. */
class StaleWrite extends Error {}

function toDirtyUnit(r: Row): DirtyUnit {
  return {
    unitId: r.unit_id as string,
    sinceMs: r.since_ms as number,
    markedAt: r.marked_at as string,
    generation: r.generation as number,
  };
}

function sqlState(e: unknown): string | undefined {
  const code = (e as { code?: unknown })?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** Normalises a driver error at the store's boundary; IronLedgerErrors pass through. */
function storeError(e: unknown): Error {
  if (e instanceof IronLedgerError || e instanceof StaleWrite) return e;
  const code = sqlState(e);
  // Class 08 (connection), 57P (shutdown/cancel), 53 (resources): worth retrying later.
  const retryable = !code || /^(08|57P|53|40)/.test(code);
  return new IronLedgerError('STORE_FAILED', `PostgreSQL: ${(e as Error)?.message ?? String(e)}`, {
    cause: e,
    retryable,
    details: code ? { sqlState: code } : undefined,
  });
}

function toReadingRecord(r: Row): ReadingRecord {
  return {
    id: String(r.id),
    unitId: r.unit_id as string,
    ts: r.ts as string,
    reportedTs: (r.reported_ts as string | null) ?? (r.ts as string),
    released: r.reported_ts != null,
    status: r.status as ReadingRecord['status'],
    holdReason: (r.hold_reason as string | null) ?? null,
    engineHours: r.engine_hours as number,
    idleHours: (r.idle_hours as number | null) ?? null,
    body: r.body as ForwardedReading,
    receivedAt: r.received_at as string,
    storedAt: r.stored_at as string,
    batchId: r.batch_id as string,
    gatewayId: r.gateway_id as string,
    conflictId: r.conflict_id == null ? null : String(r.conflict_id),
  };
}

function toToken(r: Row): TokenRecord {
  return {
    id: r.id as string,
    name: r.name as string,
    role: r.role as TokenRecord['role'],
    tokenHash: r.token_hash as string,
    createdAt: r.created_at as string,
    revokedAt: (r.revoked_at as string | null) ?? null,
  };
}

function usageRow(f: UsageFigure, at: string): Record<string, unknown> {
  return {
    unit_id: f.unitId,
    day: f.day,
    project_id: f.projectId,
    site_id: f.siteId,
    engine_hours: h(f.engineHours),
    idle_hours: h(f.idleHours),
    working_hours: h(f.workingHours),
    distance_km: f.distanceKm === null ? null : h(f.distanceKm),
    readings: f.readings,
    anomalies: JSON.stringify(f.anomalies),
    meter_from: f.meterFrom,
    meter_to: f.meterTo,
    updated_at: at,
  };
}

/** jsonb comes back parsed (and key-reordered): anomalies are compared as values, not text. */
function sameUsage(old: Row, row: Record<string, unknown>): boolean {
  for (const k of Object.keys(row)) {
    if (k === 'updated_at') continue;
    if (k === 'anomalies') {
      if (!sameJson(old.anomalies, JSON.parse(row.anomalies as string))) return false;
      continue;
    }
    if ((old[k] ?? null) !== (row[k] ?? null)) return false;
  }
  return true;
}

function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a as object).filter((k) => (a as Row)[k] !== undefined);
  const kb = Object.keys(b as object).filter((k) => (b as Row)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => sameJson((a as Row)[k], (b as Row)[k]));
}

function usageWhere(filter: UsageFilter): Sql {
  const s = new Sql();
  if (filter.from) s.add('day >= ?', filter.from);
  if (filter.to) s.add('day <= ?', filter.to);
  if (filter.project) s.add('project_id = ?', filter.project);
  if (filter.unit) s.add('unit_id = ?', filter.unit);
  if (filter.site) s.add('site_id = ?', filter.site);
  return s;
}

/** A `to` bound on ts: a bare day includes that whole (UTC) day; an instant is exclusive. */
function exclusiveEnd(to: string): string {
  return /^\d{4}-\d{2}-\d{2}$/.test(to) ? shiftDay(to, 1) : to;
}

function shiftDay(day: string, n: number): string {
  const d = new Date(`${day.slice(0, 10)}T00:00:00.000Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}
