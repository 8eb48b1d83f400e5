/**
 * Evidence behind one allocation and the integrity check over all posted ones (README
 * "Billing rules"), spoken by the cloud and the `ironledger` CLI:
 *
 *   GET  /v1/evidence/{key or id}              viewer    EvidenceResponse
 *   POST /v1/evidence/{key}/bill-unverified    approver  BillUnverifiedRequest → BillUnverifiedResponse
 *   GET  /v1/verify?from&to                    viewer    VerifyResponse
 *
 * Hours are decimal hours, money integer minor units; `sha256` values are lowercase hex.
 */
import { z } from 'zod';
import { AllocationSchema, AnomalySchema, DaySchema, LifetimeHoursSchema } from './admin.js';

export const BillingStatusSchema = z.enum(['working', 'idle', 'standby', 'offHours']);

export const RateLineSchema = z.object({
  status: z.union([BillingStatusSchema, z.literal('minimum')]),
  milliHours: z.number().int(),
  billedMilliHours: z.number().int(),
  owningRateMinor: z.number().int(),
  owningFactor: z.number(),
  operatingRateMinor: z.number().int(),
  operatingFactor: z.number(),
  amountMinor: z.number().int(),
  note: z.string().optional(),
});
export type RateLineWire = z.infer<typeof RateLineSchema>;

export const UsageGapSchema = z.object({
  fromTs: z.string(),
  toTs: z.string(),
  elapsedHours: z.number(),
  engineHours: z.number(),
  fromProjectId: z.string(),
  toProjectId: z.string(),
  days: z.array(z.string()),
  inferred: z.boolean(),
});

export const BillingEvidenceSchema = z.object({
  model: z.enum(['contractor', 'legacy']),
  scope: z.string().nullable(),
  statusHours: z.object({ working: z.number(), idle: z.number(), standby: z.number(), offHours: z.number() }),
  unverifiedHours: z.number(),
  unverifiedBilledHours: z.number(),
  inferredHours: z.number(),
  gaps: z.array(UsageGapSchema),
  lines: z.array(RateLineSchema),
  readings: z.array(z.object({ ts: z.string(), sha256: z.string() })),
  readingsSha256: z.string().nullable(),
});
export type BillingEvidenceWire = z.infer<typeof BillingEvidenceSchema>;

export const EvidenceReadingSchema = z.object({
  ts: z.string(),
  /** null: the reading is no longer in the store (or no longer usable). */
  engineHours: z.number().nullable(),
  idleHours: z.number().nullable(),
  odometerKm: z.number().nullable(),
  position: z.object({ lat: z.number(), lon: z.number() }).nullable(),
  projectId: z.string().nullable(),
  batchId: z.string().nullable(),
  gatewayId: z.string().nullable(),
  receivedAt: z.string().nullable(),
  /** Meter rise since the previous listed reading (null for the first). */
  engineDelta: z.number().nullable(),
  idleDelta: z.number().nullable(),
  storedSha256: z.string(),
  currentSha256: z.string().nullable(),
  matches: z.boolean(),
});
export type EvidenceReading = z.infer<typeof EvidenceReadingSchema>;

/** The allocation (every field of GET /v1/allocations/{id}) and the evidence behind it. */
export const EvidenceResponseSchema = AllocationSchema.extend({
  billing: BillingEvidenceSchema.nullable(),
  readings: z.array(EvidenceReadingSchema),
  geofenceChanges: z.array(z.object({ ts: z.string(), fromProjectId: z.string(), toProjectId: z.string() })),
  resets: z.array(AnomalySchema),
  sha256: z.object({ stored: z.string().nullable(), current: z.string().nullable(), matches: z.boolean() }),
  unverifiedDecision: z
    .object({ hours: z.number(), by: z.string(), at: z.string(), reason: z.string() })
    .nullable(),
  /** The unit's lifetime meter hours at the allocation's last reading (null: no reading). */
  lifetime: LifetimeHoursSchema.nullable().optional(),
  generatedAt: z.string(),
});
export type EvidenceResponse = z.infer<typeof EvidenceResponseSchema>;

export const BillUnverifiedRequestSchema = z
  .object({
    /** The unverified hours the approver saw: the request is refused (409) if they changed. */
    expectedHours: z.number().positive(),
    /** The allocation's version the approver saw: refused (409) if it changed since. */
    expectedVersion: z.number().int().positive().optional(),
    reason: z.string().trim().min(3).max(500),
  })
  .strict();
export type BillUnverifiedRequest = z.infer<typeof BillUnverifiedRequestSchema>;
export const BillUnverifiedResponseSchema = z.object({
  key: z.string(),
  hours: z.number(),
  allocation: AllocationSchema.nullable(),
});

export const VerifyQuerySchema = z.object({ from: DaySchema.optional(), to: DaySchema.optional() }).strict();
export const VerifyResponseSchema = z.object({
  checked: z.number().int(),
  /** Posted allocations priced before evidence was kept: nothing to check them against. */
  withoutEvidence: z.number().int(),
  failed: z.array(
    z.object({
      key: z.string(),
      reason: z.string(),
      changedReadings: z.array(z.string()),
      missingReadings: z.array(z.string()),
    }),
  ),
});
export type VerifyResponse = z.infer<typeof VerifyResponseSchema>;
