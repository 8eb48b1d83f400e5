/**
 * The attribution rule (contracts/master.ts) applied to a unit's published reading stream:
 * the meter delta between two consecutive readings, (prev.ts, cur.ts], belongs to the
 * project at cur's position on the unit's site, and to the site-local day(s) the interval
 * spans, split in proportion to time. This is what a correct consolidation computes; the
 * simulator's tests use it to prove the truth file is reproducible from what was sent.
 *
 * Stream hygiene, as the receiving side must do it: readings are ordered by ts, one per
 * identity (unitId, ts); readings with an impossible clock (before 2000) are held out; a
 * meter that goes down (ECU swap) or rises faster than the clock (a jump) contributes
 * nothing for that interval and is reported as an anomaly. Pure function, no I/O.
 */
import { EARLIEST_VALID_TS, type Reading, type Site } from '@ironledger/contracts';
import { projectAt } from './geo.js';
import { splitByDay } from './time.js';

export interface AttributedUsage {
  day: string;
  projectId: string;
  engineHours: number;
  idleHours: number;
  workingHours: number;
  distanceKm: number;
  fuelL: number;
  readings: number;
}

export interface AttributionAnomaly {
  kind: 'meter_reset' | 'meter_jump' | 'clock_invalid' | 'conflict';
  ts: string;
  before: number | null;
  after: number | null;
}

/** Slack for a meter rising a little faster than the clock (rounding), hours. */
const JUMP_SLACK_H = 0.01;

export function attributeReadings(
  readings: readonly Reading[],
  site: Pick<Site, 'timeZone' | 'geofences' | 'defaultProjectId'>,
): { rows: AttributedUsage[]; anomalies: AttributionAnomaly[] } {
  const anomalies: AttributionAnomaly[] = [];
  const byTs = new Map<string, Reading>();
  for (const r of readings) {
    if (!(Date.parse(r.ts) >= EARLIEST_VALID_TS)) {
      anomalies.push({ kind: 'clock_invalid', ts: r.ts, before: null, after: null });
      continue;
    }
    const seen = byTs.get(r.ts);
    if (seen && seen.engineHours !== r.engineHours)
      anomalies.push({ kind: 'conflict', ts: r.ts, before: seen.engineHours, after: r.engineHours });
    if (!seen) byTs.set(r.ts, r);
  }
  const ordered = [...byTs.values()].sort((a, b) => Date.parse(a.ts) - Date.parse(b.ts));
  const acc = new Map<string, AttributedUsage>();
  for (let i = 1; i < ordered.length; i++) {
    const prev = ordered[i - 1] as Reading;
    const cur = ordered[i] as Reading;
    const a = Date.parse(prev.ts);
    const b = Date.parse(cur.ts);
    const dE = cur.engineHours - prev.engineHours;
    const elapsedH = (b - a) / 3_600_000;
    let engine = dE;
    let idle = (cur.idleHours ?? 0) - (prev.idleHours ?? 0);
    let fuel = (cur.fuelUsedL ?? 0) - (prev.fuelUsedL ?? 0);
    const dist = Math.max(0, (cur.odometerKm ?? 0) - (prev.odometerKm ?? 0));
    if (dE < 0) {
      anomalies.push({ kind: 'meter_reset', ts: cur.ts, before: prev.engineHours, after: cur.engineHours });
      engine = 0;
      idle = 0;
      fuel = 0;
    } else if (dE > elapsedH + JUMP_SLACK_H) {
      anomalies.push({ kind: 'meter_jump', ts: cur.ts, before: prev.engineHours, after: cur.engineHours });
      engine = 0;
      idle = 0;
      fuel = 0;
    }
    const projectId = projectAt(site, cur.position);
    splitByDay(a, b, site.timeZone, (day, x, y) => {
      const share = (y - x) / (b - a);
      const key = `${day}\u0000${projectId}`;
      let row = acc.get(key);
      if (!row) {
        row = {
          day,
          projectId,
          engineHours: 0,
          idleHours: 0,
          workingHours: 0,
          distanceKm: 0,
          fuelL: 0,
          readings: 0,
        };
        acc.set(key, row);
      }
      row.engineHours += engine * share;
      row.idleHours += Math.max(0, idle) * share;
      row.workingHours += (engine - Math.max(0, idle)) * share;
      row.distanceKm += dist * share;
      row.fuelL += Math.max(0, fuel) * share;
      row.readings += y === b ? 1 : 0;
    });
  }
  const rows = [...acc.values()].sort((p, q) =>
    p.day < q.day ? -1 : p.day > q.day ? 1 : p.projectId < q.projectId ? -1 : 1,
  );
  return { rows, anomalies };
}
