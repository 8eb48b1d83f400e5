/**
 * Contract 3: ISO 15143-3 (AEMP 2.0) feed documents both ways, as pure functions.
 *
 *   parseAempDocument(text, dialect)  XML or JSON fleet snapshot / time-series page → AempDocument
 *   equipmentReadings(eq, dialect)    one Equipment's elements → canonical readings (without unitId)
 *   renderAempDocument(doc, format)   AempDocument → XML or JSON (what the cloud and simulator serve)
 *
 * One document shape carries both: a fleet snapshot page is `Fleet` with one `Equipment` per
 * machine and each element once; a time-series page is `Fleet` with one `Equipment` whose
 * element repeats once per instant. The XML structure the tests pin:
 *
 *   <Fleet xmlns="http://standards.iso.org/iso/15143/-3" version="2" snapshotTime="…">
 *     <Links><rel>self|next|prev|last</rel><href>…</href></Links>*
 *     <Equipment>*
 *       <EquipmentHeader><OEMName/><Model/><EquipmentID/><SerialNumber/><PIN/></EquipmentHeader>
 *       <Location datetime="…"><Latitude/><Longitude/></Location>*
 *       <CumulativeOperatingHours datetime="…"><Hour/></CumulativeOperatingHours>*
 *       <CumulativeIdleHours datetime="…"><Hour/></CumulativeIdleHours>*
 *       <FuelUsed datetime="…"><FuelUnits>litre</FuelUnits><FuelConsumed/></FuelUsed>*
 *       <Distance datetime="…"><OdometerUnits>kilometre</OdometerUnits><Odometer/></Distance>*
 *       <EngineStatus datetime="…"><Running>true|false</Running></EngineStatus>*
 *     </Equipment>
 *   </Fleet>
 *
 * JSON is the same tree: `{"Fleet": {"version", "snapshotTime", "Links": [{rel, href}],
 * "Equipment": [{"EquipmentHeader": {…}, "CumulativeOperatingHours": {"datetime", "Hour"} | […]}]}}`.
 *
 * Dialects (what real feeds do differently) are hints, not forks of the parser: anything that
 * can be recognised from the document is (XML or JSON, `datetime` or `dateTime`, a namespace
 * prefix, an index page without equipment); what cannot be recognised is said by the feed's
 * dialect (pages numbered from 0, idle hours in minutes, which namespace the maker uses).
 * A `0001-01-01T00:00:00Z` date is a maker's "no value" placeholder: the element is refused
 * with that reason, never used as a reading at year 1.
 *
 * Limits (a feed is outside our control): documents larger than `AEMP_MAX_DOCUMENT_BYTES`,
 * with a DOCTYPE (entity expansion), more than `AEMP_MAX_EQUIPMENT` machines or more than
 * `AEMP_MAX_POINTS` instants per element are refused as a whole.
 */
import { XMLBuilder, XMLParser } from 'fast-xml-parser';
import { z } from 'zod';
import type { Reading } from './reading.js';

export const AEMP_NAMESPACE = 'http://standards.iso.org/iso/15143/-3';
/** The namespace some makers kept from the AEMP 2.0 draft. */
export const AEMP_DRAFT_NAMESPACE = 'http://www.aem.org/aemp/telematics/2.0';

/** The elements IronLedger maps (and serves): each one a canonical reading field. */
export const AEMP_ELEMENTS = [
  'CumulativeOperatingHours',
  'CumulativeIdleHours',
  'Location',
  'FuelUsed',
  'Distance',
  'EngineStatus',
] as const;
export type AempElement = (typeof AEMP_ELEMENTS)[number];

export const AEMP_MAX_DOCUMENT_BYTES = 16 * 1024 * 1024; // 16 MiB: 100 machines a page is ~100 KiB
export const AEMP_MAX_EQUIPMENT = 10_000;
export const AEMP_MAX_POINTS = 100_000;
const MAX_TEXT = 256; // characters of a header field or a value

/** The "no value" date some makers send instead of leaving an element out. */
export const AEMP_PLACEHOLDER_DATETIME = '0001-01-01T00:00:00Z';

