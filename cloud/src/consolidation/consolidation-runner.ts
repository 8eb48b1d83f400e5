/**
 * Runs consolidation over the units whose readings changed since their last run ("dirty"):
 * recompute the unit's usage from the earliest day the new readings can change (pure
 * consolidate over the readings that day needs), plan the allocation changes for those days,
 * and write both in one transaction; earlier days are left as stored. A unit is cleared only if nothing
 * arrived for it meanwhile, so a reading stored during a run is picked up by the next.
 *
 * Each unit is claimed in the store first (a lease named after this replica), so across
 * replicas one unit is consolidated by one at a time, and a killed replica's unit is taken
 * over when its lease runs out. The allocation changes are compare-and-set on what was read:
 * when an approver or a poster changed an allocation meanwhile the write is `stale`, nothing
 * is written, and the unit is consolidated again from a fresh read.
 * In one process runs never overlap; a request during a run waits for it and then runs again.
 * With no new data a run touches nothing.
 */
import type { ConsolidateResponse } from '@ironledger/contracts';
import type { Logger } from '@ironledger/logger';
import type { Leases } from '../context.js';
import { type Pricing, planAllocations } from '../domain/allocation-lifecycle.js';
import type { MasterData } from '../master-data.js';
import type { Metrics } from '../metrics.js';
import type { CloudStore, DirtyUnit, StoredReading } from '../store/store.js';
import { consolidate, recomputeWindow } from '../usage/consolidate.js';

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
      /** Names this replica's claims. */
      replicaId: string;
      leases: Pick<Leases, 'consolidationMs'>;
      /** Re-reads what pricing depends on beyond master data (approvers' decisions) before a run. */
      beforeRun?: () => Promise<void>;
    },
  ) {}

  /** Marks every known unit dirty (after sites or rates change) so the next run recomputes all. */
  async markAll(): Promise<void> {
    const at = new Date(this.deps.now()).toISOString();
    for (const u of await this.deps.store.unitActivity()) await this.deps.store.markDirty(u.unitId, 0, at);
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
  private async readingsToConsolidate(
    unitId: string,
    sinceMs: number,
  ): Promise<{ readings: StoredReading[]; since?: { fromDay: string; afterTs: string } }> {
    const { store } = this.deps;
    const anchorMs = sinceMs > 0 ? await store.lastUsableReadingBefore(unitId, sinceMs) : null;
    if (anchorMs === null) return { readings: await store.usableReadings(unitId) };
    const { fromDay, startMs } = recomputeWindow(anchorMs);
    const readings = await store.usableReadings(unitId, startMs);
    const first = readings[0];
    if (!first || first.tsMs >= startMs) return { readings };
    return { readings, since: { fromDay, afterTs: first.ts } };
  }

  /** Consolidates one claimed unit; its write ends the claim (or is stale and writes nothing). */
  private async consolidateUnit(
    dirty: DirtyUnit,
    owner: string,
  ): Promise<
    | { kind: 'applied'; rowsWritten: number; created: number; adjustments: number }
    | { kind: 'stale'; reason: string }
  > {
    const { store, master, pricing } = this.deps;
    const unit = master.units.get(dirty.unitId) ?? null;
    const { readings, since } = await this.readingsToConsolidate(dirty.unitId, dirty.sinceMs);
    const out1 = consolidate({
      unitId: dirty.unitId,
      readings,
      sites: master.sites,
      unitSiteId: unit?.siteId ?? null,
      projects: master.projects,
    });
    const figures = since ? out1.figures.filter((f) => f.day >= since.fromDay) : out1.figures;
    const anomalies = since ? out1.anomalies.filter((a) => a.ts > since.afterTs) : out1.anomalies;
    const existing = await store.allocationsForUnit(dirty.unitId);
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
    const r = await store.applyConsolidation({
      unitId: dirty.unitId,
      figures,
      anomalies,
      generation: dirty.generation,
      consolidatedAt: nowIso,
      allocations: plan,
      since,
      claimOwner: owner,
    });
    if (r.kind === 'stale') return r;
    return {
      kind: 'applied',
      rowsWritten: r.rowsWritten,
      created: plan.created,
      adjustments: plan.adjustments,
    };
  }

  private async runOnce(): Promise<ConsolidateResponse> {
    const { store, logger, metrics } = this.deps;
    const started = process.hrtime.bigint();
    const out: ConsolidateResponse = {
      unitsTouched: 0,
      rowsWritten: 0,
      allocationsCreated: 0,
      adjustmentsCreated: 0,
    };
    const owner = `${this.deps.replicaId}/consolidate`;
    try {
      await this.deps.beforeRun?.();
      // Units dirty now, plus room for retries after a stale write and for units re-marked
      // while this run works; the rest waits for the next run.
      let budget = (await store.dirtyUnits()).length + 16;
      while (budget-- > 0) {
        const dirty = await store.claimDirtyUnit({
          owner,
          nowMs: this.deps.now(),
          leaseMs: this.deps.leases.consolidationMs,
        });
        if (!dirty) break;
        let result: Awaited<ReturnType<typeof this.consolidateUnit>>;
        try {
          result = await this.consolidateUnit(dirty, owner);
        } catch (e) {
          await store.releaseDirtyUnit(dirty.unitId, owner).catch(() => {});
          throw e;
        }
        if (result.kind === 'stale') {
          await store.releaseDirtyUnit(dirty.unitId, owner);
          logger.info(
            { event: 'consolidation.stale', unitId: dirty.unitId, reason: result.reason },
            'allocations changed meanwhile: consolidating the unit again',
          );
        } else {
          out.unitsTouched++;
          out.rowsWritten += result.rowsWritten;
          out.allocationsCreated += result.created;
          out.adjustmentsCreated += result.adjustments;
        }
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
