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

/** Days in each month of a common year. */
const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
/** 400 Gregorian years are exactly this many ms: a year below 100 is computed 400 years on. */
const FOUR_CENTURIES_MS = 146_097 * 86_400_000;

/** `n` decimal digits of `s` from `at` as a number, or -1 when one is not a digit. */
function digits(s: string, at: number, n: number): number {
  let v = 0;
  for (let i = at; i < at + n; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/**
 * Epoch ms of `s` when it is in the normal form (`NORMAL_INSTANT`) and names a real instant
 * (not 02-30, not 24:00: exactly what `toISOString` writes for it); NaN otherwise. Read field by
 * field: the same check through `Date.parse` and `toISOString` was a twentieth of the cloud's
 * ingest and a tenth of the edge's buffer appends.
 */
export function normalInstantMs(s: unknown): number {
  if (typeof s !== 'string' || s.length !== 24) return Number.NaN;
  if (
    s.charCodeAt(4) !== 45 || // -
    s.charCodeAt(7) !== 45 ||
    s.charCodeAt(10) !== 84 || // T
    s.charCodeAt(13) !== 58 || // :
    s.charCodeAt(16) !== 58 ||
    s.charCodeAt(19) !== 46 || // .
    s.charCodeAt(23) !== 90 // Z
  )
    return Number.NaN;
  const y = digits(s, 0, 4);
  const mo = digits(s, 5, 2);
  const d = digits(s, 8, 2);
  const h = digits(s, 11, 2);
  const mi = digits(s, 14, 2);
  const sec = digits(s, 17, 2);
  const ms = digits(s, 20, 3);
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59) return Number.NaN;
  if (sec < 0 || sec > 59 || ms < 0) return Number.NaN;
  const leap = mo === 2 && y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 1 : 0;
  if (d > MONTH_DAYS[mo - 1]! + leap) return Number.NaN;
  // Date.UTC reads years 0–99 as 1900–1999.
  return y >= 100
    ? Date.UTC(y, mo - 1, d, h, mi, sec, ms)
    : Date.UTC(y + 400, mo - 1, d, h, mi, sec, ms) - FOUR_CENTURIES_MS;
}

/** `Date.parse`, with an instant in normal form (the wire's) read the fast way. */
export function parseInstantMs(s: string): number {
  const normal = normalInstantMs(s);
  return Number.isNaN(normal) ? Date.parse(s) : normal;
}

/** The earliest instant a unit's clock can truthfully report (DESIGN.md, Contract 1). */
export const EARLIEST_VALID_TS = Date.parse('2000-01-01T00:00:00.000Z');
/** How far ahead of the receiver's clock a ts may be before it counts as invalid. */
export const MAX_CLOCK_AHEAD_MS = 5 * 60 * 1000; // 5 min

/** True when `ts` cannot be a true reading time relative to the receiver's clock `nowMs`. */
export function isInvalidClock(tsIso: string, nowMs: number): boolean {
  const t = parseInstantMs(tsIso);
  return !(t >= EARLIEST_VALID_TS) || t > nowMs + MAX_CLOCK_AHEAD_MS;
}