// ---- dialects ---------------------------------------------------------------------------

export const AempDialectSchema = z
  .object({
    /** Number of the first page of the fleet snapshot (ISO: 1; some makers: 0). */
    firstPage: z.union([z.literal(0), z.literal(1)]).default(1),
    /** Page 0 is an index (links, counts) rather than machines; data starts on its `next`. */
    indexPage: z.boolean().default(false),
    /** `CumulativeIdleHours/Hour` is reported in minutes (one maker does). */
    idleUnit: z.enum(['hours', 'minutes']).default('hours'),
    /** The XML namespace the maker uses; a document in any other is refused. */
    namespace: z.string().min(1).default(AEMP_NAMESPACE),
    /** Spelling of the timestamp attribute when rendering (parsing accepts both). */
    datetimeAttribute: z.enum(['datetime', 'dateTime']).default('datetime'),
    /** Representation requested and rendered. */
    format: z.enum(['xml', 'json']).default('xml'),
    /** Elements of one instant may carry datetimes this far apart and still be one reading. */
    joinToleranceMs: z.number().int().nonnegative().max(3_600_000).default(60_000), // 1 min
    /** Rendering only: machines without an odometer send Distance with the placeholder date. */
    placeholderDates: z.boolean().default(false),
  })
  .strict();
export type AempDialect = z.infer<typeof AempDialectSchema>;
export type AempDialectInput = z.input<typeof AempDialectSchema>;

/** Named dialects: one per quirk seen in makers' feeds, and the standard itself. */
export const AEMP_DIALECTS = {
  iso: {},
  json: { format: 'json' },
  'zero-paged': { firstPage: 0 },
  'index-page': { firstPage: 0, indexPage: true },
  'idle-minutes': { idleUnit: 'minutes' },
  'draft-namespace': { namespace: AEMP_DRAFT_NAMESPACE },
  'datetime-camel': { datetimeAttribute: 'dateTime' },
  placeholder: { placeholderDates: true },
} as const satisfies Record<string, AempDialectInput>;
export type AempDialectName = keyof typeof AEMP_DIALECTS;
export const AEMP_DIALECT_NAMES = Object.keys(AEMP_DIALECTS) as AempDialectName[];

/** A named dialect, optionally with overrides, as a full dialect. */
export function aempDialect(name: AempDialectName = 'iso', overrides: AempDialectInput = {}): AempDialect {
  return AempDialectSchema.parse({ ...AEMP_DIALECTS[name], ...overrides });
}

// ---- the document model -------------------------------------------------------------------

export interface AempHeader {
  OEMName?: string;
  Model?: string;
  EquipmentID?: string;
  SerialNumber?: string;
  PIN?: string;
}

/** One element value at one instant, as the feed reported it (units not yet converted). */
export type AempPoint =
  | { element: 'CumulativeOperatingHours'; datetime: string; hour: number }
  | { element: 'CumulativeIdleHours'; datetime: string; hour: number }
  | { element: 'Location'; datetime: string; latitude: number; longitude: number }
  | { element: 'FuelUsed'; datetime: string; units: 'litre' | 'gallon'; consumed: number }
  | { element: 'Distance'; datetime: string; units: 'kilometre' | 'mile'; odometer: number }
  | { element: 'EngineStatus'; datetime: string; running: boolean };

export interface AempEquipment {
  header: AempHeader;
  /** Points per element, in document order. */
  points: { [E in AempElement]?: Array<Extract<AempPoint, { element: E }>> };
}

export interface AempRefusal {
  /** The machine's EquipmentID, SerialNumber or PIN, whichever it has. */
  equipment: string;
  element: AempElement | 'EquipmentHeader' | 'Equipment';
  reason: string;
}

export interface AempDocument {
  /** `index`: a maker's metadata page that lists no machines (follow `links.next`). */
  kind: 'fleet' | 'index';
  version: string | null;
  snapshotTime: string | null;
  links: Partial<Record<'self' | 'next' | 'prev' | 'last' | 'first', string>>;
  equipment: AempEquipment[];
  /** Elements refused while parsing (placeholders, impossible values), each with its reason. */
  refused: AempRefusal[];
}

