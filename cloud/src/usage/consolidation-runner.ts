/**
 * Runs consolidation over the units whose readings changed since their last run ("dirty"):
 * recompute the unit's usage from the earliest day the new readings can change (pure
 * consolidate over the readings that day needs), plan the allocation changes for those days,
 * and write both in one transaction; earlier days are left as stored. A unit is cleared only if nothing
 * arrived for it meanwhile, so a reading stored during a run is picked up by the next.
 * Runs never overlap; a request during a run waits for it and then runs again.
 * With no new data a run touches nothing.
 */
import type { ConsolidateResponse } from '@ironledger/contracts';
import type { Logger } from '@ironledger/logger';
import { type Pricing, planAllocations } from '../domain/allocation-lifecycle.js';
import type { MasterData } from '../master-data.js';
import type { Metrics } from '../metrics.js';
import type { CloudStore, StoredReading } from '../store/store.js';
import { consolidate, recomputeWindow } from './consolidate.js';

export class ConsolidationRunner {
  private running: Promise<ConsolidateResponse> | null = null;
  private queued: Promise<ConsolidateResponse> | null = null;

  constructor(
    private readonly deps: {
      store: CloudStore;
      master: MasterData;
      pricing: Pricing;
      logger: Logger;
      metrics: Metrics;
      now: () => number;
    },
  ) {}

  /** Marks every known unit dirty (after sites or rates change) so the next run recomputes all. */
  markAll(): void {
    const at = new Date(this.deps.now()).toISOString();
    for (const u of this.deps.store.unitActivity()) this.deps.store.markDirty(u.unitId, 0, at);
  }

  /** Resolves once no run is in progress (used at shutdown). */
  async idle(): Promise<void> {
    while (this.running || this.queued) await (this.queued ?? this.running)!.catch(() => {});
  }

  run(): Promise<ConsolidateResponse> {
    if (!this.running) {
      this.running = this.runOnce().finally(() => {
        this.running = null;
      });
      return this.running;
    }
    this.queued ??= this.running.then(
      () => {
        this.queued = null;
        return this.run();
      },
      () => {
        this.queued = null;
        return this.run();
      },
    );
    return this.queued;
  }

  /**
   * The readings a run needs for a unit: only those from the earliest day new data can change
   * (see recomputeWindow), or all of them when the unit is new, marked whole (sinceMs 0), or
   * the new data comes before everything stored.
   */
  private readingsToConsolidate(
    unitId: string,
    sinceMs: number,
  ): { readings: StoredReading[]; since?: { fromDay: string; afterTs: string } } {
    const { store } = this.deps;
    const anchorMs = sinceMs > 0 ? store.lastUsableReadingBefore(unitId, sinceMs) : null;
    if (anchorMs === null) return { readings: store.usableReadings(unitId) };
    const { fromDay, startMs } = recomputeWindow(anchorMs);
    const readings = store.usableReadings(unitId, startMs);
    const first = readings[0];
    if (!first || first.tsMs >= startMs) return { readings };
    return { readings, since: { fromDay, afterTs: first.ts } };
  }

  private async runOnce(): Promise<ConsolidateResponse> {
    const { store, master, pricing, logger, metrics } = this.deps;
    const started = process.hrtime.bigint();
    const out: ConsolidateResponse = {
      unitsTouched: 0,
      rowsWritten: 0,
      allocationsCreated: 0,
      adjustmentsCreated: 0,
    };
    try {
      for (const dirty of store.dirtyUnits()) {
        const unit = master.units.get(dirty.unitId) ?? null;
        const { readings, since } = this.readingsToConsolidate(dirty.unitId, dirty.sinceMs);
        const out1 = consolidate({
          unitId: dirty.unitId,
          readings,
          sites: master.sites,
          unitSiteId: unit?.siteId ?? null,
          projects: master.projects,
        });
        const figures = since ? out1.figures.filter((f) => f.day >= since.fromDay) : out1.figures;
        const anomalies = since ? out1.anomalies.filter((a) => a.ts > since.afterTs) : out1.anomalies;
        const existing = store.allocationsForUnit(dirty.unitId);
        const nowIso = new Date(this.deps.now()).toISOString();
        const plan = planAllocations({
          unitId: dirty.unitId,
          unit,
          figures,
          existing: since ? existing.filter((a) => a.day >= since.fromDay) : existing,
          rates: master.rates,
          now: nowIso,
          pricing,
        });
        const { rowsWritten } = store.applyConsolidation({
          unitId: dirty.unitId,
          figures,
          anomalies,
          generation: dirty.generation,
          consolidatedAt: nowIso,
          allocations: plan,
          since,
        });
        out.unitsTouched++;
        out.rowsWritten += rowsWritten;
        out.allocationsCreated += plan.created;
        out.adjustmentsCreated += plan.adjustments;
        // Let ingest requests in between units: each unit is its own transaction.
        await new Promise<void>((r) => setImmediate(r));
      }
      metrics.consolidationRuns.inc({ outcome: 'ok' });
      if (out.unitsTouched > 0) logger.info({ event: 'consolidated', ...out }, 'consolidation run');
      return out;
    } catch (e) {
      metrics.consolidationRuns.inc({ outcome: 'failed' });
      logger.error({ event: 'consolidation_failed', err: e }, 'consolidation failed');
      throw e;
    } finally {
      metrics.consolidationDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
    }
  }
}
