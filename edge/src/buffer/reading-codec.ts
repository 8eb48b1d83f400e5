/**
 * How a forwarded reading is kept in the `outbox` table (schema v4): one typed column per
 * field instead of its JSON text, so a buffered reading costs ~100 bytes on disk instead of
 * ~400 (the unit id is a small integer into `units`, `ts` and the receive time are integers).
 *
 * Promise: `decodeReading(encodeReading(r))` gives back a reading whose JSON text is
 * byte-for-byte `JSON.stringify(r)`: same keys in the same order, same numbers (a JS number
 * is an IEEE double and SQLite's REAL is one too; integer columns take only integers), so
 * the cloud's content hash cannot tell a buffered reading from the one the unit sent. A
 * reading the columns cannot reproduce exactly (keys in another order than the schema's, an
 * unknown field, a ts not in normal form, a flag list of another shape) is kept as its JSON
 * text in `body` instead: correct first, compact for the readings the decoders produce.
 * `reading-codec.test.ts` checks the round trip on random readings.
 */
import type { ForwardedReading } from '@ironledger/contracts';
import { normalInstantMs } from '@ironledger/contracts';
import { FORWARDED_READING_KEYS } from '@ironledger/contracts/wire';

/** The columns of an `outbox` row, in the order of `OUTBOX_COLUMNS`. */
export type EncodedReading = [
  unitRef: number,
  ts: number,
  rx: number,
  held: 0 | 1,
  seq: number | null,
  engineHours: number | null,
  idleHours: number | null,
  engineOn: 0 | 1 | null,
  lat: number | null,
  lon: number | null,
  speedKmh: number | null,
  fuelUsedL: number | null,
  odometerKm: number | null,
  source: number | null,
  flags: number | null,
  body: string | null,
];

export const OUTBOX_COLUMNS =
  'unit_ref, ts, rx, held, seq, engine_hours, idle_hours, engine_on, lat, lon, speed_kmh, fuel_used_l, odometer_km, source, flags, body';

export interface OutboxRow {
  id: number;
  unit_ref: number;
  ts: number;
  rx: number;
  held: number;
  seq: number | null;
  engine_hours: number | null;
  idle_hours: number | null;
  engine_on: number | null;
  lat: number | null;
  lon: number | null;
  speed_kmh: number | null;
  fuel_used_l: number | null;
  odometer_km: number | null;
  source: number | null;
  flags: number | null;
  body: string | null;
}

const SOURCES = ['telemetry', 'aemp'] as const;
/** Flag lists as codes; any other list is kept in `body`. */
const FLAG_LISTS: ReadonlyArray<readonly string[]> = [
  [],
  ['clock_invalid'],
  ['conflict'],
  ['clock_invalid', 'conflict'],
  ['conflict', 'clock_invalid'],
];

const num = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/**
 * An ISO instant in normal form (what `Date.prototype.toISOString` writes) as epoch ms, or
 * NaN when it is not exactly that form: the common shape read field by field
 * (`normalInstantMs`), any other (a year beyond 9999) through the round trip by `Date`.
 */
export function instantMs(iso: unknown): number {
  if (typeof iso !== 'string') return Number.NaN;
  const normal = normalInstantMs(iso);
  if (!Number.isNaN(normal) || iso.length === 24) return normal;
  const ms = Date.parse(iso);
  if (Number.isNaN(ms) || !iso.endsWith('Z') || new Date(ms).toISOString() !== iso) return Number.NaN;
  return ms;
}

function flagsCode(flags: unknown): number | null | undefined {
  if (flags === undefined) return null;
  if (!Array.isArray(flags)) return undefined;
  for (let i = 0; i < FLAG_LISTS.length; i++) {
    const l = FLAG_LISTS[i]!;
    if (l.length === flags.length && l.every((f, k) => flags[k] === f)) return i;
  }
  return undefined;
}

/** True when the reading's own keys are known and in `FORWARDED_READING_KEYS`. */
function inKeyOrder(r: object): boolean {
  let next = 0;
  for (const key in r) {
    while (next < FORWARDED_READING_KEYS.length && FORWARDED_READING_KEYS[next] !== key) next++;
    if (next++ >= FORWARDED_READING_KEYS.length) return false;
  }
  return true;
}