export class AempDocumentError extends Error {
  override readonly name = 'AempDocumentError';
  readonly code = 'AEMP_DOCUMENT_INVALID';
}

// ---- parsing ------------------------------------------------------------------------------

const REPEATED = new Set<string>(['Links', 'Equipment', ...AEMP_ELEMENTS]);

const xmlParser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  processEntities: true,
  isArray: (name, jpath) => REPEATED.has(name) && String(jpath).split('.').length > 1,
});

/** Parses an AEMP 2.0 document (XML or JSON, recognised by its first character). */
export function parseAempDocument(text: string, dialect: AempDialect = aempDialect()): AempDocument {
  if (Buffer.byteLength(text, 'utf8') > AEMP_MAX_DOCUMENT_BYTES)
    throw new AempDocumentError(`document larger than ${AEMP_MAX_DOCUMENT_BYTES} bytes`);
  const body = text.replace(/^\uFEFF/, '').trimStart();
  let root: Record<string, unknown>;
  if (body.startsWith('{')) {
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch (e) {
      throw new AempDocumentError(`not valid JSON: ${(e as Error).message}`);
    }
    if (!isRecord(json)) throw new AempDocumentError('JSON document is not an object');
    root = isRecord(json.Fleet) ? json.Fleet : json;
  } else if (body.startsWith('<')) {
    if (/<!DOCTYPE/i.test(body.slice(0, 4096)))
      throw new AempDocumentError('XML with a DOCTYPE is refused (AEMP documents have none)');
    const ns = rootNamespace(body);
    if (ns !== dialect.namespace)
      throw new AempDocumentError(
        `namespace ${ns ?? '(none)'} is not the feed's ${dialect.namespace} (set the feed's dialect namespace)`,
      );
    let parsed: Record<string, unknown>;
    try {
      parsed = xmlParser.parse(body, true) as Record<string, unknown>;
    } catch (e) {
      throw new AempDocumentError(`not well-formed XML: ${(e as Error).message}`);
    }
    const name = Object.keys(parsed).find((k) => !k.startsWith('?'));
    const top = name ? parsed[name] : undefined;
    if (!isRecord(top)) throw new AempDocumentError('XML document has no root element');
    root = top;
  } else {
    throw new AempDocumentError('neither XML nor JSON');
  }
  return documentFrom(root, dialect);
}

