/**
 * Ground truth: what really happened, from the units' truth timelines, in the shape tests
 * compare the cloud against. Deterministic byte for byte for the same seed and options
 * (stable key order, sorted lists, fixed rounding), and independent of how the run went on
 * the wire (speed, broker, outages): it describes the machines, not the network.
 *
 * Usage rows are per (unit, site-local day, project): engine, idle and working hours
 * (working = engine − idle), distance (odometer machines; null otherwise) and fuel. Engine
 * time belongs to the project of the place the machine stood, and to the local day it
 * fell in. Rows with no engine time, distance or fuel are left out. Hours are rounded to
 * 1e-6 h, distance to 1e-6 km, fuel to 1e-3 L.
 */
import type { Unit, World } from '@ironledger/contracts';
import type { FaultRecord, FleetPlan, MeterResetRecord, UnitPlan } from './plan.js';
import { round3, round6, segmentProject, unitMessages } from './plan.js';
import { HOUR_MS, SECOND_MS, splitByDay } from './time.js';

export interface TruthUsage {
  unitId: string;
  day: string;
  siteId: string;
  projectId: string;
  engineHours: number;
  idleHours: number;
  workingHours: number;
  distanceKm: number | null;
  fuelL: number;
}

export interface Truth {
  version: 1;
  seed: string;
  options: Record<string, unknown>;
  world: World;
  units: Array<Pick<Unit, 'unitId' | 'equipmentClass' | 'serialNo' | 'siteId'>>;
  usage: TruthUsage[];
  meterResets: MeterResetRecord[];
  faults: FaultRecord[];
  readings: { published: number; distinct: number };
}

interface Acc {
  engineS: number;
  idleS: number;
  distanceKm: number;
  fuelL: number;
}

/** Usage rows of one unit from its timeline. */
export function unitUsage(plan: UnitPlan): TruthUsage[] {
  const tz = plan.geo.site.timeZone;
  const acc = new Map<string, Acc>();
  const p = plan.profile;
  for (const seg of plan.timeline.segments) {
    if (seg.engine === 'off') continue;
    const projectId = segmentProject(plan, seg);
    splitByDay(seg.startMs, seg.endMs, tz, (day, a, b) => {
      const key = `${day}\u0000${projectId}`;
      let x = acc.get(key);
      if (!x) {
        x = { engineS: 0, idleS: 0, distanceKm: 0, fuelL: 0 };
        acc.set(key, x);
      }
      const dt = b - a;
      x.engineS += dt / SECOND_MS;
      if (seg.engine === 'idle') x.idleS += dt / SECOND_MS;
      x.fuelL += ((seg.engine === 'idle' ? p.fuelIdleLph : p.fuelWorkLph) * dt) / HOUR_MS;
      if (seg.engine === 'work' && p.odometer) x.distanceKm += (p.workSpeedKmh * dt) / HOUR_MS;
    });
  }
  const rows: TruthUsage[] = [];
  for (const [key, x] of acc) {
    const [day, projectId] = key.split('\u0000') as [string, string];
    rows.push({
      unitId: plan.unit.unitId,
      day,
      siteId: plan.geo.site.siteId,
      projectId,
      engineHours: round6(x.engineS / 3600),
      idleHours: round6(x.idleS / 3600),
      workingHours: round6((x.engineS - x.idleS) / 3600),
      distanceKm: p.odometer ? round6(x.distanceKm) : null,
      fuelL: round3(x.fuelL),
    });
  }
  return rows;
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The options that decide what happens (not how fast or where it is sent). */
export function truthOptions(plan: FleetPlan): Record<string, unknown> {
  const o = plan.options;
  return {
    units: plan.world.units.length,
    start: new Date(plan.startMs).toISOString(),
    end: new Date(plan.endMs).toISOString(),
    days: o.days,
    intervalMs: o.intervalMs,
    format: o.format,
    faults: { ...o.faults, enabled: [...o.faults.enabled].sort() },
  };
}

export function computeTruth(plan: FleetPlan): Truth {
  const usage: TruthUsage[] = [];
  const faults: FaultRecord[] = [];
  const meterResets: MeterResetRecord[] = [];
  let published = 0;
  let distinct = 0;
  for (const u of plan.units) {
    usage.push(...unitUsage(u));
    const seen = new Set<string>();
    const sink = {
      fault: (f: FaultRecord) => faults.push(f),
      reset: (r: MeterResetRecord) => meterResets.push(r),
    };
    for (const m of unitMessages(u, plan, sink)) {
      if (m.kind !== 'reading' || m.ts === null) continue;
      published++;
      if (!seen.has(m.ts)) {
        seen.add(m.ts);
        distinct++;
      }
    }
  }
  usage.sort((a, b) => cmp(a.unitId, b.unitId) || cmp(a.day, b.day) || cmp(a.projectId, b.projectId));
  const byUnit = (a: { unitId: string }, b: { unitId: string }) => cmp(a.unitId, b.unitId);
  // Faults keep each unit's publish order (stable sort by unit), which is what a reader
  // following one unit's stream expects.
  faults.sort(byUnit);
  meterResets.sort((a, b) => byUnit(a, b) || cmp(a.ts, b.ts));
  return {
    version: 1,
    seed: plan.options.seed,
    options: truthOptions(plan),
    world: plan.world,
    units: plan.world.units.map((u) => ({
      unitId: u.unitId,
      equipmentClass: u.equipmentClass,
      ...(u.serialNo !== undefined ? { serialNo: u.serialNo } : {}),
      ...(u.siteId !== undefined ? { siteId: u.siteId } : {}),
    })),
    usage: usage.filter((r) => r.engineHours > 0 || (r.distanceKm ?? 0) > 0 || r.fuelL > 0),
    meterResets,
    faults,
    readings: { published, distinct },
  };
}

/** The truth file's text: 2-space JSON and a final newline. */
export function serializeTruth(t: Truth): string {
  return `${JSON.stringify(t, null, 2)}\n`;
}
