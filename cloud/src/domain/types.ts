/**
 * The records the cloud's domain speaks: usage figures, rate cards, allocations, readings and
 * their audit entries. The store persists them and the features (allocation, posting, HTTP)
 * use them; this module imports neither, so the store never depends on a feature.
 */
import type {
  Allocation,
  AllocationStatus,
  Anomaly,
  ConflictKeep,
  ForwardedReading,
} from '@ironledger/contracts';

/** One consolidated usage figure: a unit on a project on a site-local day. */
export interface UsageFigure {
  unitId: string;
  projectId: string;
  siteId: string;
  day: string; // YYYY-MM-DD, site-local
  engineHours: number;
  idleHours: number;
  workingHours: number; // engine − idle
  distanceKm: number | null;
  readings: number;
  anomalies: Anomaly[];
  meterFrom: number | null;
  meterTo: number | null;
}

export interface RateCard {
  id: string;
  /** Exactly one of unitId / equipmentClass; a unit rate wins over a class rate. */
  unitId?: string | undefined;
  equipmentClass?: string | undefined;
  workingRateMinor: number; // per hour, minor units
  idleRateMinor: number; // per hour, minor units
  currency: string; // ISO 4217
  effectiveFrom: string; // YYYY-MM-DD, inclusive
}

export interface UnitInfo {
  unitId: string;
  equipmentClass: string;
  serialNo?: string | undefined;
}

export type PriceResult =
  | {
      ok: true;
      rateId: string;
      workingRateMinor: number;
      idleRateMinor: number;
      currency: string;
      amountMinor: number;
    }
  | { ok: false; holdReason: string };

export interface PostingOutcomePosted {
  model: string;
  odooId: number | null; // null in dry-run
  date: string | null; // the date Odoo booked (may differ from `day` around lock dates)
  alreadyInOdoo: boolean;
}

/** ok = used for usage; held, conflict = kept out until released/resolved; superseded = a losing conflict version. */
export type ReadingStatus = 'ok' | 'held' | 'conflict' | 'superseded';

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

export interface DirtyUnit {
  unitId: string;
  /** Earliest reading time touched since the last consolidation (ms since epoch). */
  sinceMs: number;
  /** When the unit was first marked (ISO); drives the consolidation-lag metric. */
  markedAt: string;
  /** Bumped on every mark; a consolidation clears the mark only if nothing arrived since. */
  generation: number;
}

/**
 * A stored allocation: the wire Allocation (with its `version`, bumped by every change) plus
 * bookkeeping the wire does not show.
 */
export interface AllocationRecord extends Allocation {
  siteId: string;
  seq: number;
  rateId: string | null;
  updatedAt: string;
}

/** A new allocation: the store assigns its id and version 1. */
export type NewAllocation = Omit<AllocationRecord, 'id' | 'version'>;
export type AllocationPatch = Partial<
  Omit<AllocationRecord, 'id' | 'version' | 'key' | 'kind' | 'unitId' | 'projectId' | 'day'>
>;

/** What a change was decided on: it applies only while the allocation is still exactly this. */
export interface AllocationExpect {
  version: number;
  status: AllocationStatus;
}

/** One compare-and-set on an allocation, with the audit entries that explain it. */
export interface AllocationChange {
  id: string;
  expect: AllocationExpect;
  patch: AllocationPatch;
  audit: AuditRecord[];
}

export interface AuditRecord {
  actor: string;
  action: string;
  target: string;
  detail: string | null;
}

/** Exactly what went to Odoo for an allocation: the posted record keeps these figures. */
export interface SentFigures {
  /** The allocation's version the poster read and sent. */
  version: number;
  engineHours: number;
  idleHours: number;
  workingHours: number;
  workingRateMinor: number;
  idleRateMinor: number;
  amountMinor: number;
  currency: string;
}

/** What one consolidation does to a unit's allocations, decided on the allocations it read. */
export interface AllocationChanges {
  create: NewAllocation[];
  /** Compare-and-set updates: each applies only at the version and status it was planned on. */
  update: Array<{ id: string; expect: AllocationExpect; patch: AllocationPatch }>;
  audit: AuditRecord[];
}

/** The Odoo models IronLedger mirrors as master data (Odoo owns them). */
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