/**
 * The outbox columns of `r` (`unitRef` from the `units` table). Identity columns (unit,
 * ts, receive time, held) are always set; the fields are either columns or `body`.
 */
export function encodeReading(r: ForwardedReading, unitRef: number): EncodedReading {
  const tsMs = instantMs(r.ts);
  const rxMs = instantMs(r.receivedAt);
  const held = r.flags?.includes('clock_invalid') ? 1 : 0;
  const src = r.source === undefined ? null : SOURCES.indexOf(r.source);
  const flags = flagsCode(r.flags);
  const p = r.position as { lat: unknown; lon: unknown } | undefined;
  const exact =
    r.v === 1 &&
    typeof r.unitId === 'string' &&
    !Number.isNaN(tsMs) &&
    !Number.isNaN(rxMs) &&
    num(r.engineHours) &&
    (r.seq === undefined || Number.isSafeInteger(r.seq)) &&
    (r.idleHours === undefined || num(r.idleHours)) &&
    (r.engineOn === undefined || typeof r.engineOn === 'boolean') &&
    (p === undefined || positionExact(p)) &&
    (r.speedKmh === undefined || num(r.speedKmh)) &&
    (r.fuelUsedL === undefined || num(r.fuelUsedL)) &&
    (r.odometerKm === undefined || num(r.odometerKm)) &&
    src !== -1 &&
    flags !== undefined &&
    inKeyOrder(r);
  // Identity columns must exist even for a reading kept as text: ts/receivedAt as parsed.
  const ts = Number.isNaN(tsMs) ? Date.parse(r.ts) : tsMs;
  const rx = (Number.isNaN(rxMs) ? Date.parse(r.receivedAt) : rxMs) - ts;
  if (!exact)
    return [
      unitRef,
      ts,
      Number.isNaN(rx) ? 0 : rx,
      held,
      null,
      null,
      null,
      null,
      null,
      null,
      null,
      null,
      null,
      null,
      null,
      JSON.stringify(r),
    ];
  return [
    unitRef,
    ts,
    rx,
    held,
    r.seq ?? null,
    r.engineHours,
    r.idleHours ?? null,
    r.engineOn === undefined ? null : r.engineOn ? 1 : 0,
    p ? (p.lat as number) : null,
    p ? (p.lon as number) : null,
    r.speedKmh ?? null,
    r.fuelUsedL ?? null,
    r.odometerKm ?? null,
    src,
    flags,
    null,
  ];
}

function positionExact(p: { lat: unknown; lon: unknown }): boolean {
  if (typeof p !== 'object' || p === null || !num(p.lat) || !num(p.lon)) return false;
  let n = 0;
  let first = '';
  for (const k in p) if (n++ === 0) first = k;
  return n === 2 && first === 'lat';
}

/** The forwarded reading an outbox row holds, keys in `FORWARDED_READING_KEYS`. */
export function decodeReading(row: OutboxRow, unitId: string): ForwardedReading {
  if (row.body !== null) return JSON.parse(row.body) as ForwardedReading;
  const r = { v: 1, unitId } as ForwardedReading;
  if (row.seq !== null) r.seq = row.seq;
  r.ts = new Date(row.ts).toISOString();
  r.engineHours = row.engine_hours as number;
  if (row.idle_hours !== null) r.idleHours = row.idle_hours;
  if (row.engine_on !== null) r.engineOn = row.engine_on === 1;
  if (row.lat !== null) r.position = { lat: row.lat, lon: row.lon as number };
  if (row.speed_kmh !== null) r.speedKmh = row.speed_kmh;
  if (row.fuel_used_l !== null) r.fuelUsedL = row.fuel_used_l;
  if (row.odometer_km !== null) r.odometerKm = row.odometer_km;
  r.receivedAt = new Date(row.ts + row.rx).toISOString();
  if (row.source !== null) r.source = SOURCES[row.source];
  if (row.flags !== null) r.flags = [...FLAG_LISTS[row.flags]!] as ForwardedReading['flags'];
  return r;
}
