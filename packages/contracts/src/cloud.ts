/**
 * Cloud admin API payloads beyond admin.ts: master data lists and upserts, period locks,
 * consolidation requests and the period report. Shared by the cloud and the `ironledger` CLI.
 *
 *   GET  /v1/sites | /v1/projects | /v1/units | /v1/rates   viewer  {sites|projects|units|rates: [...]}
 *   POST /v1/sites | /v1/projects | /v1/units | /v1/rates   admin   one Site|Project|Unit|Rate → UpsertResponse
 *   GET  /v1/periods                                         viewer  PeriodsResponse
 *   POST /v1/periods/{YYYY-MM}/lock | /unlock                admin   PeriodLockResponse
 *   POST /v1/consolidate                                     approver ConsolidateRequest → ConsolidateResponse
 *   GET  /v1/report?period=YYYY-MM                           viewer  ReportResponse
 *   GET  /v1/held?unit&from&to                               viewer  HeldReadingsResponse
 *   POST /v1/held/{id}/release                               approver HeldReleaseRequest → HeldReleaseResponse
 *   GET  /v1/conflicts?unit&from&to&status                   viewer  ConflictsResponse
 *   POST /v1/conflicts/{id}/resolve                          approver ConflictResolveRequest → Conflict
 *   POST /v1/allocations/reopen                              approver ReopenRequest → DecisionResponse
 */
import { z } from 'zod';
import {
  AllocationSchema,
  AnomalySchema,
  CurrencySchema,
  DaySchema,
  PeriodSchema,
  UsageRowSchema,
} from './admin.js';
import { ProjectSchema, RateSchema, SiteSchema, UnitSchema } from './master.js';
import { InstantSchema } from './reading.js';

export const SitesResponseSchema = z.object({ sites: z.array(SiteSchema) });
export const ProjectsResponseSchema = z.object({ projects: z.array(ProjectSchema) });
export const UnitsResponseSchema = z.object({ units: z.array(UnitSchema) });
export const RatesResponseSchema = z.object({ rates: z.array(RateSchema) });
export const UpsertResponseSchema = z.object({
  kind: z.enum(['site', 'project', 'unit', 'rate']),
  id: z.string(),
  created: z.boolean(),
});
export type UpsertResponse = z.infer<typeof UpsertResponseSchema>;

export const PeriodsResponseSchema = z.object({
  locked: z.array(z.object({ period: PeriodSchema })),
});
export const PeriodLockResponseSchema = z.object({
  period: PeriodSchema,
  locked: z.boolean(),
  changed: z.boolean(),
});
export type PeriodLockResponse = z.infer<typeof PeriodLockResponseSchema>;

/** `all: true` recomputes every unit (after master data changes), not only units with new data. */
export const ConsolidateRequestSchema = z.object({ all: z.boolean().optional() }).strict();

/**
 * A stored reading kept out of usage (Contract 1): `held` for an impossible clock, `conflict`
 * for one of several versions with the same identity (unitId, ts); `conflictId` names the
 * conflict to resolve (`GET /v1/conflicts`).
 */
export const HeldReadingSchema = z.object({
  id: z.string(),
  unitId: z.string(),
  ts: z.string(),
  status: z.enum(['held', 'conflict']),
  reason: z.string(),
  engineHours: z.number(),
  receivedAt: z.string(),
  batchId: z.string(),
  conflictId: z.string().nullable(),
});
export type HeldReading = z.infer<typeof HeldReadingSchema>;
export const HeldReadingsResponseSchema = z.object({ readings: z.array(HeldReadingSchema) });

const ReasonSchema = z.string().trim().min(1, 'say why: the reason goes to the audit trail');

/**
 * Releases a held reading into usage: with `rebaseTs`, at that (true) time; with `asIs`, at its
 * own ts, which must be a possible clock by now. Exactly one of the two.
 */
export const HeldReleaseRequestSchema = z
  .object({
    rebaseTs: InstantSchema.optional(),
    asIs: z.literal(true).optional(),
    reason: ReasonSchema,
  })
  .strict()
  .refine((r) => (r.rebaseTs === undefined) !== (r.asIs === undefined), {
    message: 'give exactly one of rebaseTs (an ISO instant) or asIs: true',
    path: ['rebaseTs'],
  });
export type HeldReleaseRequest = z.infer<typeof HeldReleaseRequestSchema>;

export const HeldReleaseResponseSchema = z.object({
  id: z.string(),
  unitId: z.string(),
  /** The ts the reading is used with now. */
  ts: z.string(),
  /** The ts the unit reported (kept as evidence). */
  reportedTs: z.string(),
  rebased: z.boolean(),
  engineHours: z.number(),
  releasedBy: z.string(),
  releasedAt: z.string(),
  reason: z.string(),
});
export type HeldReleaseResponse = z.infer<typeof HeldReleaseResponseSchema>;

