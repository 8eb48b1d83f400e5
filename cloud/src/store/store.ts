/**
 * The cloud's repository interface. All SQL lives behind it (store/sqlite/ on one machine;
 * store/postgres/ for several replicas). Every method is one unit of work: each one that
 * changes state is one transaction, so a resolved promise means the change is durable, and no
 * transaction spans two calls.
 *
 * Concurrency is explicit. A write that depends on something read earlier says what it read
 * and applies only if that is still so (compare-and-set): allocation changes carry the
 * `version` and status they were decided on, consolidation clears a unit's dirty mark only at
 * the generation it consolidated, a conflict resolution names the versions it chose among, a
 * release names the held reading's ts. A write whose premise no longer holds changes nothing
 * and answers `stale`. Work several replicas share (a dirty unit's consolidation, an
 * allocation's posting, a scheduled job's tick) is claimed in the store with a lease: one
 * claimant at a time, and a claimant that dies leaves a lease that expires.
 *
 * store.contract.ts states these promises as tests every implementation passes.
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
  Role,
  Site,
  Unit,
  UsageRow,
} from '@ironledger/contracts';
import type {
  AllocationChange,
  AllocationChanges,
  AllocationExpect,
  AllocationRecord,
  AuditRecord,
  ConflictRecord,
  DirtyUnit,
  HeldReading,
  OdooMasterModel,
  OdooMasterRecord,
  PostingOutcomePosted,
  ReadingRecord,
  SentFigures,
  StoredReading,
  UsageFigure,
} from '../domain/types.js';

export type {
  AllocationChange,
  AllocationChanges,
  AllocationExpect,
  AllocationPatch,
  AllocationRecord,
  AuditRecord,
  ConflictRecord,
  DirtyUnit,
  HeldReading,
  NewAllocation,
  OdooMasterModel,
  OdooMasterRecord,
  ReadingRecord,
  ReadingStatus,
  SentFigures,
  StoredReading,
} from '../domain/types.js';

/** The fields of a stored reading that usage is computed from. */
export type MeterReading = Pick<
  StoredReading,
  'ts' | 'tsMs' | 'engineHours' | 'idleHours' | 'odometerKm' | 'position' | 'siteId'
>;

export interface IngestReading {
  reading: ForwardedReading;
  /** Canonical content (readingContent) for same-identity comparisons. */
  content: string;
  /** Why the reading is held back from usage (e.g. clock_invalid), or null. */
  holdReason: string | null;
  /** The sender already flagged it as a conflict. */
  flaggedConflict: boolean;
  /** The reading's JSON text, stored as its body: as the gateway sent it, or `JSON.stringify`. */
  body: string;
}

export interface IngestBatch {
  gatewayId: string;
  batchId: string;
  /** The gateway's default site, stamped on every reading for attribution. */
  siteId: string | null;
  storedAt: string;
  readings: IngestReading[];
}

export type IngestResult =
  | { kind: 'stored'; accepted: number; duplicates: number; conflicts: number; held: number }
  | { kind: 'replayed'; accepted: number; duplicates: number; conflicts: number; held: number }
  | { kind: 'batch_id_taken'; byGatewayId: string };

export interface ReleaseHeld {
  id: string;
  /** The ts the reading had when the decision was made: a reading changed since is `stale`. */
  expectTs: string;
  /** The ts to use from now on: the reported one (as-is) or a rebased one. */
  ts: string;
  at: string;
  audit: AuditRecord;
}

export type ReleaseResult =
  | { kind: 'released'; reading: ReadingRecord }
  | { kind: 'not_found' }
  | { kind: 'not_held'; reading: ReadingRecord }
  | { kind: 'stale'; reading: ReadingRecord }
  | { kind: 'identity_taken'; by: ReadingRecord };

export interface ResolveConflict {
  id: string;
  keep: ConflictKeep;
  keepReadingId: string;
  /** The kept version's status: ok, or held when its own clock is impossible. */
  keptStatus: 'ok' | 'held';
  keptHoldReason: string | null;
  /** The versions the decision was made on; a version that arrived since makes it stale. */
  versionIds: string[];
  reason: string;
  at: string;
  audit: AuditRecord;
}

export type ResolveResult = 'resolved' | 'not_found' | 'already_resolved' | 'stale';

export interface ConflictFilter {
  unit?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
  status?: 'open' | 'resolved' | 'all' | undefined;
}

export type MasterKind = 'site' | 'project' | 'unit' | 'rate';

export interface MasterDataSeed {
  sites: Site[];
  projects: Project[];
  units: Unit[];
  rates: Rate[];
}

