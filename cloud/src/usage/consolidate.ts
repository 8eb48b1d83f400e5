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
 * - A meter that goes backwards is a `meter_reset` (before and after kept). The meter is taken
 *   to have restarted from 0 inside the interval, so the interval counts `after` hours when
 *   that is plausible in the elapsed time, else nothing. Never negative, never huge.
 * - Hence, per unit: Σ engine hours = (last − first meter) + Σ resets' `before`
 *   − Σ jumps' (after − before) − Σ implausible resets' `after` (conservation, tested).
 * - The idle meter follows the same rules; an interval's idle hours never exceed its engine
 *   hours (working = engine − idle ≥ 0). Distance comes from odometer deltas where both
 *   readings have one (null when none does).
 */
import type { Anomaly, Position, Site } from '@ironledger/contracts';
import type { UsageFigure } from '../domain/types.js';
import { placeAt } from './geofence.js';
import { localDay, splitByLocalDay } from './local-time.js';

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
}

export interface ConsolidateOutput {
  figures: UsageFigure[];
  anomalies: Anomaly[];
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
    const plausible = after <= limit;
    return {
      counted: plausible ? after : 0,
      anomaly: {
        unitId,
        kind: 'meter_reset',
        ts,
        before,
        after,
        detail: plausible
          ? `${meter} went back from ${before} to ${after}: taken as a restart from 0, ${after} counted`
          : `${meter} went back from ${before} to ${after}: ${after} exceeds the ${elapsedH.toFixed(3)} h elapsed, interval not counted`,
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
      };
      acc.set(k, a);
    }
    a.fig.siteId = siteId;
    return a;
  };

  readings.forEach((cur, i) => {
    const { site, projectId } = placeAt(sites.values(), cur.position, homeOf(cur));
    const home = figure(localDay(cur.tsMs, site.timeZone), projectId, site.siteId);
    home.fig.readings++;
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

    const totalMs = cur.tsMs - prev.tsMs;
    for (const piece of splitByLocalDay(prev.tsMs, cur.tsMs, site.timeZone)) {
      const share = totalMs > 0 ? piece.ms / totalMs : 1;
      const a = figure(piece.day, projectId, site.siteId);
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
    .map(({ fig }) => ({ ...fig, workingHours: Math.max(0, fig.engineHours - fig.idleHours) }))
    .sort((a, b) => (a.day === b.day ? a.projectId.localeCompare(b.projectId) : a.day.localeCompare(b.day)));
  return { figures, anomalies };
}

/** The furthest any IANA zone runs ahead of UTC (UTC+14): a local day starts at most this early. */
const MAX_ZONE_AHEAD_MS = 14 * HOUR_MS;

/**
 * Which part of a unit's usage can change when readings arrive after `anchorMs` (the last
 * usable reading before the earliest new one): only site-local days from the anchor's day on,
 * whatever the zone. Those days are fully recomputed by consolidating the readings from the
 * last one strictly before `startMs` (every interval that overlaps them starts there or
 * later); figures of earlier days and anomalies at or before that reading stay as stored.
 */
export function recomputeWindow(anchorMs: number): { fromDay: string; startMs: number } {
  // In any zone (UTC−12 … UTC+14) the anchor's local day is on or after this UTC date.
  const fromDay = new Date(anchorMs - 24 * HOUR_MS).toISOString().slice(0, 10);
  return { fromDay, startMs: Date.parse(`${fromDay}T00:00:00.000Z`) - MAX_ZONE_AHEAD_MS };
}
