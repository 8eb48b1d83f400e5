/**
 * Consolidation, pure: one unit's usable readings + sites → usage figures per (site-local
 * day, project) and meter anomalies. No I/O; the same input always gives the same output,
 * whatever order the readings arrived in (they are ordered by ts here).
 *
 * Rules (DESIGN.md "Usage", master.ts attribution rule):
 * - Meter deltas are taken between consecutive readings by ts. The delta of (prev, cur]
 *   belongs to the place of cur's position: the first geofence across all sites that
 *   contains it, else the unit's home site (its siteId, else the gateway's site stamped at
 *   ingest) and that site's default project; split over the site-local days the interval
 *   spans in proportion to time (DST days are 23 or 25 h long).
 * - A rise no running engine could make in the elapsed time (more than elapsed × 1.05 +
 *   0.1 h of meter resolution) is a `meter_jump`: flagged, not summed.
 * - A meter that goes backwards is a `meter_reset` (before and after kept): a reset, a meter
 *   replacement or a unit swap. Hours billed automatically never exceed what consecutive
 *   readings of the same meter prove, so the interval counts nothing: the new meter's first
 *   reading is its baseline. Whatever it shows (`after`) was never observed being run; it is
 *   reported as unverified in the anomaly, for an approver to bill or not (DESIGN.md "Usage").
 * - Hence, per unit: Σ engine hours = (last − first meter) + Σ resets' (before − after)
 *   − Σ jumps' (after − before) (conservation, tested).
 * - The idle meter follows the same rules; an interval's idle hours never exceed its engine
 *   hours (working = engine − idle ≥ 0). Distance comes from odometer deltas where both
 *   readings have one (null when none does).
 *
 * Billing detail per figure (`billing`, README "Billing rules"):
 * - status hours (working, idle, standby, off-hours) from the project's calendar
 *   (allocation/status-hours.ts); an interval with a reset or jump counts no status time;
 * - unverified hours: a reset's new-meter starting value, when the elapsed time allows it,
 *   on the figure of the reading that showed it: never counted, billed only by an approver;
 * - gaps: intervals longer than INFERRED_GAP_MS; the hours of one that is spread over more
 *   than one day or lands on another project than the one before it are *inferred*;
 * - the readings the figure rests on (both ends of every interval counted on it) with a
 *   sha256 of each and one over them all, which `verify` recomputes from the store.
 */
import { createHash } from 'node:crypto';
import {
  type Anomaly,
  DEFAULT_PROJECT_CALENDAR,
  type Position,
  type Project,
  type Site,
} from '@ironledger/contracts';
import {
  addStatusHours,
  classifyPiece,
  operatingWindow,
  type StatusHours,
  ZERO_STATUS_HOURS,
} from '../allocation/status-hours.js';
import type { UsageFigure } from '../domain/types.js';
import { placeAt } from './geofence.js';
import { localDay, nextLocalDayStart, splitByLocalDay } from './local-time.js';

export interface UsageReading {
  ts: string;
  tsMs: number;
  engineHours: number;
  idleHours: number | null;
  odometerKm: number | null;
  position: Position | null;
  /** Site stamped at ingest (the gateway's default site), if any. */
  siteId: string | null;
}

export interface ConsolidateInput {
  unitId: string;
  readings: readonly UsageReading[];
  sites: ReadonlyMap<string, Site>;
  /** The unit's own site, used when a reading carries none. */
  unitSiteId: string | null;
  /** Projects, for their operating calendars; a project not here gets the default calendar. */
  projects?: ReadonlyMap<string, Project> | undefined;
}

/** An offline stretch between two consecutive readings. */
export interface UsageGap {
  fromTs: string;
  toTs: string;
  elapsedHours: number;
  /** Engine hours the meter rose over it (all of them, before any split). */
  engineHours: number;
  fromProjectId: string;
  toProjectId: string;
  /** Site-local days it spans. */
  days: string[];
  /** Its hours had to be spread over days or moved to another project. */
  inferred: boolean;
}

export interface FigureBilling {
  statusHours: StatusHours;
  /** A reset's new-meter starting value: shown, never counted, billed only by an approver. */
  unverifiedHours: number;
  /** Hours placed on this day and project by spreading a gap (see UsageGap.inferred). */
  inferredHours: number;
  gaps: UsageGap[];
  /** The readings this figure rests on, by ts, each with the sha256 of its content. */
  readings: Array<{ ts: string; sha256: string }>;
  /** sha256 over the readings' hashes in ts order. */
  readingsSha256: string;
}