/** What seeding from config did, per record. */
export interface SeedReport {
  inserted: Array<{ kind: MasterKind; id: string }>;
  updated: Array<{ kind: MasterKind; id: string }>;
  /** Differs from the config but was changed through the admin API: left as it is. */
  keptApiEdits: Array<{ kind: MasterKind; id: string }>;
}

export interface GatewayActivity {
  gatewayId: string;
  heartbeat: Heartbeat | null;
  lastHeartbeatAt: string | null;
  lastBatchAt: string | null;
}

export interface UnitActivity {
  unitId: string;
  lastReadingTs: string | null;
  lastReceivedAt: string | null;
}

export interface ConsolidationWrite {
  unitId: string;
  figures: UsageFigure[];
  anomalies: Anomaly[];
  /** Clears the unit's dirty mark only when its generation is still this one. */
  generation: number | null;
  consolidatedAt: string;
  /** Computed from the allocations read before; applied in the same transaction. */
  allocations: AllocationChanges;
  /**
   * A partial recomputation: `figures` are the unit's days from `fromDay` on, and its anomalies
   * after `afterTs`; earlier usage and anomalies are kept as stored. Absent: everything.
   */
  since?: { fromDay: string; afterTs: string } | undefined;
  /** The claimant whose consolidation claim on the unit this write ends (released with it). */
  claimOwner?: string | undefined;
}

/**
 * `stale`: an allocation changed after it was read (or one with the same key was created):
 * nothing was written, the dirty mark stays, and the unit is consolidated again from a fresh read.
 */
export type ConsolidationResult =
  | { kind: 'applied'; rowsWritten: number }
  | { kind: 'stale'; reason: string };

export interface DecisionsResult {
  /** Ids whose change was applied (with its audit entries). */
  applied: string[];
  /** Ids that changed after they were read (or vanished): nothing applied; `current` as stored now. */
  stale: Array<{ id: string; current: AllocationRecord | null }>;
}

export interface MarkPosted {
  id: string;
  /** What Odoo received: the posted record keeps exactly this. */
  sent: SentFigures;
  outcome: PostingOutcomePosted;
  at: string;
  actor: string;
  /** The posting claim this ends (released in the same transaction). */
  claimOwner?: string | undefined;
}

/**
 * `posted`: the allocation was still the version that was sent. `posted_changed`: it changed
 * while Odoo was answering; it is posted with the figures that were sent (what Odoo holds),
 * and its unit is marked dirty, so the next consolidation books the difference as an
 * adjustment that needs approval. `already_posted`: recorded before (nothing changed).
 */
export type MarkPostedResult =
  | { kind: 'posted'; allocation: AllocationRecord }
  | { kind: 'posted_changed'; allocation: AllocationRecord; meanwhile: AllocationRecord }
  | { kind: 'already_posted'; allocation: AllocationRecord }
  | { kind: 'not_found' };

/**
 * A claim on shared work: held by `owner` for `leaseMs` unless released before. SQLite (one
 * file, so replicas on one host) measures it on `nowMs`; PostgreSQL on the database server's
 * clock, so replicas on hosts whose clocks disagree never take a live lease over early.
 */
export interface Lease {
  /** Who claims: a replica's id (stable for its lifetime). */
  owner: string;
  /** The caller's clock: the SQLite store's lease clock; PostgreSQL's only with `leaseClock: 'caller'`. */
  nowMs: number;
  leaseMs: number;
}

export interface TokenRecord {
  id: string;
  name: string;
  role: Role;
  tokenHash: string;
  createdAt: string;
  revokedAt: string | null;
}

export interface UsageFilter {
  from?: string | undefined;
  to?: string | undefined;
  project?: string | undefined;
  unit?: string | undefined;
  site?: string | undefined;
}

export interface CloudStore {
  // ---- ingest ------------------------------------------------------------------------
  ingestBatch(batch: IngestBatch): Promise<IngestResult>;
  recordHeartbeat(gatewayId: string, heartbeat: Heartbeat, at: string): Promise<void>;
  gatewayActivity(): Promise<GatewayActivity[]>;
  unitActivity(): Promise<UnitActivity[]>;
  countReadings(): Promise<number>;
  heldReadings(filter: {
    unit?: string | undefined;
    from?: string | undefined;
    to?: string | undefined;
  }): Promise<HeldReading[]>;
  getReading(id: string): Promise<ReadingRecord | null>;
  /** Held → ok at op.ts, marks the unit dirty and audits, in one transaction; `stale` if its ts moved. */
  releaseHeld(op: ReleaseHeld): Promise<ReleaseResult>;
  listConflicts(filter: ConflictFilter): Promise<ConflictRecord[]>;
  getConflict(id: string): Promise<ConflictRecord | null>;
  /** Kept version usable (or held), the others superseded, unit dirty, audited: one transaction. */
  resolveConflict(op: ResolveConflict): Promise<ResolveResult>;

