/**
 * The cloud's admin HTTP API, spoken by the `ironledger` CLI (DESIGN.md, Fleet manager CLI).
 * Every route takes `Authorization: Bearer <token>`; the token's role (viewer < approver <
 * admin) is enforced by the server: 401 unknown/revoked token, 403 role too low. Errors are
 * problem+json (ProblemSchema).
 *
 * Money is integer minor units (cents) with an ISO 4217 currency; hours are decimal hours.
 *
 * Routes (all JSON):
 *   GET  /v1/status                                  viewer   StatusResponse
 *   GET  /v1/usage?from&to&project&unit&site         viewer   UsageResponse
 *   POST /v1/consolidate                             approver ConsolidateResponse
 *   GET  /v1/allocations?status&from&to&project&unit viewer   AllocationsResponse
 *   GET  /v1/allocations/{id}                        viewer   Allocation
 *   POST /v1/allocations/approve                     approver ApproveRequest → DecisionResponse
 *   POST /v1/allocations/reject                      approver RejectRequest → DecisionResponse
 *   POST /v1/post                                    approver PostRequest → PostResponse
 *   GET  /v1/reconcile?period=YYYY-MM                viewer   ReconcileResponse
 *   GET  /v1/deadletters                             viewer   DeadLettersResponse
 *   POST /v1/deadletters/replay                      approver ReplayRequest → PostResponse
 *   GET  /v1/audit?from&to&actor&action              viewer   AuditResponse
 *   GET  /v1/report?period=YYYY-MM                   viewer   ReportResponse
 *   GET|POST /v1/sites, /v1/units, /v1/rates         viewer/admin
 *   POST /v1/tokens, DELETE /v1/tokens/{id}, GET /v1/tokens   admin
 *   POST /v1/periods/{YYYY-MM}/lock|unlock            admin
 */
import { z } from 'zod';

export const RoleSchema = z.enum(['viewer', 'approver', 'admin']);
export type Role = z.infer<typeof RoleSchema>;
export const ROLE_RANK: Record<Role, number> = { viewer: 0, approver: 1, admin: 2 };

export const DaySchema = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a day as YYYY-MM-DD');
export const PeriodSchema = z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'a period as YYYY-MM');
export const CurrencySchema = z.string().regex(/^[A-Z]{3}$/, 'an ISO 4217 currency code, e.g. USD');

// ---- status ---------------------------------------------------------------------------
export const GatewayStatusSchema = z.object({
  gatewayId: z.string(),
  siteId: z.string().nullable(),
  version: z.string().nullable(),
  lastHeartbeatAt: z.string().nullable(),
  lastBatchAt: z.string().nullable(),
  queuedReadings: z.number().int().nullable(),
  oldestUnsentAgeS: z.number().nullable(),
  quarantined: z.number().int().nullable(),
  diskBudgetExceeded: z.boolean(),
  stale: z.boolean(),
});
export const SilentUnitSchema = z.object({
  unitId: z.string(),
  lastReadingTs: z.string().nullable(),
  lastReceivedAt: z.string().nullable(),
  silentForS: z.number().nullable(),
});
export const StatusResponseSchema = z.object({
  now: z.string(),
  gateways: z.array(GatewayStatusSchema),
  silentUnits: z.array(SilentUnitSchema),
  pipeline: z.object({
    readings: z.number().int(),
    lastConsolidatedAt: z.string().nullable(),
    consolidationLagS: z.number().nullable(),
    allocations: z.record(z.string(), z.number().int()),
  }),
  deadLetters: z.number().int(),
});
export type StatusResponse = z.infer<typeof StatusResponseSchema>;

// ---- usage ----------------------------------------------------------------------------
export const UsageRowSchema = z.object({
  unitId: z.string(),
  day: DaySchema,
  projectId: z.string(),
  siteId: z.string(),
  engineHours: z.number(),
  idleHours: z.number(),
  workingHours: z.number(),
  distanceKm: z.number().nullable(),
  readings: z.number().int(),
  anomalies: z.number().int(),
});
export type UsageRow = z.infer<typeof UsageRowSchema>;
export const AnomalySchema = z.object({
  unitId: z.string(),
  kind: z.enum(['meter_reset', 'meter_jump', 'clock_invalid', 'conflict']),
  ts: z.string(),
  detail: z.string(),
  before: z.number().nullable(),
  after: z.number().nullable(),
});
export type Anomaly = z.infer<typeof AnomalySchema>;
/**
 * Lifetime meter hours (Vista EM): the current meter's reading plus the last reading of every
 * meter it replaced (each `meter_reset`'s `before`), as of the reading `asOf`.
 */
