/**
 * Pure aggregations behind the month report. Hours are summed as decimals and rounded only
 * for display; money is summed in integer minor units per currency (never across currencies).
 * Rejected and superseded allocations carry no cost.
 */
import type { Allocation, Anomaly, UsageRow } from '@ironledger/contracts';
import { sumMinor } from '../format/money.js';

export interface ReportData {
  period: string;
  generatedAt: string;
  /** Where the figures came from, printed in the footer. */
  source: string;
  days: string[];
  /** The period is locked (closed) in the cloud; undefined when unknown. */
  locked?: boolean;
  usage: UsageRow[];
  anomalies: Anomaly[];
  allocations: Allocation[];
}

export interface ProjectDayHours {
  projects: string[];
  days: string[];
  /** hours[day][project] = engine hours. */
  hours: Map<string, Map<string, number>>;
  dayTotals: Map<string, number>;
  total: number;
}

export function hoursPerProjectPerDay(usage: readonly UsageRow[], days: readonly string[]): ProjectDayHours {
  const projects = [...new Set(usage.map((r) => r.projectId))].sort();
  const hours = new Map<string, Map<string, number>>(days.map((d) => [d, new Map()]));
  const dayTotals = new Map<string, number>(days.map((d) => [d, 0]));
  let total = 0;
  for (const r of usage) {
    let byProject = hours.get(r.day);
    if (!byProject) {
      // A row outside the period's days still counts (the server chose to send it).
      byProject = new Map();
      hours.set(r.day, byProject);
      dayTotals.set(r.day, 0);
    }
    byProject.set(r.projectId, (byProject.get(r.projectId) ?? 0) + r.engineHours);
    dayTotals.set(r.day, (dayTotals.get(r.day) ?? 0) + r.engineHours);
    total += r.engineHours;
  }
  return { projects, days: [...hours.keys()].sort(), hours, dayTotals, total };
}

export interface UnitIdle {
  unitId: string;
  engineHours: number;
  idleHours: number;
  workingHours: number;
  /** idle / engine, 0 when the engine never ran. */
  idleShare: number;
}

export function idleSharePerUnit(usage: readonly UsageRow[]): UnitIdle[] {
  const by = new Map<string, UnitIdle>();
  for (const r of usage) {
    const u = by.get(r.unitId) ?? {
      unitId: r.unitId,
      engineHours: 0,
      idleHours: 0,
      workingHours: 0,
      idleShare: 0,
    };
    u.engineHours += r.engineHours;
    u.idleHours += r.idleHours;
    u.workingHours += r.workingHours;
    by.set(r.unitId, u);
  }
  for (const u of by.values()) u.idleShare = u.engineHours > 0 ? u.idleHours / u.engineHours : 0;
  return [...by.values()].sort((a, b) => b.idleShare - a.idleShare || a.unitId.localeCompare(b.unitId));
}

export interface ProjectCost {
  projectId: string;
  amountMinor: number;
  workingHours: number;
  allocations: number;
}

/** Cost per project, one list per currency, largest first. */
export function costPerProject(allocations: readonly Allocation[]): Map<string, ProjectCost[]> {
  const byCurrency = new Map<string, Map<string, ProjectCost>>();
  for (const a of allocations) {
    if (a.status === 'rejected' || a.status === 'superseded') continue;
    const m = byCurrency.get(a.currency) ?? new Map<string, ProjectCost>();
    const p = m.get(a.projectId) ?? {
      projectId: a.projectId,
      amountMinor: 0,
      workingHours: 0,
      allocations: 0,
    };
    p.amountMinor = sumMinor([p.amountMinor, a.amountMinor]);
    p.workingHours += a.workingHours;
    p.allocations += 1;
    m.set(a.projectId, p);
    byCurrency.set(a.currency, m);
  }
  const out = new Map<string, ProjectCost[]>();
  for (const [cur, m] of byCurrency) {
    out.set(
      cur,
      [...m.values()].sort((a, b) => b.amountMinor - a.amountMinor || a.projectId.localeCompare(b.projectId)),
    );
  }
  return out;
}

export function allocationStatusCounts(allocations: readonly Allocation[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of allocations) out[a.status] = (out[a.status] ?? 0) + 1;
  return out;
}

/** Anomalies from usage plus those only attached to allocations' evidence, each once. */
export function allAnomalies(data: Pick<ReportData, 'anomalies' | 'allocations'>): Anomaly[] {
  const seen = new Set<string>();
  const out: Anomaly[] = [];
  const add = (x: Anomaly) => {
    const k = `${x.unitId}|${x.kind}|${x.ts}`;
    if (!seen.has(k)) {
      seen.add(k);
      out.push(x);
    }
  };
  data.anomalies.forEach(add);
  for (const a of data.allocations) a.evidence.anomalies.forEach(add);
  return out.sort((a, b) => a.ts.localeCompare(b.ts) || a.unitId.localeCompare(b.unitId));
}

/** A round axis step for `max` spread over about `ticks` gridlines (1, 2, 2.5, 5 × 10^n). */
export function niceStep(max: number, ticks = 5): number {
  if (!(max > 0)) return 1;
  const raw = max / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * mag >= raw) return m * mag;
  return 10 * mag;
}

/** Rounds for data-* attributes: enough digits for checks, none of float noise. */
export function attrNumber(n: number, digits = 3): string {
  const r = Number(n.toFixed(digits));
  return String(Object.is(r, -0) ? 0 : r);
}