/** The namespace of the XML root element (default or its prefix's). */
function rootNamespace(xml: string): string | null {
  const m = /<(?!\?|!)([A-Za-z_][\w.-]*:)?[A-Za-z_][\w.-]*((?:\s+[^>]*?)?)\/?>/.exec(xml);
  if (!m) return null;
  const prefix = m[1] ? m[1].slice(0, -1) : null;
  const attrs = m[2] ?? '';
  const re = prefix ? new RegExp(`xmlns:${prefix}\\s*=\\s*(["'])(.*?)\\1`) : /xmlns\s*=\s*(["'])(.*?)\1/;
  return re.exec(attrs)?.[2] ?? null;
}

function documentFrom(root: Record<string, unknown>, dialect: AempDialect): AempDocument {
  const refused: AempRefusal[] = [];
  const links: AempDocument['links'] = {};
  for (const l of asArray(root.Links)) {
    if (!isRecord(l)) continue;
    const rel = text(l.rel);
    const href = text(l.href);
    if (rel && href && ['self', 'next', 'prev', 'last', 'first'].includes(rel))
      links[rel as keyof AempDocument['links']] = href;
  }
  const rawEquipment = asArray(root.Equipment);
  if (rawEquipment.length > AEMP_MAX_EQUIPMENT)
    throw new AempDocumentError(`more than ${AEMP_MAX_EQUIPMENT} Equipment in one document`);
  const equipment: AempEquipment[] = [];
  for (const raw of rawEquipment) {
    if (!isRecord(raw)) continue;
    const header = headerFrom(raw.EquipmentHeader);
    const who = header.EquipmentID ?? header.SerialNumber ?? header.PIN ?? '(unidentified)';
    const points: AempEquipment['points'] = {};
    for (const element of AEMP_ELEMENTS) {
      const values = asArray(raw[element]);
      if (values.length > AEMP_MAX_POINTS)
        throw new AempDocumentError(`more than ${AEMP_MAX_POINTS} ${element} values for ${who}`);
      const list: AempPoint[] = [];
      for (const v of values) {
        const p = pointFrom(element, v);
        if ('reason' in p) refused.push({ equipment: who, element, reason: p.reason });
        else list.push(p);
      }
      if (list.length > 0) (points as Record<string, AempPoint[]>)[element] = list;
    }
    equipment.push({ header, points });
  }
  const snapshotTime = text(root['@snapshotTime'] ?? root.snapshotTime ?? root.SnapshotTime);
  const version = text(root['@version'] ?? root.version ?? root.Version);
  const isIndex = rawEquipment.length === 0 && dialect.indexPage && links.next !== undefined;
  return {
    kind: isIndex ? 'index' : 'fleet',
    version,
    snapshotTime: snapshotTime && isInstant(snapshotTime) ? new Date(snapshotTime).toISOString() : null,
    links,
    equipment,
    refused,
  };
}

function headerFrom(raw: unknown): AempHeader {
  const h: AempHeader = {};
  if (!isRecord(raw)) return h;
  for (const k of ['OEMName', 'Model', 'EquipmentID', 'SerialNumber', 'PIN'] as const) {
    const v = text(raw[k]);
    if (v) h[k] = v.slice(0, MAX_TEXT);
  }
  return h;
}

type Parsed = AempPoint | { reason: string };

function pointFrom(element: AempElement, raw: unknown): Parsed {
  if (!isRecord(raw)) return { reason: 'not an element with a datetime' };
  const dt = text(raw['@datetime'] ?? raw['@dateTime'] ?? raw.datetime ?? raw.dateTime);
  if (!dt) return { reason: 'no datetime attribute' };
  if (isPlaceholder(dt)) return { reason: `placeholder datetime ${dt}: the maker has no value` };
  if (!isInstant(dt))
    return { reason: `datetime "${dt.slice(0, 40)}" is not an ISO 8601 instant with a zone` };
  const datetime = new Date(dt).toISOString();
  const n = (k: string) => num(raw[k]);
  switch (element) {
    case 'CumulativeOperatingHours':
    case 'CumulativeIdleHours': {
      const hour = n('Hour');
      if (hour === null || hour < 0) return { reason: 'Hour is not a number >= 0' };
      return { element, datetime, hour };
    }
    case 'Location': {
      const latitude = n('Latitude');
      const longitude = n('Longitude');
      if (latitude === null || latitude < -90 || latitude > 90) return { reason: 'Latitude out of range' };
      if (longitude === null || longitude < -180 || longitude > 180)
        return { reason: 'Longitude out of range' };
      return { element, datetime, latitude, longitude };
    }
    case 'FuelUsed': {
      const units = fuelUnits(text(raw.FuelUnits));
      const consumed = n('FuelConsumed');
      if (!units) return { reason: `FuelUnits "${text(raw.FuelUnits)}" is not litre or gallon` };
      if (consumed === null || consumed < 0) return { reason: 'FuelConsumed is not a number >= 0' };
      return { element, datetime, units, consumed };
    }
    case 'Distance': {
      const units = distanceUnits(text(raw.OdometerUnits));
      const odometer = n('Odometer');
      if (!units) return { reason: `OdometerUnits "${text(raw.OdometerUnits)}" is not kilometre or mile` };
      if (odometer === null || odometer < 0) return { reason: 'Odometer is not a number >= 0' };
      return { element, datetime, units, odometer };
    }
    case 'EngineStatus': {
      const r = raw.Running;
      const running =
        r === true || r === 'true' || r === '1'
          ? true
          : r === false || r === 'false' || r === '0'
            ? false
            : null;
      if (running === null) return { reason: 'Running is not true or false' };
      return { element, datetime, running };
    }
  }
}

function fuelUnits(u: string | null): 'litre' | 'gallon' | null {
  const s = (u ?? '').toLowerCase();
  if (['litre', 'liter', 'litres', 'liters', 'l'].includes(s)) return 'litre';
  if (['gallon', 'gallons', 'gal', 'usgallon'].includes(s)) return 'gallon';
  return null;
}

function distanceUnits(u: string | null): 'kilometre' | 'mile' | null {
  const s = (u ?? '').toLowerCase();
  if (['kilometre', 'kilometer', 'kilometres', 'kilometers', 'km'].includes(s)) return 'kilometre';
  if (['mile', 'miles', 'mi'].includes(s)) return 'mile';
  return null;
}

export function isPlaceholder(dt: string): boolean {
  return /^0001-01-01(T00:00:00(\.0+)?(Z|[+-]00:?00)?)?$/.test(dt.trim());
}

const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;
function isInstant(s: string): boolean {
  return INSTANT.test(s) && !Number.isNaN(Date.parse(s));
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
function asArray(x: unknown): unknown[] {
  return x === undefined || x === null ? [] : Array.isArray(x) ? x : [x];
}
function text(x: unknown): string | null {
  if (typeof x === 'string') return x.trim() || null;
  if (typeof x === 'number' || typeof x === 'boolean') return String(x);
  if (isRecord(x) && typeof x['#text'] === 'string') return x['#text'].trim() || null;
  return null;
}
function num(x: unknown): number | null {
  const s = typeof x === 'number' ? x : typeof x === 'string' && x.trim() !== '' ? Number(x) : Number.NaN;
  return Number.isFinite(s) ? s : null;
}

// ---- mapping to canonical readings ------------------------------------------------------------

const LITRES_PER_US_GALLON = 3.785411784;
const KM_PER_MILE = 1.609344;
/**
 * Values in the canonical units pass through untouched; converted ones are rounded so that
 * the conversion's float noise never makes a second content for one identity: hours from
 * minutes to 1e-9 h, litres from gallons and kilometres from miles to 1e-3.
 */
const round9 = (x: number) => Math.round(x * 1e9) / 1e9;
const round6 = (x: number) => Math.round(x * 1e6) / 1e6;
const round3 = (x: number) => Math.round(x * 1e3) / 1e3;

/** A canonical reading still to be given its unit (matched by serial number / PIN). */
export type AempReading = Omit<Reading, 'unitId'>;

/**
 * One machine's elements → canonical readings, one per CumulativeOperatingHours instant (the
 * hour meter is what a reading is). Every other element joins the reading whose instant is
 * nearest within the dialect's tolerance; elements without such an instant are left out. Idle
 * minutes become hours, gallons litres, miles kilometres.
 */
export function equipmentReadings(
  eq: AempEquipment,
  dialect: AempDialect = aempDialect(),
): { readings: AempReading[]; refused: AempRefusal[] } {
  const who = eq.header.EquipmentID ?? eq.header.SerialNumber ?? eq.header.PIN ?? '(unidentified)';
  const refused: AempRefusal[] = [];
  const hours = eq.points.CumulativeOperatingHours ?? [];
  if (hours.length === 0) {
    refused.push({
      equipment: who,
      element: 'CumulativeOperatingHours',
      reason: 'no usable CumulativeOperatingHours: nothing to read',
    });
    return { readings: [], refused };
  }
  const tol = dialect.joinToleranceMs;
  const nearest = <P extends { datetime: string }>(list: P[] | undefined, ms: number): P | undefined => {
    let best: P | undefined;
    let bestD = Number.POSITIVE_INFINITY;
    for (const p of list ?? []) {
      const d = Math.abs(Date.parse(p.datetime) - ms);
      if (d <= tol && d < bestD) {
        best = p;
        bestD = d;
      }
    }
    return best;
  };
  const byTs = new Map<string, AempReading>();
  for (const h of hours) {
    const ms = Date.parse(h.datetime);
    const idle = nearest(eq.points.CumulativeIdleHours, ms);
    const loc = nearest(eq.points.Location, ms);
    const fuel = nearest(eq.points.FuelUsed, ms);
    const dist = nearest(eq.points.Distance, ms);
    const eng = nearest(eq.points.EngineStatus, ms);
    const r: AempReading = { v: 1, ts: h.datetime, engineHours: h.hour };
    if (idle) r.idleHours = dialect.idleUnit === 'minutes' ? round9(idle.hour / 60) : idle.hour;
    if (eng) r.engineOn = eng.running;
    if (loc) r.position = { lat: loc.latitude, lon: loc.longitude };
    if (fuel)
      r.fuelUsedL = round3(fuel.units === 'gallon' ? fuel.consumed * LITRES_PER_US_GALLON : fuel.consumed);
    if (dist) r.odometerKm = round3(dist.units === 'mile' ? dist.odometer * KM_PER_MILE : dist.odometer);
    const prev = byTs.get(r.ts);
    if (prev && JSON.stringify(prev) !== JSON.stringify(r))
      refused.push({
        equipment: who,
        element: 'CumulativeOperatingHours',
        reason: `two different hour meters at ${r.ts}; the first is kept`,
      });
    if (!prev) byTs.set(r.ts, r);
  }
  return { readings: [...byTs.values()].sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0)), refused };
}

/** The elements of a reading that a feed can say (speed and seq have no AEMP element). */
export function aempComparable(r: Reading | AempReading): AempReading {
  const out: AempReading = { v: 1, ts: r.ts, engineHours: r.engineHours };
  if (r.idleHours !== undefined) out.idleHours = r.idleHours;
  if (r.engineOn !== undefined) out.engineOn = r.engineOn;
  if (r.position !== undefined) out.position = { lat: r.position.lat, lon: r.position.lon };
  if (r.fuelUsedL !== undefined) out.fuelUsedL = r.fuelUsedL;
  if (r.odometerKm !== undefined) out.odometerKm = r.odometerKm;
  return out;
}

/** Keeps only the given elements of a reading (a feed polled for fewer elements than it has). */
export function restrictToElements(r: AempReading, elements: readonly AempElement[]): AempReading {
  const has = new Set(elements);
  const out: AempReading = { v: 1, ts: r.ts, engineHours: r.engineHours };
  if (has.has('CumulativeIdleHours') && r.idleHours !== undefined) out.idleHours = r.idleHours;
  if (has.has('EngineStatus') && r.engineOn !== undefined) out.engineOn = r.engineOn;
  if (has.has('Location') && r.position !== undefined) out.position = r.position;
  if (has.has('FuelUsed') && r.fuelUsedL !== undefined) out.fuelUsedL = r.fuelUsedL;
  if (has.has('Distance') && r.odometerKm !== undefined) out.odometerKm = r.odometerKm;
  return out;
}

// ---- rendering ------------------------------------------------------------------------------

/** What to render: machines with their readings (a snapshot: the latest one each). */
export interface AempRenderInput {
  snapshotTime: string;
  links: AempDocument['links'];
  equipment: Array<{
    header: AempHeader;
    readings: Array<Reading | AempReading>;
    /** Only these elements (a time-series page carries one); default all. */
    elements?: readonly AempElement[];
  }>;
}

/** Plain tree of one document; XML and JSON are two spellings of it. */
function tree(input: AempRenderInput, dialect: AempDialect): Record<string, unknown> {
  const dt = dialect.datetimeAttribute;
  const stamp = (at: string) => ({ [`@${dt}`]: at });
  const equipment = input.equipment.map((e) => {
    const want = new Set<string>(e.elements ?? AEMP_ELEMENTS);
    const out: Record<string, unknown> = { EquipmentHeader: orderedHeader(e.header) };
    const push = (k: AempElement, v: Record<string, unknown>) => {
      if (!want.has(k)) return;
      const list = (out[k] as unknown[] | undefined) ?? [];
      list.push(v);
      out[k] = list;
    };
    for (const r of e.readings) {
      const at = r.ts;
      if (r.position) push('Location', { ...stamp(at), Latitude: r.position.lat, Longitude: r.position.lon });
      push('CumulativeOperatingHours', { ...stamp(at), Hour: r.engineHours });
      if (r.idleHours !== undefined)
        push('CumulativeIdleHours', {
          ...stamp(at),
          Hour: dialect.idleUnit === 'minutes' ? round6(r.idleHours * 60) : r.idleHours,
        });
      if (r.fuelUsedL !== undefined)
        push('FuelUsed', { ...stamp(at), FuelUnits: 'litre', FuelConsumed: r.fuelUsedL });
      if (r.odometerKm !== undefined)
        push('Distance', { ...stamp(at), OdometerUnits: 'kilometre', Odometer: r.odometerKm });
      else if (dialect.placeholderDates)
        push('Distance', { ...stamp(AEMP_PLACEHOLDER_DATETIME), OdometerUnits: 'kilometre', Odometer: 0 });
      if (r.engineOn !== undefined) push('EngineStatus', { ...stamp(at), Running: r.engineOn });
    }
    return out;
  });
  const links = (['self', 'first', 'prev', 'next', 'last'] as const)
    .filter((rel) => input.links[rel] !== undefined)
    .map((rel) => ({ rel, href: input.links[rel] }));
  return { '@version': '2', '@snapshotTime': input.snapshotTime, Links: links, Equipment: equipment };
}

function orderedHeader(h: AempHeader): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of ['OEMName', 'Model', 'EquipmentID', 'SerialNumber', 'PIN'] as const)
    if (h[k] !== undefined) out[k] = h[k] as string;
  return out;
}

