/**
 * The seam between the cloud's store/HTTP layer and allocation pricing and Odoo posting.
 * Pricing (allocation/) is pure; posting (posting/) talks to Odoo (or a dry-run journal) and
 * reports each outcome to a PostingLedger, which the store implements durably.
 */
import type {
  Anomaly,
  OdooStatusResponse,
  OdooSyncResponse,
  PostResponse,
  Project,
  ReconcileResponse,
  Unit,
} from '@ironledger/contracts';
import type { OdooMirror } from './odoo-sync.js';

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

/** What IronLedger's own master data says about a project's place in Odoo. */
export interface ProjectHint {
  /** The project's name, as in Odoo: how the project is found there without ids. */
  name?: string | undefined;
  analyticAccountId?: number | undefined;
  odooProjectId?: number | undefined;
}

/** An approved allocation handed to the poster. */
export interface PostableAllocation {
  id: string;
  key: string; // goes into Odoo `ref`
  kind: 'normal' | 'adjustment';
  unitId: string;
  serialNo?: string | undefined;
  projectId: string;
  /** The project's Odoo references from IronLedger's master data, if any. */
  project?: ProjectHint | undefined;
  day: string;
  engineHours: number;
  idleHours: number;
  workingHours: number;
  workingRateMinor: number;
  idleRateMinor: number;
  amountMinor: number; // cost, positive; posted as a negative analytic amount
  currency: string;
  correlationId?: string | undefined; // batch ids / reading identities behind it, for logs
  /** The note of an earlier hold, if any: cleared once the condition is gone. */
  holdReason?: string | null | undefined;
  /**
   * The unit's maintenance.equipment as the last master-data sync found it by serial number:
   * null when the sync found none (or only archived ones); undefined when never synced.
   */
  odooEquipment?: { odooId: number; name: string } | null | undefined;
}

export interface PostingOutcomePosted {
  model: string;
  odooId: number | null; // null in dry-run
  date: string | null; // the date Odoo booked (may differ from `day` around lock dates)
  alreadyInOdoo: boolean;
}

/** Durable record of what happened to each allocation; implemented by the store. */
export interface PostingLedger {
  markPosted(id: string, outcome: PostingOutcomePosted): void;
  /** A failure retrying can't fix: goes to the dead-letter list with Odoo's message. */
  deadLetter(id: string, code: string, message: string): void;
  /** Held back with a reason (e.g. project has no analytic account, period locked). */
  hold(id: string, reason: string): void;
  /** The reason an earlier run held it is gone: the note is cleared. */
  clearHold?(id: string): void;
  /** A dry run wrote its calls to the journal: traced in the log, the status is unchanged. */
  journalled?(id: string, key: string): void;
}

export interface Poster {
  post(
    allocations: PostableAllocation[],
    opts: { dryRun?: boolean; signal?: AbortSignal },
  ): Promise<PostResponse>;
  reconcile(
    period: string,
    local: Array<PostableAllocation & { odooId: number | null }>,
  ): Promise<ReconcileResponse>;
  /** The Odoo connection and its API key's expiry (ironledger status). */
  odooStatus(signal?: AbortSignal): Promise<OdooStatusResponse>;
  /** Reads master data from Odoo into `mirror` (ironledger sync and its scheduled job). */
  syncMasterData(
    mirror: OdooMirror,
    master: { units: Unit[]; projects: Project[] },
    signal?: AbortSignal,
  ): Promise<OdooSyncResponse>;
  close(): Promise<void>;
}
