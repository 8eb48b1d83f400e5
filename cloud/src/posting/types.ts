/**
 * The seam between the cloud's store/HTTP layer and allocation pricing and Odoo posting.
 * Pricing (allocation/) is pure; posting (posting/) talks to Odoo (or a dry-run journal) and
 * reports each outcome to a PostingLedger, which the store implements durably.
 */
import type { PostResponse, ReconcileResponse } from '@ironledger/contracts';
import type { PostingOutcomePosted } from '../domain/types.js';

export type {
  PostingOutcomePosted,
  PriceResult,
  RateCard,
  UnitInfo,
  UsageFigure,
} from '../domain/types.js';

/** What IronLedger's own master data says about a project's place in Odoo. */
export interface ProjectHint {
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
}

/** Durable record of what happened to each allocation; implemented by the store. */
export interface PostingLedger {
  /** Records `sent` (exactly what Odoo received, at the version read) as posted. */
  markPosted(sent: PostableAllocation, outcome: PostingOutcomePosted): Promise<void>;
  /** A failure retrying can't fix: goes to the dead-letter list with Odoo's message. */
  deadLetter(id: string, code: string, message: string): Promise<void>;
  /** Held back with a reason (e.g. project has no analytic account, period locked). */
  hold(id: string, reason: string): Promise<void>;
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
  close(): Promise<void>;
}