const xmlBuilder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  format: true,
  indentBy: '  ',
  suppressEmptyNode: true,
});

/** Renders a fleet snapshot or time-series page in the dialect's format. */
export function renderAempDocument(input: AempRenderInput, dialect: AempDialect = aempDialect()): string {
  const t = tree(input, dialect);
  if (dialect.format === 'json') return JSON.stringify({ Fleet: stripAt(t) });
  const xml = xmlBuilder.build({ Fleet: { '@xmlns': dialect.namespace, ...t } }) as string;
  return `<?xml version="1.0" encoding="UTF-8"?>\n${xml}`;
}

/** A maker's index page (page 0 of the index-page dialect): links, no machines. */
export function renderAempIndex(
  input: { snapshotTime: string; links: AempDocument['links']; pages: number },
  dialect: AempDialect,
): string {
  const links = (['self', 'first', 'next', 'last'] as const)
    .filter((rel) => input.links[rel] !== undefined)
    .map((rel) => ({ rel, href: input.links[rel] }));
  const t = { '@version': '2', '@snapshotTime': input.snapshotTime, Links: links, PageCount: input.pages };
  if (dialect.format === 'json') return JSON.stringify({ Fleet: stripAt(t) });
  return `<?xml version="1.0" encoding="UTF-8"?>\n${xmlBuilder.build({ Fleet: { '@xmlns': dialect.namespace, ...t } }) as string}`;
}