export interface ConsolidatedFigure extends UsageFigure {
  billing: FigureBilling;
}

export interface ConsolidateOutput {
  figures: ConsolidatedFigure[];
  anomalies: Anomaly[];
}

/**
 * An interval longer than this is an offline gap: 12 missed 5-minute reports, or a missed
 * report of an hourly AEMP feed. Hours within one shorter interval are never called inferred.
 */
export const INFERRED_GAP_MS = 60 * 60_000; // 1 h

/** The content of a reading that usage rests on, hashed: what `verify` holds the store to. */
export function readingDigest(unitId: string, r: UsageReading): string {
  const canonical = JSON.stringify([
    unitId,
    r.ts,
    r.engineHours,
    r.idleHours,
    r.odometerKm,
    r.position ? [r.position.lat, r.position.lon] : null,
    r.siteId,
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}

export function readingsDigest(hashes: readonly string[]): string {
  const h = createHash('sha256');
  for (const x of hashes) h.update(x);
  return h.digest('hex');
}

/** Readings that no site can place are attributed here (UTC days), visible and never priced by accident. */
export const UNASSIGNED = 'UNASSIGNED';
const UNASSIGNED_SITE: Site = {
  siteId: UNASSIGNED,
  timeZone: 'UTC',
  defaultProjectId: UNASSIGNED,
  geofences: [],
};

const HOUR_MS = 3_600_000;
/** A meter may not rise faster than wall time; 5 % covers clock drift between unit and meter. */
const RATE_TOLERANCE = 1.05;
/** Meters report in 0.1 h steps on common telematics units. */
const METER_RESOLUTION_H = 0.1;

export function maxPlausibleRiseH(elapsedH: number): number {
  return elapsedH * RATE_TOLERANCE + METER_RESOLUTION_H;
}

type Meter = 'engineHours' | 'idleHours' | 'odometerKm';

interface Step {
  counted: number;
  anomaly: Anomaly | null;
}

/** One meter's contribution over one interval, with its anomaly if any. */
function meterStep(
  unitId: string,
  meter: Meter,
  before: number,
  after: number,
  elapsedH: number,
  ts: string,
  limit: number,
): Step {
  const delta = after - before;
  if (delta < 0) {
    // The new meter's first reading is its baseline: nothing consecutive readings of one
    // meter prove, so nothing is counted. Its `after` may hold hours run since the swap, or
    // a workshop's bench time, or a second-hand ECU's history: unverified either way.
    const plausible = after <= limit;
    return {
      counted: 0,
      anomaly: {
        unitId,
        kind: 'meter_reset',
        ts,
        before,
        after,
        detail: plausible
          ? `${meter} went back from ${before} to ${after}: a new meter, its first reading is the baseline; ${after} unverified, not counted`
          : `${meter} went back from ${before} to ${after}: a new meter, its first reading is the baseline; ${after} exceeds the ${elapsedH.toFixed(3)} h elapsed, not counted`,
      },
    };
  }
  if (delta > limit) {
    return {
      counted: 0,
      anomaly: {
        unitId,
        kind: 'meter_jump',
        ts,
        before,
        after,
        detail: `${meter} rose ${round6(delta)} in ${elapsedH.toFixed(3)} h elapsed: not counted`,
      },
    };
  }
  return { counted: delta, anomaly: null };
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

interface Acc {
  fig: UsageFigure;
  distanceKnown: boolean;
  status: StatusHours;
  unverifiedHours: number;
  inferredHours: number;
  gaps: UsageGap[];
  readingIdx: Set<number>;
}

export function consolidate(input: ConsolidateInput): ConsolidateOutput {
  const { unitId, sites } = input;
  const readings = [...input.readings].sort((a, b) => a.tsMs - b.tsMs || a.engineHours - b.engineHours);
  const acc = new Map<string, Acc>();
  const anomalies: Anomaly[] = [];

  const homeOf = (r: UsageReading): Site =>
    (input.unitSiteId ? sites.get(input.unitSiteId) : undefined) ??
    (r.siteId ? sites.get(r.siteId) : undefined) ??
    UNASSIGNED_SITE;

  const figure = (day: string, projectId: string, siteId: string): Acc => {
    const k = `${day}|${projectId}`;
    let a = acc.get(k);
    if (!a) {
      a = {
        fig: {
          unitId,
          projectId,
          siteId,
          day,
          engineHours: 0,
          idleHours: 0,
          workingHours: 0,
          distanceKm: null,
          readings: 0,
          anomalies: [],
          meterFrom: null,
          meterTo: null,
        },
        distanceKnown: false,
        status: { ...ZERO_STATUS_HOURS },
        unverifiedHours: 0,
        inferredHours: 0,
        gaps: [],
        readingIdx: new Set(),
      };
      acc.set(k, a);
    }
    a.fig.siteId = siteId;
    return a;
  };

  const calendarOf = (projectId: string) =>
    input.projects?.get(projectId)?.calendar ?? DEFAULT_PROJECT_CALENDAR;
  const windows = new Map<string, ReturnType<typeof operatingWindow>>();
  const windowOf = (day: string, timeZone: string, projectId: string) => {
    const k = `${day}|${timeZone}|${projectId}`;
    if (!windows.has(k)) windows.set(k, operatingWindow(day, timeZone, calendarOf(projectId)));
    return windows.get(k)!;
  };
  const places = readings.map((r) => placeAt(sites.values(), r.position, homeOf(r)));

  readings.forEach((cur, i) => {
    const { site, projectId } = places[i]!;
    const home = figure(localDay(cur.tsMs, site.timeZone), projectId, site.siteId);
    home.fig.readings++;
    home.readingIdx.add(i);
    const prev = i > 0 ? readings[i - 1]! : null;
    if (!prev) return;

    const elapsedH = (cur.tsMs - prev.tsMs) / HOUR_MS;
    const limit = maxPlausibleRiseH(elapsedH);
    const engine = meterStep(
      unitId,
      'engineHours',
      prev.engineHours,
      cur.engineHours,
      elapsedH,
      cur.ts,
      limit,
    );
    let idle = 0;
    const stepAnomalies: Anomaly[] = [];
    if (engine.anomaly) stepAnomalies.push(engine.anomaly);
    if (prev.idleHours !== null && cur.idleHours !== null) {
      const s = meterStep(unitId, 'idleHours', prev.idleHours, cur.idleHours, elapsedH, cur.ts, limit);
      if (s.anomaly) stepAnomalies.push(s.anomaly);
      idle = s.counted;
      if (idle > engine.counted) {
        if (idle - engine.counted > METER_RESOLUTION_H)
          stepAnomalies.push({
            unitId,
            kind: 'meter_jump',
            ts: cur.ts,
            before: engine.counted,
            after: idle,
            detail: `idleHours rose ${round6(idle)} while engineHours counted ${round6(engine.counted)}: idle capped at engine`,
          });
        idle = engine.counted;
      }
    }
    let distance: number | null = null;
    if (prev.odometerKm !== null && cur.odometerKm !== null) {
      const d = cur.odometerKm - prev.odometerKm;
      if (d < 0)
        stepAnomalies.push({
          unitId,
          kind: 'meter_reset',
          ts: cur.ts,
          before: prev.odometerKm,
          after: cur.odometerKm,
          detail: `odometerKm went back from ${prev.odometerKm} to ${cur.odometerKm}: distance not counted`,
        });
      distance = Math.max(0, d);
    }
    anomalies.push(...stepAnomalies);
    home.fig.anomalies.push(...stepAnomalies);
    // The new meter's starting value, if the elapsed time allows it: unverified, not counted.
    if (engine.anomaly?.kind === 'meter_reset' && cur.engineHours > 0 && cur.engineHours <= limit)
      home.unverifiedHours += cur.engineHours;

    const totalMs = cur.tsMs - prev.tsMs;
    const pieces = splitByLocalDay(prev.tsMs, cur.tsMs, site.timeZone);
    let gap: UsageGap | null = null;
    if (totalMs > INFERRED_GAP_MS) {
      const fromProjectId = places[i - 1]!.projectId;
      gap = {
        fromTs: prev.ts,
        toTs: cur.ts,
        elapsedHours: round6(elapsedH),
        engineHours: round6(engine.counted),
        fromProjectId,
        toProjectId: projectId,
        days: pieces.map((p) => p.day),
        inferred: pieces.length > 1 || fromProjectId !== projectId,
      };
    }
    let pieceStartMs = prev.tsMs;
    for (const piece of pieces) {
      const share = totalMs > 0 ? piece.ms / totalMs : 1;
      const a = figure(piece.day, projectId, site.siteId);
      a.status = addStatusHours(
        a.status,
        classifyPiece({
          startMs: pieceStartMs,
          endMs: pieceStartMs + piece.ms,
          engineHours: engine.counted * share,
          idleHours: idle * share,
          window: windowOf(piece.day, site.timeZone, projectId),
          known: engine.anomaly === null,
        }),
      );
      pieceStartMs += piece.ms;
      a.readingIdx.add(i - 1);
      a.readingIdx.add(i);
      if (gap) {
        a.gaps.push(gap);
        if (gap.inferred) a.inferredHours += engine.counted * share;
      }
      a.fig.engineHours += engine.counted * share;
      a.fig.idleHours += idle * share;
      if (distance !== null) {
        a.fig.distanceKm = (a.fig.distanceKm ?? 0) + distance * share;
        a.distanceKnown = true;
      }
      a.fig.meterFrom ??= prev.engineHours;
      a.fig.meterTo = cur.engineHours;
    }
  });

  const figures = [...acc.values()]
    .map((a): ConsolidatedFigure => {
      const idx = [...a.readingIdx].sort((x, y) => x - y);
      const hashes = idx.map((j) => ({ ts: readings[j]!.ts, sha256: readingDigest(unitId, readings[j]!) }));
      return {
        ...a.fig,
        workingHours: Math.max(0, a.fig.engineHours - a.fig.idleHours),
        billing: {
          statusHours: a.status,
          unverifiedHours: round6(a.unverifiedHours),
          inferredHours: round6(a.inferredHours),
          gaps: a.gaps,
          readings: hashes,
          readingsSha256: readingsDigest(hashes.map((h) => h.sha256)),
        },
      };
    })
    .sort((a, b) => (a.day === b.day ? a.projectId.localeCompare(b.projectId) : a.day.localeCompare(b.day)));
  return { figures, anomalies };
}

/** The furthest any IANA zone runs ahead of UTC (UTC+14): a local day starts at most this early. */
const MAX_ZONE_AHEAD_MS = 14 * HOUR_MS;

/**
 * Which part of a unit's usage can change when readings arrive after `anchorMs` (the last
 * usable reading before the earliest new one): only site-local days from the anchor's day on.
 * Those days are fully recomputed by consolidating the readings from the last one strictly
 * before `startMs` (every interval that overlaps them starts there or later); figures of
 * earlier days and anomalies at or before that reading stay as stored.
 *
 * `zones`: every time zone the unit's days can be counted in (the sites' zones, and UTC for a
 * reading on no known site). The window then starts at the earliest of the anchor's local
 * days in them (a quarter to half a day of readings on average), instead of the day before
 * the anchor in any zone (UTC−12 … UTC+14: two and a half days on average).
 */
export function recomputeWindow(
  anchorMs: number,
  zones?: readonly string[],
): { fromDay: string; startMs: number } {
  if (!zones || zones.length === 0) {
    // In any zone (UTC−12 … UTC+14) the anchor's local day is on or after this UTC date.
    const fromDay = new Date(anchorMs - 24 * HOUR_MS).toISOString().slice(0, 10);
    return { fromDay, startMs: Date.parse(`${fromDay}T00:00:00.000Z`) - MAX_ZONE_AHEAD_MS };
  }
  let fromDay = localDay(anchorMs, zones[0]!);
  for (const z of zones) {
    const d = localDay(anchorMs, z);
    if (d < fromDay) fromDay = d;
  }
  // The start of `fromDay` in each zone: from a lower bound in any zone, day by day forward.
  let startMs = Number.POSITIVE_INFINITY;
  for (const z of zones) {
    let s = Date.parse(`${fromDay}T00:00:00.000Z`) - MAX_ZONE_AHEAD_MS;
    while (localDay(s, z) < fromDay) s = nextLocalDayStart(s, z);
    if (localDay(s, z) > fromDay) s = Date.parse(`${fromDay}T00:00:00.000Z`) - MAX_ZONE_AHEAD_MS;
    startMs = Math.min(startMs, s);
  }
  return { fromDay, startMs };
}
