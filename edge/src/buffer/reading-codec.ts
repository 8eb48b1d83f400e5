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

/**
 * An `outbox` row as its statements read it (raw mode: an array, which better-sqlite3 builds
 * about twice as fast as an object with named keys): the columns of `OUTBOX_COLUMNS`, then the id.
 */
export type OutboxRow = [...EncodedReading, id: number];

/** What the statements that read `OutboxRow`s select. */
export const OUTBOX_ROW_COLUMNS = `${OUTBOX_COLUMNS}, id`;

const SOURCES = ['telemetry', 'aemp'] as const;
/** Flag lists as codes; any other list is kept in `body`. */
const FLAG_LISTS: ReadonlyArray<readonly string[]> = [
  [],
  ['clock_invalid'],
  ['conflict'],
  ['clock_invalid', 'conflict'],
  ['conflict', 'clock_invalid'],
];
/** `readingText`'s pieces for the source and flags codes. */
const SOURCE_TEXTS = SOURCES.map((s) => `,"source":${JSON.stringify(s)}`);
const FLAG_TEXTS = FLAG_LISTS.map((l) => `,"flags":${JSON.stringify(l)}`);

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

/** Numbers `packReading` writes per reading: the columns of `EncodedReading` from `ts` to `flags`. */
export const PACKED_WIDTH = 14;

/**
 * Writes the columns of `r` from `ts` to `flags` (`EncodedReading[1..14]`) to
 * `out[at..at + 13]`, null as NaN (no column holds NaN: the fields admitted are finite), when
 * the columns reproduce `r` exactly; returns false, and writes nothing, when `r` must be kept
 * as its JSON text.
 */
export function packReading(r: ForwardedReading, out: Float64Array, at: number): boolean {
  const tsMs = instantMs(r.ts);
  const rxMs = instantMs(r.receivedAt);
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
  if (!exact) return false;
  out[at] = tsMs;
  out[at + 1] = rxMs - tsMs;
  out[at + 2] = r.flags?.includes('clock_invalid') ? 1 : 0;
  out[at + 3] = r.seq ?? Number.NaN;
  out[at + 4] = r.engineHours;
  out[at + 5] = r.idleHours ?? Number.NaN;
  out[at + 6] = r.engineOn === undefined ? Number.NaN : r.engineOn ? 1 : 0;
  out[at + 7] = p ? (p.lat as number) : Number.NaN;
  out[at + 8] = p ? (p.lon as number) : Number.NaN;
  out[at + 9] = r.speedKmh ?? Number.NaN;
  out[at + 10] = r.fuelUsedL ?? Number.NaN;
  out[at + 11] = r.odometerKm ?? Number.NaN;
  out[at + 12] = src ?? Number.NaN;
  out[at + 13] = flags ?? Number.NaN;
  return true;
}

const orNull = (x: number): number | null => (Number.isNaN(x) ? null : x);

/** The outbox columns of a reading `packReading` wrote at `at`. */
export function unpackReading(cols: Float64Array, at: number, unitRef: number): EncodedReading {
  return [
    unitRef,
    cols[at]!,
    cols[at + 1]!,
    cols[at + 2] as 0 | 1,
    orNull(cols[at + 3]!),
    cols[at + 4]!,
    orNull(cols[at + 5]!),
    orNull(cols[at + 6]!) as 0 | 1 | null,
    orNull(cols[at + 7]!),
    orNull(cols[at + 8]!),
    orNull(cols[at + 9]!),
    orNull(cols[at + 10]!),
    orNull(cols[at + 11]!),
    orNull(cols[at + 12]!),
    orNull(cols[at + 13]!),
    null,
  ];
}

const scratch = new Float64Array(PACKED_WIDTH);

/**
 * The outbox columns of `r` (`unitRef` from the `units` table). Identity columns (unit,
 * ts, receive time, held) are always set; the fields are either columns or `body`.
 */