function stripAt(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(stripAt);
  if (!isRecord(x)) return x;
  return Object.fromEntries(
    Object.entries(x).map(([k, v]) => [k.startsWith('@') ? k.slice(1) : k, stripAt(v)]),
  );
}

// ---- feed status (GET /v1/aemp/feeds, viewer; one line per feed in `ironledger status`) ----------

export const AempFeedStatusSchema = z.object({
  /** The feed's virtual gateway id. */
  feedId: z.string(),
  /** The feed's base URL (never its credentials). */
  url: z.string(),
  dialect: z.string(),
  state: z.enum(['idle', 'polling', 'rate_limited', 'stopped']),
  lastPollAt: z.string().nullable(),
  /** ok, failed (see lastError) or partial (stopped by a quota wait past the limit). */
  lastPollOutcome: z.enum(['ok', 'failed', 'partial']).nullable(),
  nextPollAt: z.string().nullable(),
  /** Requests the feed says are left (X-RateLimit-Remaining), else the client budget's. */
  quotaLeft: z.number().nullable(),
  requests: z.number().int(),
  rateLimited: z.number().int(),
  errors: z.number().int(),
  lastError: z.object({ at: z.string(), code: z.string(), message: z.string() }).nullable(),
  /** Machines the last snapshot listed, and those matching no unit (by serial number / PIN). */
  equipment: z.number().int(),
  unmatched: z.array(z.string()),
  readingsAccepted: z.number().int(),
  duplicates: z.number().int(),
  refused: z.number().int(),
  /** Latest reading time read for any of the feed's units (the persisted cursor's front). */
  cursorTs: z.string().nullable(),
});
export type AempFeedStatus = z.infer<typeof AempFeedStatusSchema>;
export const AempFeedsResponseSchema = z.object({ feeds: z.array(AempFeedStatusSchema) });
export type AempFeedsResponse = z.infer<typeof AempFeedsResponseSchema>;

