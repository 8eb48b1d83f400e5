/**
 * The month report's figures, shaped for the charts. Every aggregate comes from the server's
 * `GET /v1/report` (hours per project and day, idle share per unit, cost per project and
 * currency); nothing here re-derives them from usage rows or allocations. What is added up
 * here is only layout: a day's stacked bar, a column of the project table, a grand total.
 * Money stays in integer minor units per currency (never summed across currencies).
 */
import type { Allocation, Anomaly, ReportResponse, UsageRow } from '@ironledger/contracts';

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
  byProjectDay: ReportResponse['byProjectDay'];
  idleShareByUnit: ReportResponse['idleShareByUnit'];
  costByProject: ReportResponse['costByProject'];
}

export interface ProjectDayHours {
  projects: string[];
  days: string[];
  /** hours[day][project] = engine hours. */
  hours: Map<string, Map<string, number>>;
  dayTotals: Map<string, number>;
  total: number;
}

/** The server's hours per project and day, as a day → project grid with each day's stack height. */
export function hoursPerProjectPerDay(
  byProjectDay: ReportData['byProjectDay'],
  days: readonly string[],
): ProjectDayHours {
  const projects = [...new Set(byProjectDay.map((r) => r.projectId))].sort();
  const hours = new Map<string, Map<string, number>>(days.map((d) => [d, new Map()]));
  const dayTotals = new Map<string, number>(days.map((d) => [d, 0]));
  let total = 0;
  for (const r of byProjectDay) {
    let byProject = hours.get(r.day);
    if (!byProject) {
      // A row outside the period's days still counts (the server chose to send it).
      byProject = new Map();
      hours.set(r.day, byProject);
      dayTotals.set(r.day, 0);
    }
    byProject.set(r.projectId, r.engineHours);
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
  /** idle / engine as the server computed it, 0 when the engine never ran. */
  idleShare: number;
}

/** The server's idle share per unit, worst first. */
export function idleSharePerUnit(idleShareByUnit: ReportData['idleShareByUnit']): UnitIdle[] {
  return idleShareByUnit
    .map((u) => ({
      unitId: u.unitId,
      engineHours: u.engineHours,
      idleHours: u.idleHours,
      workingHours: u.engineHours - u.idleHours,
      idleShare: u.idleShare ?? 0,
    }))
    .sort((a, b) => b.idleShare - a.idleShare || a.unitId.localeCompare(b.unitId));
}

export interface ProjectCost {
  projectId: string;
  /** pending + approved + posted (rejected and superseded carry no cost), as the server summed it. */
  amountMinor: number;
  pendingMinor: number;
  approvedMinor: number;
  postedMinor: number;
}

/** The server's cost per project, one list per currency, largest first. */
export function costPerProject(costByProject: ReportData['costByProject']): Map<string, ProjectCost[]> {
  const out = new Map<string, ProjectCost[]>();
  for (const c of costByProject) {
    out.set(c.currency, [
      ...(out.get(c.currency) ?? []),
      {
        projectId: c.projectId,
        amountMinor: c.totalMinor,
        pendingMinor: c.pendingMinor,
        approvedMinor: c.approvedMinor,
        postedMinor: c.postedMinor,
      },
    ]);
  }
  for (const list of out.values())
    list.sort((a, b) => b.amountMinor - a.amountMinor || a.projectId.localeCompare(b.projectId));
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