export const LifetimeHoursSchema = z.object({
  unitId: z.string(),
  asOf: z.string(),
  meterHours: z.number(),
  replacedHours: z.number(),
  lifetimeHours: z.number(),
  replacements: z.array(
    z.object({ ts: z.string(), replacedMeterHours: z.number(), newMeterHours: z.number().nullable() }),
  ),
});
export type LifetimeHours = z.infer<typeof LifetimeHoursSchema>;
export const UsageResponseSchema = z.object({
  rows: z.array(UsageRowSchema),
  anomalies: z.array(AnomalySchema),
  /** Per unit in `rows`: its lifetime meter hours as of its latest usable reading. */
  lifetime: z.array(LifetimeHoursSchema).optional(),
});
export type UsageResponse = z.infer<typeof UsageResponseSchema>;
export const ConsolidateResponseSchema = z.object({
  unitsTouched: z.number().int(),
  rowsWritten: z.number().int(),
  allocationsCreated: z.number().int(),
  adjustmentsCreated: z.number().int(),
});
export type ConsolidateResponse = z.infer<typeof ConsolidateResponseSchema>;

// ---- allocations ----------------------------------------------------------------------
export const AllocationStatusSchema = z.enum(['pending', 'approved', 'posted', 'rejected', 'superseded']);
export type AllocationStatus = z.infer<typeof AllocationStatusSchema>;

export const AllocationSchema = z.object({
  id: z.string(),
  /** Bumped by every change; a change decided on an older version is refused as stale. */
  version: z.number().int().positive(),
  /** Stable key that goes into Odoo's `ref`, e.g. `IL-EXC-0042-P-RIVERSIDE-2026-11-23-1`. */
  key: z.string(),
  kind: z.enum(['normal', 'adjustment']),
  /** For an adjustment: the allocation it corrects. */
  adjusts: z.string().nullable(),
  unitId: z.string(),
  projectId: z.string(),
  day: DaySchema,
  engineHours: z.number(),
  idleHours: z.number(),
  workingHours: z.number(),
  workingRateMinor: z.number().int(),
  idleRateMinor: z.number().int(),
  currency: CurrencySchema,
  amountMinor: z.number().int(),
  status: AllocationStatusSchema,
  holdReason: z.string().nullable(),
  evidence: z.object({
    readings: z.number().int(),
    anomalies: z.array(AnomalySchema),
    meterFrom: z.number().nullable(),
    meterTo: z.number().nullable(),
  }),
  createdAt: z.string(),
  approvedBy: z.string().nullable(),
  approvedAt: z.string().nullable(),
  rejectedBy: z.string().nullable(),
  rejectedAt: z.string().nullable(),
  rejectReason: z.string().nullable(),
  postedAt: z.string().nullable(),
  odoo: z.object({ model: z.string(), id: z.number().int(), date: z.string().nullable() }).nullable(),
});
export type Allocation = z.infer<typeof AllocationSchema>;
export const AllocationsResponseSchema = z.object({ allocations: z.array(AllocationSchema) });
export type AllocationsResponse = z.infer<typeof AllocationsResponseSchema>;

export const AllocationFilterSchema = z.object({
  status: AllocationStatusSchema.optional(),
  from: DaySchema.optional(),
  to: DaySchema.optional(),
  project: z.string().optional(),
  unit: z.string().optional(),
});
export type AllocationFilter = z.infer<typeof AllocationFilterSchema>;

export const ApproveRequestSchema = z
  .object({
    ids: z.array(z.string()).optional(),
    filter: AllocationFilterSchema.optional(),
    all: z.boolean().optional(),
  })
  .refine((r) => (r.ids && r.ids.length > 0) || r.filter || r.all, {
    message: 'name allocations by ids, by filter, or all: true',
  });
export type ApproveRequest = z.infer<typeof ApproveRequestSchema>;
export const RejectRequestSchema = z.object({
  ids: z.array(z.string()).min(1),
  reason: z.string().trim().min(1, 'a rejection needs a reason'),
});
export type RejectRequest = z.infer<typeof RejectRequestSchema>;
export const DecisionResponseSchema = z.object({
  changed: z.array(z.string()),
  unchanged: z.array(z.string()),
  refused: z.array(z.object({ id: z.string(), reason: z.string() })),
  notFound: z.array(z.string()),
});
export type DecisionResponse = z.infer<typeof DecisionResponseSchema>;

// ---- posting --------------------------------------------------------------------------
export const PostRequestSchema = z.object({
  dryRun: z.boolean().optional(),
  ids: z.array(z.string()).optional(),
});
export type PostRequest = z.infer<typeof PostRequestSchema>;
export const PostResponseSchema = z.object({
  mode: z.enum(['dry-run', 'odoo']),
  api: z.enum(['json2', 'jsonrpc']).nullable(),
  target: z.enum(['analytic', 'move']),
  considered: z.number().int(),
  posted: z.array(z.object({ id: z.string(), key: z.string(), odooId: z.number().int().nullable() })),
  /** Found already in Odoo by ref: recorded, not created again. */
  alreadyInOdoo: z.array(z.string()),
  held: z.array(z.object({ id: z.string(), reason: z.string() })),
  failed: z.array(
    z.object({ id: z.string(), code: z.string(), message: z.string(), deadLettered: z.boolean() }),
  ),
  journal: z.string().nullable(),
});
export type PostResponse = z.infer<typeof PostResponseSchema>;

