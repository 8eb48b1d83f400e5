/**
 * Fast path for the canonical reading (Contract 1), the one every live message takes.
 *
 * `ReadingSchema` (zod, `@ironledger/contracts`) stays the contract: this function accepts
 * only payloads it can prove the schema accepts, and returns exactly what the schema would
 * return (same fields, in the schema's order, `ts` already in its normal form). Anything
 * else — a missing or extra field, a null, a `ts` not already normalised, a unit id that is
 * not the topic's — yields `undefined`, and the caller asks the schema, so quarantine
 * reasons keep the schema's wording. `canonical-fast.test.ts` checks the two agree on
 * random valid and invalid payloads.
 */
import { normalInstantMs, READING_KEYS, type Reading } from '@ironledger/contracts';

const isMeter = (x: unknown): x is number => typeof x === 'number' && x >= 0 && x !== Infinity;

/**
 * The reading `ReadingSchema.parse(value)` would give, when `value` is a plain canonical
 * reading whose unitId is `topicUnitId`; otherwise `undefined` (ask the schema).
 */
export function fastReading(value: unknown, topicUnitId: string): Reading | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const o = value as Record<string, unknown>;
  // Required fields. unitId equal to the topic's also proves its pattern: the topic parser
  // admits only ids matching UNIT_ID_PATTERN.
  if (o.v !== 1 || o.unitId !== topicUnitId) return undefined;
  const ts = o.ts;
  // Normal form, and a real instant (not 2026-02-30).
  if (typeof ts !== 'string' || Number.isNaN(normalInstantMs(ts))) return undefined;
  const engineHours = o.engineHours;
  if (!isMeter(engineHours)) return undefined;
  let fields = 4;

  // Optional fields, in the schema's order so the output's key order is the schema's.
  const seq = o.seq;
  if (seq !== undefined) {
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return undefined;
    fields++;
  }
  const idleHours = o.idleHours;
  if (idleHours !== undefined) {
    if (!isMeter(idleHours)) return undefined;
    fields++;
  }
  const engineOn = o.engineOn;
  if (engineOn !== undefined) {
    if (typeof engineOn !== 'boolean') return undefined;
    fields++;
  }
  const position = o.position;
  let pos: { lat: number; lon: number } | undefined;
  if (position !== undefined) {
    pos = fastPosition(position);
    if (!pos) return undefined;
    fields++;
  }
  const speedKmh = o.speedKmh;
  if (speedKmh !== undefined) {
    if (!isMeter(speedKmh)) return undefined;
    fields++;
  }
  const fuelUsedL = o.fuelUsedL;
  if (fuelUsedL !== undefined) {
    if (!isMeter(fuelUsedL)) return undefined;
    fields++;
  }
  const odometerKm = o.odometerKm;
  if (odometerKm !== undefined) {
    if (!isMeter(odometerKm)) return undefined;
    fields++;
  }
  // Any field the schema does not know: let the schema decide what to do with it.
  let present = 0;
  let next = 0;
  let inOrder = true;
  for (const key in o) {
    present++;
    if (inOrder) {
      while (next < READING_KEYS.length && READING_KEYS[next] !== key) next++;
      inOrder = next++ < READING_KEYS.length;
    }
  }
  if (present !== fields) return undefined;
  // A unit that writes the fields in the schema's order (as the firmware does) sent exactly
  // the schema's output: keep the parsed object rather than copy it.
  if (inOrder && pos === position) return o as unknown as Reading;

  // Otherwise built in one pass, in the schema's key order (the stored body is JSON of this object).
  const r = { v: 1, unitId: topicUnitId } as Reading;
  if (seq !== undefined) r.seq = seq as number;
  r.ts = ts;
  r.engineHours = engineHours;
  if (idleHours !== undefined) r.idleHours = idleHours;
  if (engineOn !== undefined) r.engineOn = engineOn;
  if (pos !== undefined) r.position = pos;
  if (speedKmh !== undefined) r.speedKmh = speedKmh;
  if (fuelUsedL !== undefined) r.fuelUsedL = fuelUsedL;
  if (odometerKm !== undefined) r.odometerKm = odometerKm;
  return r;
}

function fastPosition(p: unknown): { lat: number; lon: number } | undefined {
  if (typeof p !== 'object' || p === null || Array.isArray(p)) return undefined;
  const o = p as Record<string, unknown>;
  const { lat, lon } = o;
  if (typeof lat !== 'number' || !(lat >= -90 && lat <= 90)) return undefined;
  if (typeof lon !== 'number' || !(lon >= -180 && lon <= 180)) return undefined;
  let present = 0;
  let first = '';
  for (const key in o) if (present++ === 0) first = key;
  if (present !== 2) return undefined;
  return first === 'lat' ? (o as { lat: number; lon: number }) : { lat, lon };
}