// ---- conflicts ---------------------------------------------------------------------------
export const ConflictKeepSchema = z.enum(['first', 'second']);
export type ConflictKeep = z.infer<typeof ConflictKeepSchema>;

/** One stored version of a conflicting identity, in arrival order (ordinal 1 = first). */
export const ConflictVersionSchema = z.object({
  readingId: z.string(),
  ordinal: z.number().int().positive(),
  /** conflict while open; after resolution the kept one is ok (or held: bad clock), others superseded. */
  status: z.enum(['conflict', 'ok', 'held', 'superseded']),
  engineHours: z.number(),
  idleHours: z.number().nullable(),
  receivedAt: z.string(),
  storedAt: z.string(),
  batchId: z.string(),
  gatewayId: z.string(),
});
export type ConflictVersion = z.infer<typeof ConflictVersionSchema>;

export const ConflictSchema = z.object({
  id: z.string(),
  unitId: z.string(),
  ts: z.string(),
  status: z.enum(['open', 'resolved']),
  openedAt: z.string(),
  versions: z.array(ConflictVersionSchema),
  resolution: z
    .object({
      keep: ConflictKeepSchema,
      readingId: z.string(),
      by: z.string(),
      at: z.string(),
      reason: z.string(),
    })
    .nullable(),
});
export type Conflict = z.infer<typeof ConflictSchema>;
export const ConflictsResponseSchema = z.object({ conflicts: z.array(ConflictSchema) });
export const ConflictsQuerySchema = z
  .object({
    unit: z.string().optional(),
    from: z.string().optional(),
    to: z.string().optional(),
    /** Default open. */
    status: z.enum(['open', 'resolved', 'all']).optional(),
  })
  .strict();

/** The chosen version becomes the usable reading; the others stay stored, superseded. */
export const ConflictResolveRequestSchema = z
  .object({ keep: ConflictKeepSchema, reason: ReasonSchema })
  .strict();
export type ConflictResolveRequest = z.infer<typeof ConflictResolveRequestSchema>;

// ---- report ----------------------------------------------------------------------------
export const ReportProjectDaySchema = z.object({
  projectId: z.string(),
  day: DaySchema,
  engineHours: z.number(),
  idleHours: z.number(),
  workingHours: z.number(),
  units: z.number().int(),
});
export const ReportIdleShareSchema = z.object({
  unitId: z.string(),
  engineHours: z.number(),
  idleHours: z.number(),
  /** idle / engine, 0..1; null when the unit did not run. */
  idleShare: z.number().nullable(),
});
export const ReportCostSchema = z.object({
  projectId: z.string(),
  currency: CurrencySchema,
  pendingMinor: z.number().int(),
  approvedMinor: z.number().int(),
  postedMinor: z.number().int(),
  totalMinor: z.number().int(),
});
export const ReportResponseSchema = z.object({
  period: PeriodSchema,
  from: DaySchema,
  to: DaySchema,
  generatedAt: z.string(),
  locked: z.boolean(),
  /** Usage rows of the period (as /v1/usage). */
  rows: z.array(UsageRowSchema),
  byProjectDay: z.array(ReportProjectDaySchema),
  idleShareByUnit: z.array(ReportIdleShareSchema),
  /** Money per project and currency; rejected and superseded allocations are left out. */
  costByProject: z.array(ReportCostSchema),
  allocations: z.array(AllocationSchema),
  anomalies: z.array(AnomalySchema),
});
export type ReportResponse = z.infer<typeof ReportResponseSchema>;

// ---- reopening a rejection -------------------------------------------------------------
/** Rejected allocations back to pending, for a new decision; the reason goes to the audit log. */
export const ReopenRequestSchema = z.object({
  ids: z.array(z.string()).min(1),
  reason: z.string().trim().min(1, 'reopening a rejection needs a reason'),
});
export type ReopenRequest = z.infer<typeof ReopenRequestSchema>;

// ---- query strings (validated by the cloud's routes, described in /v1/openapi.json) ------
export const UsageQuerySchema = z
  .object({
    from: DaySchema.optional(),
    to: DaySchema.optional(),
    project: z.string().optional(),
    unit: z.string().optional(),
    site: z.string().optional(),
  })
  .strict();
export const HeldQuerySchema = z
  .object({ unit: z.string().optional(), from: z.string().optional(), to: z.string().optional() })
  .strict();
export const AuditQuerySchema = z
  .object({
    from: z.string().optional(),
    to: z.string().optional(),
    actor: z.string().optional(),
    action: z.string().optional(),
  })
  .strict();
export const PeriodQuerySchema = z.object({ period: PeriodSchema }).strict();