  // ---- master data ---------------------------------------------------------------------
  /**
   * Config at start: inserts what is missing, updates what config still owns, and leaves
   * records changed through the admin API (the upsert methods below) as they are.
   */
  seedMasterData(seed: MasterDataSeed): Promise<SeedReport>;
  /** Admin API writes: the record is the API's from now on (config no longer overwrites it). */
  upsertSite(site: Site): Promise<void>;
  listSites(): Promise<Site[]>;
  upsertProject(project: Project): Promise<void>;
  listProjects(): Promise<Project[]>;
  upsertUnit(unit: Unit): Promise<void>;
  listUnits(): Promise<Unit[]>;
  getUnit(unitId: string): Promise<Unit | null>;
  upsertRate(rate: Rate): Promise<void>;
  listRates(): Promise<Rate[]>;

  // ---- consolidation -----------------------------------------------------------------
  dirtyUnits(): Promise<DirtyUnit[]>;
  markDirty(unitId: string, sinceMs: number, at: string): Promise<void>;
  /**
   * Claims the oldest dirty unit nobody holds a live claim on, the caller included (or whose
   * claimant's lease has expired), for consolidation; null when there is none. The claim ends with
   * `applyConsolidation({claimOwner})`, `releaseDirtyUnit`, or when its lease runs out.
   */
  claimDirtyUnit(lease: Lease): Promise<DirtyUnit | null>;
  releaseDirtyUnit(unitId: string, owner: string): Promise<void>;
  /** A unit's usable readings by ts; with `fromMs`, from the last one strictly before it on (all when none is). */
  usableReadings(unitId: string, fromMs?: number): Promise<StoredReading[]>;
  /**
   * What consolidation reads: the meter fields of a unit's usable readings by ts, as
   * usableReadings (same rows, same order) without the receipt fields, which it never uses.
   */
  usageReadings(unitId: string, fromMs?: number): Promise<MeterReading[]>;
  /** Marks every unit that has readings dirty from its first reading on (a whole recompute). */
  markAllDirty(at: string): Promise<void>;
  /** Distinct batch ids of a unit's usable readings with fromMs <= ts < toMs (for the posting trace). */
  batchIdsBetween(unitId: string, fromMs: number, toMs: number): Promise<string[]>;
  /** ts (ms) of the unit's last usable reading strictly before `ms`, or null. */
  lastUsableReadingBefore(unitId: string, ms: number): Promise<number | null>;
  /** Usage, anomalies and allocation changes in one transaction, or nothing when `stale`. */
  applyConsolidation(write: ConsolidationWrite): Promise<ConsolidationResult>;
  listUsage(filter: UsageFilter): Promise<UsageRow[]>;
  listAnomalies(filter: UsageFilter): Promise<Anomaly[]>;
  getMeta(key: string): Promise<string | null>;

  // ---- allocations ---------------------------------------------------------------------
  allocationsForUnit(unitId: string): Promise<AllocationRecord[]>;
  /** allocationsForUnit from `fromDay` on: what an incremental consolidation can change. */
  allocationsForUnitFrom(unitId: string, fromDay: string): Promise<AllocationRecord[]>;
  listAllocations(filter: AllocationFilter & { ids?: string[] | undefined }): Promise<AllocationRecord[]>;
  getAllocation(id: string): Promise<AllocationRecord | null>;
  getAllocationByKey(key: string): Promise<AllocationRecord | null>;
  countAllocationsByStatus(): Promise<Record<AllocationStatus, number>>;
  /**
   * Approve, reject, reopen: each change is a compare-and-set on the version and status it was
   * decided on, applied with its audit entries; changes whose allocation moved on are `stale`.
   * One transaction.
   */
  applyDecisions(changes: AllocationChange[], at: string): Promise<DecisionsResult>;

  // ---- posting ledger -----------------------------------------------------------------
  /**
   * Claims approved allocations among `ids` for posting: those no one else holds a live claim
   * on (the caller's own claims are renewed); returns them as stored now (approved, with the
   * version to send). A claim ends with
   * markPosted / deadLetter / hold, `releasePostingClaims`, or when its lease runs out.
   */
  claimForPosting(ids: string[], lease: Lease): Promise<AllocationRecord[]>;
  releasePostingClaims(ids: string[], owner: string): Promise<void>;
  markPosted(op: MarkPosted): Promise<MarkPostedResult>;
  deadLetter(id: string, code: string, message: string, at: string, actor: string): Promise<void>;
  hold(id: string, reason: string, at: string, actor: string): Promise<void>;
  listDeadLetters(opts?: { includeResolved?: boolean }): Promise<DeadLetter[]>;