export function encodeReading(r: ForwardedReading, unitRef: number): EncodedReading {
  if (packReading(r, scratch, 0)) return unpackReading(scratch, 0, unitRef);
  // Identity columns must exist even for a reading kept as text: ts/receivedAt as parsed.
  const tsMs = instantMs(r.ts);
  const rxMs = instantMs(r.receivedAt);
  const ts = Number.isNaN(tsMs) ? Date.parse(r.ts) : tsMs;
  const rx = (Number.isNaN(rxMs) ? Date.parse(r.receivedAt) : rxMs) - ts;
  return [
    unitRef,
    ts,
    Number.isNaN(rx) ? 0 : rx,
    r.flags?.includes('clock_invalid') ? 1 : 0,
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
}

function positionExact(p: { lat: unknown; lon: unknown }): boolean {
  if (typeof p !== 'object' || p === null || !num(p.lat) || !num(p.lon)) return false;
  let n = 0;
  let first = '';
  for (const k in p) if (n++ === 0) first = k;
  return n === 2 && first === 'lat';
}

/** The forwarded reading an outbox row holds, keys in `FORWARDED_READING_KEYS`. */
export function decodeReading(row: EncodedReading | OutboxRow, unitId: string): ForwardedReading {
  const body = row[15];
  if (body !== null) return JSON.parse(body) as ForwardedReading;
  // The indices are EncodedReading's: 1 ts, 2 rx, 4 seq, 5 engine hours, 6 idle hours,
  // 7 engine on, 8 lat, 9 lon, 10 speed, 11 fuel, 12 odometer, 13 source, 14 flags.
  const r = { v: 1, unitId } as ForwardedReading;
  if (row[4] !== null) r.seq = row[4];
  r.ts = new Date(row[1]).toISOString();
  r.engineHours = row[5] as number;
  if (row[6] !== null) r.idleHours = row[6];
  if (row[7] !== null) r.engineOn = row[7] === 1;
  if (row[8] !== null) r.position = { lat: row[8], lon: row[9] as number };
  if (row[10] !== null) r.speedKmh = row[10];
  if (row[11] !== null) r.fuelUsedL = row[11];
  if (row[12] !== null) r.odometerKm = row[12];
  r.receivedAt = new Date(row[1] + row[2]).toISOString();
  if (row[13] !== null) r.source = SOURCES[row[13]];
  if (row[14] !== null) r.flags = [...FLAG_LISTS[row[14]]!] as ForwardedReading['flags'];
  return r;
}

/** The start of a reading's JSON text for `unitId`, which `readingText` continues. */
export function readingHead(unitId: string): string {
  return `{"v":1,"unitId":${JSON.stringify(unitId)}`;
}

/** A number as `JSON.stringify` writes it (the columns hold finite numbers only; null else). */
const jsonNumber = (x: number): string => (Number.isFinite(x) ? `${x}` : 'null');

const DAY_MS = 86_400_000;
/** `toISOString` is exact but slow; instants of one day share their first 11 characters. */
let isoDayMs = Number.NaN;
let isoDayText = '';
const pad2 = (n: number): string => (n < 10 ? `0${n}` : `${n}`);
const pad3 = (n: number): string => (n < 10 ? `00${n}` : n < 100 ? `0${n}` : `${n}`);

/** `new Date(ms).toISOString()`, written from the cached day for 1970-01-01 to 9999-12-31. */
export function isoInstant(ms: number): string {
  if (!(ms >= 0 && ms < 253_402_300_800_000) || !Number.isInteger(ms)) return new Date(ms).toISOString();
  const t = ms % DAY_MS;
  const day = ms - t;
  if (day !== isoDayMs) {
    isoDayMs = day;
    isoDayText = new Date(day).toISOString().slice(0, 11);
  }
  const s = Math.floor(t / 1000);
  return `${isoDayText}${pad2(Math.floor(s / 3600))}:${pad2(Math.floor(s / 60) % 60)}:${pad2(s % 60)}.${pad3(t % 1000)}Z`;
}

/**
 * `JSON.stringify(decodeReading(row, unitId))`, byte for byte, written from the columns
 * (`head` is `readingHead(unitId)`): about a fifth of the CPU of building the object and
 * stringifying it, and no garbage but the string. A row kept as text gives that text in
 * the same normal form `JSON.stringify` writes.
 */
export function readingText(row: EncodedReading | OutboxRow, head: string): string {
  const body = row[15];
  if (body !== null) return JSON.stringify(JSON.parse(body));
  let s = head;
  if (row[4] !== null) s += `,"seq":${jsonNumber(row[4])}`;
  s += `,"ts":"${isoInstant(row[1])}","engineHours":${jsonNumber(row[5] as number)}`;
  if (row[6] !== null) s += `,"idleHours":${jsonNumber(row[6])}`;
  if (row[7] !== null) s += row[7] === 1 ? ',"engineOn":true' : ',"engineOn":false';
  if (row[8] !== null) s += `,"position":{"lat":${jsonNumber(row[8])},"lon":${jsonNumber(row[9] as number)}}`;
  if (row[10] !== null) s += `,"speedKmh":${jsonNumber(row[10])}`;
  if (row[11] !== null) s += `,"fuelUsedL":${jsonNumber(row[11])}`;
  if (row[12] !== null) s += `,"odometerKm":${jsonNumber(row[12])}`;
  s += `,"receivedAt":"${isoInstant(row[1] + row[2])}"`;
  if (row[13] !== null) s += SOURCE_TEXTS[row[13]] ?? '';
  if (row[14] !== null) s += FLAG_TEXTS[row[14]] ?? '';
  return flat(`${s}}`);
}

/** Keeps `flat`'s conversions observable, so that no compiler drops them as unused. */
let flattened = 0;

/**
 * `s` laid out as one run of characters. V8 keeps a string built by `+` as a tree of its ~20
 * pieces until something reads it whole; a batch's texts would hold ~20 tree nodes each until
 * they are sent (more for the garbage collector to copy), and writing each into the body buffer
 * would flatten it then. Converting it to a number (it is not one) flattens it here, where it
 * is still young: 1.7 µs per reading built and written instead of 4.4.
 */
function flat(s: string): string {
  flattened = Number(s);
  return s;
}
