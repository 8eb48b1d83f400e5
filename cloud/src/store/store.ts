/**
 * The cloud's repository interface. All SQL lives behind it (store/sqlite/ today; a
 * PostgreSQL backend can implement the same interface). Operations are coarse: each one that
 * changes state is one transaction, so a 2xx or a returned value means the change is durable.
 *
 * The interface is synchronous because better-sqlite3 is; every operation is a whole unit of
 * work (no transaction spans calls), so an async backend is a mechanical port.
 */
import type {
  Allocation,
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
import type { PostingOutcomePosted, UsageFigure } from '../posting/types.js';

/** ok = used for usage; held, conflict = kept out until released/resolved; superseded = a losing conflict version. */
export type ReadingStatus = 'ok' | 'held' | 'conflict' | 'superseded';

export interface IngestReading {
  reading: ForwardedReading;
  /** Canonical content (readingContent) for same-identity comparisons. */
  content: string;
  /** Why the reading is held back from usage (e.g. clock_invalid), or null. */
  holdReason: string | null;
  /** The sender already flagged it as a conflict. */
  flaggedConflict: boolean;
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

export interface StoredReading {
  unitId: string;
  ts: string;
  tsMs: number;
  engineHours: number;
  idleHours: number | null;
  odometerKm: number | null;
  position: { lat: number; lon: number } | null;
  siteId: string | null;
  receivedAt: string;
  batchId: string;
  gatewayId: string;
}

export interface HeldReading {
  id: string;
  unitId: string;
  ts: string;
  status: 'held' | 'conflict';
  reason: string;
  engineHours: number;
  receivedAt: string;
  batchId: string;
  conflictId: string | null;
}

/** One stored version of a reading, whatever its status. */
export interface ReadingRecord {
  id: string;
  unitId: string;
  /** The ts the reading is used with (rebased when released with a new ts). */
  ts: string;
  /** The ts the unit reported. */
  reportedTs: string;
  /** A person released it from hold (as-is or rebased): its clock is vouched for. */
  released: boolean;
  status: ReadingStatus;
  holdReason: string | null;
  engineHours: number;
  idleHours: number | null;
  /** The forwarded reading as received (flags included). */
  body: ForwardedReading;
  receivedAt: string;
  storedAt: string;
  batchId: string;
  gatewayId: string;
  conflictId: string | null;
}

export interface ConflictRecord {
  id: string;
  unitId: string;
  ts: string;
  status: 'open' | 'resolved';
  openedAt: string;
  /** Every version that took part, in arrival order. */
  versions: ReadingRecord[];
  resolution: { keep: ConflictKeep; readingId: string; by: string; at: string; reason: string } | null;
}

export interface ReleaseHeld {
  id: string;
  /** The ts to use from now on: the reported one (as-is) or a rebased one. */
  ts: string;
  at: string;
  audit: AuditRecord;
}

export type ReleaseResult =
  | { kind: 'released'; reading: ReadingRecord }
  | { kind: 'not_found' }
  | { kind: 'not_held'; reading: ReadingRecord }
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

export interface DirtyUnit {
  unitId: string;
  /** Earliest reading time touched since the last consolidation (ms since epoch). */
  sinceMs: number;
  /** When the unit was first marked (ISO); drives the consolidation-lag metric. */
  markedAt: string;
  /** Bumped on every mark; a consolidation clears the mark only if nothing arrived since. */
  generation: number;
}

/** A stored allocation: the wire Allocation plus bookkeeping the wire does not show. */
export interface AllocationRecord extends Allocation {
  siteId: string;
  seq: number;
  rateId: string | null;
  updatedAt: string;
}

export type NewAllocation = Omit<AllocationRecord, 'id'>;
export type AllocationPatch = Partial<
  Omit<AllocationRecord, 'id' | 'key' | 'kind' | 'unitId' | 'projectId' | 'day'>
>;

export interface AuditRecord {
  actor: string;
  action: string;
  target: string;
  detail: string | null;
}

export interface AllocationChanges {
  create: NewAllocation[];
  update: Array<{ id: string; patch: AllocationPatch }>;
  audit: AuditRecord[];
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
  ingestBatch(batch: IngestBatch): IngestResult;
  recordHeartbeat(gatewayId: string, heartbeat: Heartbeat, at: string): void;
  gatewayActivity(): GatewayActivity[];
  unitActivity(): UnitActivity[];
  countReadings(): number;
  heldReadings(filter: {
    unit?: string | undefined;
    from?: string | undefined;
    to?: string | undefined;
  }): HeldReading[];
  getReading(id: string): ReadingRecord | null;
  /** Held → ok at op.ts, marks the unit dirty and audits, in one transaction. */
  releaseHeld(op: ReleaseHeld): ReleaseResult;
  listConflicts(filter: ConflictFilter): ConflictRecord[];
  getConflict(id: string): ConflictRecord | null;
  /** Kept version usable (or held), the others superseded, unit dirty, audited: one transaction. */
  resolveConflict(op: ResolveConflict): ResolveResult;

  // ---- master data ---------------------------------------------------------------------
  /**
   * Config at start: inserts what is missing, updates what config still owns, and leaves
   * records changed through the admin API (the upsert methods below) as they are.
   */
  seedMasterData(seed: MasterDataSeed): SeedReport;
  /** Admin API writes: the record is the API's from now on (config no longer overwrites it). */
  upsertSite(site: Site): void;
  listSites(): Site[];
  upsertProject(project: Project): void;
  listProjects(): Project[];
  upsertUnit(unit: Unit): void;
  listUnits(): Unit[];
  getUnit(unitId: string): Unit | null;
  upsertRate(rate: Rate): void;
  listRates(): Rate[];

  // ---- consolidation -----------------------------------------------------------------
  dirtyUnits(): DirtyUnit[];
  markDirty(unitId: string, sinceMs: number, at: string): void;
  /** A unit's usable readings by ts; with `fromMs`, from the last one strictly before it on (all when none is). */
  usableReadings(unitId: string, fromMs?: number): StoredReading[];
  /** Distinct batch ids of a unit's usable readings with fromMs <= ts < toMs (for the posting trace). */
  batchIdsBetween(unitId: string, fromMs: number, toMs: number): string[];
  /** ts (ms) of the unit's last usable reading strictly before `ms`, or null. */
  lastUsableReadingBefore(unitId: string, ms: number): number | null;
  applyConsolidation(write: ConsolidationWrite): { rowsWritten: number };
  listUsage(filter: UsageFilter): UsageRow[];
  listAnomalies(filter: UsageFilter): Anomaly[];
  getMeta(key: string): string | null;

  // ---- allocations ---------------------------------------------------------------------
  allocationsForUnit(unitId: string): AllocationRecord[];
  listAllocations(filter: AllocationFilter & { ids?: string[] | undefined }): AllocationRecord[];
  getAllocation(id: string): AllocationRecord | null;
  getAllocationByKey(key: string): AllocationRecord | null;
  countAllocationsByStatus(): Record<AllocationStatus, number>;
  /** Applies decisions computed from a fresh read, all in one transaction. */
  applyDecisions(changes: Array<{ id: string; patch: AllocationPatch }>, audit: AuditRecord[]): void;

  // ---- posting ledger -----------------------------------------------------------------
  markPosted(id: string, outcome: PostingOutcomePosted, at: string, actor: string): void;
  deadLetter(id: string, code: string, message: string, at: string, actor: string): void;
  hold(id: string, reason: string, at: string, actor: string): void;
  listDeadLetters(opts?: { includeResolved?: boolean }): DeadLetter[];

  // ---- periods, tokens, audit ------------------------------------------------------------
  lockedPeriods(): string[];
  setPeriodLock(period: string, locked: boolean, actor: string, at: string): boolean;
  listTokens(): TokenRecord[];
  findTokenByHash(tokenHash: string): TokenRecord | null;
  createToken(t: TokenRecord, actor: string): void;
  /** Seeds a token if no token with this id exists yet (never un-revokes). */
  seedToken(t: TokenRecord): void;
  revokeToken(id: string, actor: string, at: string): 'revoked' | 'already' | 'not_found';
  audit(entry: AuditRecord, at: string): void;
  listAudit(filter: {
    from?: string | undefined;
    to?: string | undefined;
    actor?: string | undefined;
    action?: string | undefined;
  }): AuditEntry[];

  close(): void;

  // ---- posting holds (appended) ------------------------------------------------------------
  /** Clears an allocation's hold note once its condition is gone (audited); false if none. */
  clearHold(id: string, at: string, actor: string): boolean;
  // ---- master data from Odoo (appended) ------------------------------------------------------
  /** The mirror of one Odoo model, archived records included, by Odoo id. */
  listOdooRecords(model: OdooMasterModel): OdooMasterRecord[];
  /**
   * Stores what a sync read: rows that are new or differ are written, identical ones are not
   * touched; the cursor is written only when it moves. One transaction; answers what changed.
   */
  applyOdooSync(
    model: OdooMasterModel,
    records: OdooMasterRecord[],
    cursor: string | null,
    at: string,
    actor: string,
  ): { added: number[]; changed: number[] };
}

export type OdooMasterModel = 'maintenance.equipment' | 'project.project';

/** One Odoo record as IronLedger mirrors it (maintenance.equipment or project.project). */
export interface OdooMasterRecord {
  odooId: number;
  name: string;
  /** maintenance.equipment: serial number, how it matches a unit. */
  serialNo: string | null;
  /** project.project: its analytic account (Project plan). */
  accountId: number | null;
  active: boolean;
  /** Odoo's write_date, UTC "YYYY-MM-DD HH:MM:SS". */
  writeDate: string;
}
