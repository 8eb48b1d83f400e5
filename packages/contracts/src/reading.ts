/**
 * Contract 1: the canonical reading a telematics unit publishes, and the forwarded reading
 * (canonical reading + gateway receive time) that travels in Contract 2 batches.
 *
 * Meters (`engineHours`, `idleHours`, `fuelUsedL`, `odometerKm`) are cumulative, never
 * per-interval amounts. A reading's identity is (unitId, ts); `ts` is normalised to UTC with
 * millisecond precision (`2026-11-23T08:15:00.000Z`) so that the same instant written two
 * ways is one identity.
 */
import { z } from 'zod';
import { UNIT_ID_PATTERN } from './topics.js';

export const UnitIdSchema = z
  .string()
  .regex(UNIT_ID_PATTERN, 'unit id: letters, digits, "_", ".", "-", at most 64');

/** ISO 8601 instant with an offset or `Z`, normalised to `YYYY-MM-DDTHH:mm:ss.sssZ`. */
export const InstantSchema = z
  .string()
  .datetime({
    offset: true,
    message: 'an ISO 8601 date-time with a time zone, e.g. 2026-11-23T08:15:00.000Z',
  })
  .transform((s) => new Date(s).toISOString());

const meter = (what: string) =>
  z
    .number()
    .finite()
    .nonnegative({ message: `${what} is a cumulative meter: >= 0` });

export const PositionSchema = z.object({
  lat: z.number().min(-90).max(90),
  lon: z.number().min(-180).max(180),
});
export type Position = z.infer<typeof PositionSchema>;

export const ReadingSchema = z.object({
  v: z.literal(1),
  unitId: UnitIdSchema,
  seq: z.number().int().nonnegative().optional(),
  ts: InstantSchema,
  engineHours: meter('engineHours'),
  idleHours: meter('idleHours').optional(),
  engineOn: z.boolean().optional(),
  position: PositionSchema.optional(),
  speedKmh: z.number().finite().nonnegative().optional(),
  fuelUsedL: meter('fuelUsedL').optional(),
  odometerKm: meter('odometerKm').optional(),
});
export type Reading = z.infer<typeof ReadingSchema>;
export type ReadingInput = z.input<typeof ReadingSchema>;

/** Why a reading is held back from usage although it is stored. */
export const ReadingFlagSchema = z.enum(['clock_invalid', 'conflict']);
export type ReadingFlag = z.infer<typeof ReadingFlagSchema>;

/** A canonical reading as the gateway forwards it: plus the gateway's receive time. */
export const ForwardedReadingSchema = ReadingSchema.extend({
  receivedAt: InstantSchema,
  source: z.enum(['telemetry', 'aemp']).optional(),
  flags: z.array(ReadingFlagSchema).optional(),
});
export type ForwardedReading = z.infer<typeof ForwardedReadingSchema>;

/** The normal form the schemas give an instant: UTC, milliseconds, `Z`. */
export const NORMAL_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** The earliest instant a unit's clock can truthfully report (DESIGN.md, Contract 1). */
export const EARLIEST_VALID_TS = Date.parse('2000-01-01T00:00:00.000Z');
/** How far ahead of the receiver's clock a ts may be before it counts as invalid. */
export const MAX_CLOCK_AHEAD_MS = 5 * 60 * 1000; // 5 min

/** True when `ts` cannot be a true reading time relative to the receiver's clock `nowMs`. */
export function isInvalidClock(tsIso: string, nowMs: number): boolean {
  const t = Date.parse(tsIso);
  return !(t >= EARLIEST_VALID_TS) || t > nowMs + MAX_CLOCK_AHEAD_MS;
}
