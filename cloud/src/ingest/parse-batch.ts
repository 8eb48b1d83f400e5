/**
 * Contract 2 validation of one batch body: JSON, then BatchSchema; every problem is named by
 * its path (`readings[3].engineHours`) so the edge can log exactly which reading failed.
 *
 * A gateway has already validated every reading, so nearly every batch is exactly canonical:
 * no unknown keys, instants already in `YYYY-MM-DDTHH:mm:ss.sssZ`. `fastBatch` checks that
 * shape by hand (a strict subset of what BatchSchema accepts, with the same output) at a
 * fraction of zod's cost; anything it does not recognise goes through BatchSchema, which
 * accepts or refuses it and names every problem.
 */
import {
  type Batch,
  BatchSchema,
  FORWARDED_READING_KEYS,
  type ForwardedReading,
  isInvalidClock,
  MAX_READINGS_PER_BATCH,
  normalInstantMs,
  readingContent,
  UNIT_ID_PATTERN,
} from '@ironledger/contracts';
import { formatPath, HttpProblem } from '../http/problem.js';
import type { IngestReading } from '../store/store.js';

/** At most this many field problems are listed in one answer. */
const MAX_LISTED_ERRORS = 50;

/**
 * A valid batch; `texts`, when the body was taken in pieces (what a gateway sends), holds each
 * reading's JSON text as received: stored as the reading's body, it spares a JSON.stringify
 * per reading.
 */
export type ParsedBatch = Batch & { texts?: readonly string[] };

export function parseBatch(body: Buffer): ParsedBatch {
  const texts: string[] = [];
  const pieces = splitBatch(body, texts);
  if (pieces !== null) {
    const fast = fastBatch(pieces);
    if (fast) return { ...fast, texts };
  }
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw new HttpProblem(400, 'BATCH_INVALID', `body is not valid JSON: ${(e as Error).message}`, {
      title: 'batch does not match Contract 2',
    });
  }
  const fast = fastBatch(json);
  if (fast) return fast;
  const r = BatchSchema.safeParse(json);
  if (!r.success) {
    const errors = r.error.issues
      .slice(0, MAX_LISTED_ERRORS)
      .map((i) => ({ path: formatPath(i.path), message: i.message }));
    const first = errors[0]!;
    throw new HttpProblem(
      400,
      'BATCH_INVALID',
      `${r.error.issues.length} problem(s); first: ${first.path}: ${first.message}`,
      { errors },
    );
  }
  return r.data;
}

const READINGS_KEY = Buffer.from(',"readings":[');
/** Between two readings as a gateway writes them: `v` is every reading's first key. */
const NEXT_READING = Buffer.from('},{"v":');

/**
 * The body parsed in pieces where a gateway's layout puts them: the head up to `,"readings":[`,
 * then each reading's text apart, cut at `},{"v":`. The same value as JSON.parse of the whole
 * text: a cut cannot fall inside a string (its quote would have to be escaped) and a cut
 * anywhere but between two elements leaves a piece that is not JSON. No ~270 KB string is made
 * for a part of 1000 readings, an allocation V8 serves from fresh pages (README, "What each
 * change cost and bought"). Null for any other layout (whitespace, another key order, a piece
 * that does not parse): then the whole text is parsed and a refusal names its reason.
 * `texts`, when given, receives each reading's text (of use only when the result is not null).
 */
export function splitBatch(body: Buffer, texts: string[] = []): Record<string, unknown> | null {
  const end = body.length - 2;
  if (end < 0 || body[end] !== 0x5d || body[end + 1] !== 0x7d) return null; // `]}`
  const at = body.indexOf(READINGS_KEY);
  if (at < 0) return null;
  try {
    const head: unknown = JSON.parse(`${body.toString('utf8', 0, at)}}`);
    if (!isObject(head)) return null;
    const readings: unknown[] = [];
    let pos = at + READINGS_KEY.length;
    for (;;) {
      if (readings.length === MAX_READINGS_PER_BATCH) return null;
      const cut = body.indexOf(NEXT_READING, pos);
      const text = body.toString('utf8', pos, cut < 0 ? end : cut + 1);
      readings.push(JSON.parse(text));
      texts.push(text);
      if (cut < 0) return { ...head, readings };
      pos = cut + 2;
    }
  } catch {
    return null;
  }
}

// The same patterns as GatewayIdSchema and BatchIdSchema (packages/contracts/src/batch.ts).
const GATEWAY_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const BATCH_ID = /^[A-Za-z0-9_.:-]{1,128}$/;
const BATCH_KEYS = new Set(['gatewayId', 'batchId', 'readings']);
const READING_KEYS = new Set<string>(FORWARDED_READING_KEYS);

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function onlyKeys(o: Record<string, unknown>, allowed: Set<string>): boolean {
  for (const k in o) if (!allowed.has(k)) return false;
  return true;
}

/** A canonical instant that names a real one (the round trip refuses 02-30, 24:00, …). */
function isCanonicalInstant(x: unknown): x is string {
  return !Number.isNaN(normalInstantMs(x));
}

