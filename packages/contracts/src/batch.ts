/**
 * Contract 2: edge → cloud over HTTP.
 * `POST /v1/batches` (gzip, bearer gateway token) and `POST /v1/gateways/{id}/heartbeat`.
 * A 2xx means the batch is durably stored; `batchId` is stable across retries.
 */
import { z } from 'zod';
import { ForwardedReadingSchema, InstantSchema } from './reading.js';
import { BATCH_ID_PATTERN, MAX_READINGS_PER_BATCH } from './wire.js';

export const GatewayIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'gateway id: letters, digits, "_", ".", "-"');
export const BatchIdSchema = z
  .string()
  .regex(BATCH_ID_PATTERN, 'batch id: 1-128 of letters, digits, "_", ".", ":", "-"');

export const BatchSchema = z.object({
  gatewayId: GatewayIdSchema,
  batchId: BatchIdSchema,
  readings: z.array(ForwardedReadingSchema).min(1).max(MAX_READINGS_PER_BATCH),
});
export type Batch = z.infer<typeof BatchSchema>;
export type BatchInput = z.input<typeof BatchSchema>;

export const BatchAnswerSchema = z.object({
  batchId: BatchIdSchema,
  accepted: z.number().int().nonnegative(),
  duplicates: z.number().int().nonnegative(),
  conflicts: z.number().int().nonnegative().optional(),
});
export type BatchAnswer = z.infer<typeof BatchAnswerSchema>;

export const HeartbeatSchema = z.object({
  version: z.string(),
  sentAt: InstantSchema,
  /** Readings stored at the gateway and not yet acknowledged by the cloud. */
  queuedReadings: z.number().int().nonnegative(),
  /** Age of the oldest unsent reading in seconds; null when nothing is queued. */
  oldestUnsentAgeS: z.number().nonnegative().nullable(),
  quarantined: z.number().int().nonnegative(),
  parkedBatches: z.number().int().nonnegative().default(0),
  heldReadings: z.number().int().nonnegative().default(0),
  diskBudgetExceeded: z.boolean().default(false),
  brokerClients: z.number().int().nonnegative().optional(),
  lastForwardAt: InstantSchema.nullable().optional(),
});
export type Heartbeat = z.infer<typeof HeartbeatSchema>;
export type HeartbeatInput = z.input<typeof HeartbeatSchema>;

/** RFC 9457 problem details, as every IronLedger HTTP error answers. */
export const ProblemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string().optional(),
  instance: z.string().optional(),
  /** Stable IronLedger error code, e.g. `BATCH_INVALID`. */
  code: z.string().optional(),
  /** Which field failed, for validation problems: `readings[3].engineHours`. */
  errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});
export type Problem = z.infer<typeof ProblemSchema>;
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