  /** Owners (`<replica id>/<purpose>`) of every claim held, live or expired. */
  claimOwners(): Promise<string[]>;
  /**
   * Ends every claim of a replica known to be dead (owners `replicaId` and `replicaId/…`);
   * returns how many ended.
   */
  releaseClaimsOf(replicaId: string): Promise<number>;

  // ---- scheduled jobs ------------------------------------------------------------------
  /**
   * The first replica to claim (job, tick) runs that tick; every other gets false. `tick`
   * names the scheduled instant (e.g. its ISO second), the same on every replica.
   */
  claimJobTick(job: string, tick: string, owner: string, at: string): Promise<boolean>;

  // ---- periods, tokens, audit ------------------------------------------------------------
  lockedPeriods(): Promise<string[]>;
  setPeriodLock(period: string, locked: boolean, actor: string, at: string): Promise<boolean>;
  listTokens(): Promise<TokenRecord[]>;
  findTokenByHash(tokenHash: string): Promise<TokenRecord | null>;
  createToken(t: TokenRecord, actor: string): Promise<void>;
  /** Seeds a token if no token with this id exists yet (never un-revokes). */
  seedToken(t: TokenRecord): Promise<void>;
  revokeToken(id: string, actor: string, at: string): Promise<'revoked' | 'already' | 'not_found'>;
  audit(entry: AuditRecord, at: string): Promise<void>;
  listAudit(filter: {
    from?: string | undefined;
    to?: string | undefined;
    actor?: string | undefined;
    action?: string | undefined;
  }): Promise<AuditEntry[]>;

  close(): Promise<void>;

  // ---- AEMP feeds and endpoint (Contract 3) ----------------------------------------------
  /**
   * Compare-and-set of a meta value (a feed's poll cursor): written only when the stored value
   * is still `expected` (null: no value yet). False when another writer got there first.
   */
  casMeta(key: string, expected: string | null, value: string): Promise<boolean>;
  /** A unit's usable readings with fromMs <= ts <= toMs by ts, `limit` of them from `offset`; ts as used. */
  usableReadingBodies(
    unitId: string,
    fromMs: number,
    toMs: number,
    limit: number,
    offset: number,
  ): Promise<ForwardedReading[]>;
  /** A unit's latest usable reading (ts as used), or null. */
  latestUsableReading(unitId: string): Promise<ForwardedReading | null>;

  // ---- posting holds -----------------------------------------------------------------------
  /**
   * Clears an allocation's hold note once its condition is gone (audited; the version is
   * bumped like every change): a compare-and-set at the version and status it was read at.
   * A posting claim on it stays. `no_hold`: there was no note; `stale`: it moved on meanwhile.
   */
  clearHold(op: ClearHold): Promise<ClearHoldResult>;

  // ---- master data from Odoo -----------------------------------------------------------------
  /** The mirror of one Odoo model, archived records included, by Odoo id. */
  listOdooRecords(model: OdooMasterModel): Promise<OdooMasterRecord[]>;
  /**
   * Stores what a sync read, in one transaction: rows that are new or differ are written,
   * identical ones are not touched; the cursor is written only when it moves. A compare-and-set
   * on the cursor the read started from (`since`): when another sync moved it meanwhile,
   * nothing is written and the answer is `stale` (the caller reads again from the new cursor).
   */
  applyOdooSync(op: OdooSyncWrite): Promise<OdooSyncResult>;
}

export interface ClearHold {
  id: string;
  /** The version and status the poster read (its claim's answer). */
  expect: AllocationExpect;
  at: string;
  actor: string;
}

export type ClearHoldResult =
  | { kind: 'cleared'; allocation: AllocationRecord }
  | { kind: 'no_hold' }
  | { kind: 'stale'; current: AllocationRecord | null };

/** The store key of a model's sync cursor (Odoo's write_date of the latest record read). */
export function odooSyncCursorKey(model: OdooMasterModel): string {
  return `odoo.sync.${model}`;
}

export interface OdooSyncWrite {
  model: OdooMasterModel;
  records: OdooMasterRecord[];
  /** The cursor the read started from (null: a first, full read): compared and set. */
  since: string | null;
  /** The cursor after this read (null: none yet; left as it is). */
  cursor: string | null;
  at: string;
  actor: string;
}

export type OdooSyncResult =
  | { kind: 'applied'; added: number[]; changed: number[] }
  | { kind: 'stale'; cursor: string | null };
