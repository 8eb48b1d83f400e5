/**
 * The seam between the cloud's store/HTTP layer and allocation pricing and Odoo posting.
 * Pricing (allocation/) is pure; posting (posting/) talks to Odoo (or a dry-run journal) and
 * reports each outcome to a PostingLedger, which the store implements durably.
 */
import type {
  OdooStatusResponse,
  OdooSyncResponse,
  PostResponse,
  Project,
  ReconcileResponse,
  Unit,
} from '@ironledger/contracts';
import type { PostingOutcomePosted } from '../domain/types.js';
import type { OdooMirror } from './odoo-sync.js';

export type {
  PostingOutcomePosted,
  PriceResult,
  RateCard,
  UnitInfo,
  UsageFigure,
} from '../domain/types.js';

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
  /** The allocation's version this was read at: what is sent is recorded against it. */
  version: number;
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

/** Durable record of what happened to each allocation; implemented by the store. */
export interface PostingLedger {
  /** Records `sent` (exactly what Odoo received, at the version read) as posted. */
  markPosted(sent: PostableAllocation, outcome: PostingOutcomePosted): Promise<void>;
  /** A failure retrying can't fix: goes to the dead-letter list with Odoo's message. */
  deadLetter(id: string, code: string, message: string): Promise<void>;
  /** Held back with a reason (e.g. project has no analytic account, period locked). */
  hold(id: string, reason: string): Promise<void>;
  /**
   * The reason an earlier run held `sent` is gone: the note is cleared, as a compare-and-set at
   * the version the poster read. Answers the version the allocation is at afterwards (what is
   * then sent is recorded against it), or null when nothing was cleared (no note, or the
   * allocation changed meanwhile: it is sent as read, and markPosted sees the change).
   */
  clearHold(sent: PostableAllocation): Promise<number | null>;
  /** A dry run wrote its calls to the journal: traced in the log, the status is unchanged. */
  journalled?(id: string, key: string): Promise<void>;
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