// ---- element structure (what the served XML must be) ----------------------------------------

/**
 * The XML element structure IronLedger serves and tests pin: each element's allowed children.
 * Leaves map to null. Attributes: `xmlns`, `version`, `snapshotTime` on Fleet; `datetime` on
 * every element of Equipment but the header.
 */
export const AEMP_XML_STRUCTURE: Record<string, readonly string[] | null> = {
  Fleet: ['Links', 'Equipment', 'PageCount'],
  Links: ['rel', 'href'],
  Equipment: ['EquipmentHeader', ...AEMP_ELEMENTS],
  EquipmentHeader: ['OEMName', 'Model', 'EquipmentID', 'SerialNumber', 'PIN'],
  Location: ['Latitude', 'Longitude'],
  CumulativeOperatingHours: ['Hour'],
  CumulativeIdleHours: ['Hour'],
  FuelUsed: ['FuelUnits', 'FuelConsumed'],
  Distance: ['OdometerUnits', 'Odometer'],
  EngineStatus: ['Running'],
};

const orderedParser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  parseTagValue: false,
});

/**
 * Problems of an XML document against AEMP_XML_STRUCTURE and the namespace: empty when it
 * conforms. Checks well-formedness, the root, every element's place, and the attributes.
 */
export function checkAempXml(xml: string, namespace: string = AEMP_NAMESPACE): string[] {
  const problems: string[] = [];
  let nodes: Array<Record<string, unknown>>;
  try {
    nodes = orderedParser.parse(xml, true) as Array<Record<string, unknown>>;
  } catch (e) {
    return [`not well-formed: ${(e as Error).message}`];
  }
  const elementsOf = (list: Array<Record<string, unknown>>) =>
    list
      .map((n) => {
        const name = Object.keys(n).find((k) => k !== ':@');
        return name && name !== '#text' && !name.startsWith('?')
          ? {
              name,
              children: n[name] as Array<Record<string, unknown>>,
              attrs: (n[':@'] ?? {}) as Record<string, string>,
            }
          : null;
      })
      .filter((x): x is NonNullable<typeof x> => x !== null);
  const roots = elementsOf(nodes);
  if (roots.length !== 1 || roots[0]?.name !== 'Fleet')
    return [`root must be one Fleet, found ${roots.map((r) => r.name).join(', ')}`];
  const root = roots[0];
  if (root.attrs['@xmlns'] !== namespace) problems.push(`Fleet xmlns must be ${namespace}`);
  for (const a of ['@version', '@snapshotTime'])
    if (!root.attrs[a]) problems.push(`Fleet needs ${a.slice(1)}`);
  const walk = (
    el: { name: string; children: Array<Record<string, unknown>>; attrs: Record<string, string> },
    path: string,
  ) => {
    const allowed = AEMP_XML_STRUCTURE[el.name];
    const kids = elementsOf(el.children ?? []);
    if (allowed === undefined || allowed === null) {
      if (kids.length > 0) problems.push(`${path} is a leaf but has ${kids.map((k) => k.name).join(', ')}`);
      return;
    }
    if ((AEMP_ELEMENTS as readonly string[]).includes(el.name) && !el.attrs['@datetime'])
      problems.push(`${path} needs a datetime attribute`);
    for (const k of kids) {
      if (!allowed.includes(k.name))
        problems.push(`${path}/${k.name} is not allowed (${allowed.join(', ')})`);
      else walk(k, `${path}/${k.name}`);
    }
  };
  walk(root, 'Fleet');
  return problems;
}