function isMeter(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x) && x >= 0;
}

function isOptMeter(x: unknown): boolean {
  return x === undefined || isMeter(x);
}

/** The reading in ForwardedReadingSchema's key order, or null to let zod decide. */
function fastReading(x: unknown): ForwardedReading | null {
  if (!isObject(x) || !onlyKeys(x, READING_KEYS)) return null;
  const { unitId, seq, ts, engineHours, engineOn, position, speedKmh, receivedAt, source, flags } = x;
  if (x.v !== 1 || typeof unitId !== 'string' || !UNIT_ID_PATTERN.test(unitId)) return null;
  if (seq !== undefined && !(Number.isSafeInteger(seq) && (seq as number) >= 0)) return null;
  if (!isCanonicalInstant(ts) || !isCanonicalInstant(receivedAt) || !isMeter(engineHours)) return null;
  if (!isOptMeter(x.idleHours) || !isOptMeter(x.fuelUsedL) || !isOptMeter(x.odometerKm)) return null;
  if (!isOptMeter(speedKmh) || (engineOn !== undefined && typeof engineOn !== 'boolean')) return null;
  let pos: { lat: number; lon: number } | undefined;
  if (position !== undefined) {
    if (!isObject(position) || !onlyKeys(position, POSITION_KEYS)) return null;
    const { lat, lon } = position;
    if (typeof lat !== 'number' || !(lat >= -90 && lat <= 90)) return null;
    if (typeof lon !== 'number' || !(lon >= -180 && lon <= 180)) return null;
    pos = { lat, lon };
  }
  if (source !== undefined && source !== 'telemetry' && source !== 'aemp') return null;
  if (flags !== undefined) {
    if (!Array.isArray(flags)) return null;
    for (const f of flags) if (f !== 'clock_invalid' && f !== 'conflict') return null;
  }
  const r: Record<string, unknown> = { v: 1, unitId };
  if (seq !== undefined) r.seq = seq;
  r.ts = ts;
  r.engineHours = engineHours;
  if (x.idleHours !== undefined) r.idleHours = x.idleHours;
  if (engineOn !== undefined) r.engineOn = engineOn;
  if (pos) r.position = pos;
  if (speedKmh !== undefined) r.speedKmh = speedKmh;
  if (x.fuelUsedL !== undefined) r.fuelUsedL = x.fuelUsedL;
  if (x.odometerKm !== undefined) r.odometerKm = x.odometerKm;
  r.receivedAt = receivedAt;
  if (source !== undefined) r.source = source;
  if (flags !== undefined) r.flags = [...(flags as string[])];
  return r as ForwardedReading;
}

const POSITION_KEYS = new Set(['lat', 'lon']);

/** The batch when it is exactly canonical (what a gateway sends), else null. */
export function fastBatch(json: unknown): Batch | null {
  if (!isObject(json) || !onlyKeys(json, BATCH_KEYS)) return null;
  const { gatewayId, batchId, readings } = json;
  if (typeof gatewayId !== 'string' || !GATEWAY_ID.test(gatewayId)) return null;
  if (typeof batchId !== 'string' || !BATCH_ID.test(batchId)) return null;
  if (!Array.isArray(readings) || readings.length < 1 || readings.length > MAX_READINGS_PER_BATCH)
    return null;
  const out: ForwardedReading[] = new Array(readings.length);
  for (let i = 0; i < readings.length; i++) {
    const r = fastReading(readings[i]);
    if (!r) return null;
    out[i] = r;
  }
  return { gatewayId, batchId, readings: out };
}

/** Hold reason of a reading whose unit is not registered; released when the unit is. */
export const UNKNOWN_UNIT_REASON_PREFIX = 'unknown_unit';

/**
 * Decides how a reading is kept: a ts before 2000 or more than 5 min ahead of the cloud's
 * clock (Contract 1), or the edge's own clock_invalid flag, holds it out of usage; so does a
 * unit the cloud does not know (stored, held `unknown_unit`, released on registration).
 */
export function toIngestReading(
  r: ForwardedReading,
  nowMs: number,
  isKnownUnit: (unitId: string) => boolean = () => true,
  text?: string,
): IngestReading {
  const flags = r.flags ?? [];
  let holdReason: string | null = null;
  if (flags.includes('clock_invalid')) holdReason = 'clock_invalid: flagged by the gateway';
  else if (isInvalidClock(r.ts, nowMs))
    holdReason = `clock_invalid: ts ${r.ts} is before 2000 or ahead of the cloud clock`;
  else if (!isKnownUnit(r.unitId))
    holdReason = `${UNKNOWN_UNIT_REASON_PREFIX}: unit ${r.unitId} is not registered; released when it is`;
  return {
    reading: r,
    content: readingContent(r),
    holdReason,
    flaggedConflict: flags.includes('conflict'),
    body: text ?? JSON.stringify(r),
  };
}