export const DeadLetterSchema = z.object({
  id: z.string(),
  allocationId: z.string(),
  key: z.string(),
  code: z.string(),
  message: z.string(),
  attempts: z.number().int(),
  createdAt: z.string(),
  lastAttemptAt: z.string(),
});
export type DeadLetter = z.infer<typeof DeadLetterSchema>;
export const DeadLettersResponseSchema = z.object({ deadLetters: z.array(DeadLetterSchema) });
export const ReplayRequestSchema = z.object({
  ids: z.array(z.string()).optional(),
  all: z.boolean().optional(),
});

// ---- reconciliation -------------------------------------------------------------------
export const ReconcileRowSchema = z.object({
  projectId: z.string(),
  localHours: z.number(),
  odooHours: z.number(),
  localAmountMinor: z.number().int(),
  odooAmountMinor: z.number().int(),
  ok: z.boolean(),
});
export const ReconcileDifferenceSchema = z.object({
  projectId: z.string(),
  key: z.string().nullable(),
  /** `analytic_account`: the line is on another analytic account than the project's / the unit's. */
  kind: z.enum(['missing_in_odoo', 'missing_locally', 'amount', 'hours', 'date', 'analytic_account']),
  local: z.string().nullable(),
  odoo: z.string().nullable(),
  /**
   * Journal-entry mode: found on the entry's move line (the ledger) or on the analytic line it
   * generated; with internal rental, `equipment_*` is the equipment's credit line and its analytic line.
   */
  side: z.enum(['move_line', 'analytic_line', 'equipment_move_line', 'equipment_analytic_line']).optional(),
});
export const ReconcileResponseSchema = z.object({
  period: PeriodSchema,
  currency: CurrencySchema,
  rows: z.array(ReconcileRowSchema),
  differences: z.array(ReconcileDifferenceSchema),
});
export type ReconcileResponse = z.infer<typeof ReconcileResponseSchema>;

// ---- audit ----------------------------------------------------------------------------
export const AuditEntrySchema = z.object({
  at: z.string(),
  actor: z.string(),
  action: z.string(),
  target: z.string(),
  detail: z.string().nullable(),
});
export type AuditEntry = z.infer<typeof AuditEntrySchema>;
export const AuditResponseSchema = z.object({ entries: z.array(AuditEntrySchema) });

// ---- tokens ---------------------------------------------------------------------------
export const TokenCreateRequestSchema = z.object({ name: z.string().min(1), role: RoleSchema });
export const TokenCreateResponseSchema = z.object({
  id: z.string(),
  name: z.string(),
  role: RoleSchema,
  token: z.string(),
});
export const TokenInfoSchema = z.object({
  id: z.string(),
  name: z.string(),
  role: RoleSchema,
  createdAt: z.string(),
  revokedAt: z.string().nullable(),
});
export const TokensResponseSchema = z.object({ tokens: z.array(TokenInfoSchema) });

// ---- master data from Odoo --------------------------------------------------------------
const OdooSyncedRecordSchema = z.object({
  odooId: z.number().int(),
  name: z.string(),
  serialNo: z.string().nullable(),
  accountId: z.number().int().nullable(),
  active: z.boolean(),
});
const OdooSyncModelSchema = z.object({
  /** The write_date cursor the run started from (null: a first, full read). */
  since: z.string().nullable(),
  cursor: z.string().nullable(),
  read: z.number().int(),
  pages: z.number().int(),
  added: z.array(OdooSyncedRecordSchema),
  changed: z.array(OdooSyncedRecordSchema),
});
/** POST /v1/master-data/sync (admin): what one sync read from Odoo and what is left unmatched. */
export const OdooSyncResponseSchema = z.object({
  equipment: OdooSyncModelSchema,
  projects: OdooSyncModelSchema,
  unmatched: z.object({
    units: z.array(z.object({ unitId: z.string(), serialNo: z.string(), reason: z.string() })),
    equipment: z.array(
      z.object({ odooId: z.number().int(), name: z.string(), serialNo: z.string().nullable() }),
    ),
    projects: z.array(z.object({ projectId: z.string(), name: z.string(), reason: z.string() })),
  }),
});
export type OdooSyncResponse = z.infer<typeof OdooSyncResponseSchema>;

/** GET /v1/odoo/status (viewer): the Odoo connection and its API key's expiry. */
export const OdooStatusResponseSchema = z.object({
  configured: z.boolean(),
  /** res.users.apikeys name of the key IronLedger uses (posting.odoo.apiKeyName), or the soonest to expire. */
  apiKeyName: z.string().nullable(),
  /** UTC "YYYY-MM-DD HH:MM:SS", or null: the key does not expire (or Odoo does not say). */
  apiKeyExpiresAt: z.string().nullable(),
  daysLeft: z.number().nullable(),
  /** Set when the key expires within posting.odoo.apiKeyWarnDays, or Odoo refuses it. */
  warning: z.string().nullable(),
});
export type OdooStatusResponse = z.infer<typeof OdooStatusResponseSchema>;
