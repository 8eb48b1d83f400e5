/**
 * One dirty unit's usage, apart from its allocations: which readings a run needs (only those
 * from the earliest day new data can change, see recomputeWindow; all of them when the unit is
 * new, marked whole (sinceMs 0), or the new data comes before everything stored), then the pure
 * consolidation of them, cut to the recomputed days. The same functions run on the event loop
 * and in the consolidation worker, so both give the same figures.
 */
import type { Anomaly, Project, Site } from '@ironledger/contracts';
import type { MeterReading } from '../store/store.js';
import { type ConsolidatedFigure, consolidate, recomputeWindow } from '../usage/consolidate.js';

/** What a unit's usage depends on besides its readings (plain data: it crosses to a worker). */
export interface UnitUsageRequest {
  unitId: string;
  /** The dirty mark's earliest changed ts (ms); 0 recomputes the unit whole. */
  sinceMs: number;
  sites: ReadonlyMap<string, Site>;
  unitSiteId: string | null;
  projects: ReadonlyMap<string, Project>;
}

/** Where the recomputed part starts; absent when the whole unit was recomputed. */
export interface UsageSince {
  fromDay: string;
  afterTs: string;
}

export interface UnitUsage {
  figures: ConsolidatedFigure[];
  anomalies: Anomaly[];
  since?: UsageSince | undefined;
}

/** The store's reads that consolidation needs (sync on a SQLite connection, async elsewhere). */
export interface MeterReadingSource {
  lastUsableReadingBefore(unitId: string, ms: number): number | null | Promise<number | null>;
  usageReadings(unitId: string, fromMs?: number): MeterReading[] | Promise<MeterReading[]>;
}

/** Every zone a unit's days can be counted in: the sites', and UTC (a reading on no known site). */
export function zonesOf(sites: ReadonlyMap<string, Site>): string[] {
  return [...new Set(['UTC', ...[...sites.values()].map((s) => s.timeZone)])];
}

export async function readingsToConsolidate(
  source: MeterReadingSource,
  req: Pick<UnitUsageRequest, 'unitId' | 'sinceMs' | 'sites'>,
): Promise<{ readings: MeterReading[]; since?: UsageSince }> {
  const { unitId, sinceMs } = req;
  const anchorMs = sinceMs > 0 ? await source.lastUsableReadingBefore(unitId, sinceMs) : null;
  if (anchorMs === null) return { readings: await source.usageReadings(unitId) };
  const { fromDay, startMs } = recomputeWindow(anchorMs, zonesOf(req.sites));
  const readings = await source.usageReadings(unitId, startMs);
  const first = readings[0];
  if (!first || first.tsMs >= startMs) return { readings };
  return { readings, since: { fromDay, afterTs: first.ts } };
}

/** Pure: the unit's figures and anomalies from `readings`, only those `since` recomputes. */
export function computeUnitUsage(
  req: UnitUsageRequest,
  readings: readonly MeterReading[],
  since: UsageSince | undefined,
): UnitUsage {
  const out = consolidate({
    unitId: req.unitId,
    readings,
    sites: req.sites,
    unitSiteId: req.unitSiteId,
    projects: req.projects,
  });
  if (!since) return out;
  return {
    figures: out.figures.filter((f) => f.day >= since.fromDay),
    anomalies: out.anomalies.filter((a) => a.ts > since.afterTs),
    since,
  };
}

/** Reads and computes on the calling thread. */
export async function unitUsage(source: MeterReadingSource, req: UnitUsageRequest): Promise<UnitUsage> {
  const { readings, since } = await readingsToConsolidate(source, req);
  return computeUnitUsage(req, readings, since);
}
