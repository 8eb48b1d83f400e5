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
 *
 * A unit's readings are read and consolidated in a worker thread (usage-worker-pool.ts) when
 * the app gives one: the event loop only claims, plans and writes, so batches are answered
 * while a long unit is computed. The figures are the same functions' (unit-usage.ts).
 */
import type { ConsolidateResponse } from '@ironledger/contracts';
import type { Logger } from '@ironledger/logger';
import type { Leases } from '../context.js';
import { type Pricing, planAllocations } from '../domain/allocation-lifecycle.js';
import type { MasterData } from '../master-data.js';
import type { Metrics } from '../metrics.js';
import type { CloudStore, DirtyUnit } from '../store/store.js';
import { readingsToConsolidate, type UnitUsage, type UnitUsageRequest, unitUsage } from './unit-usage.js';
import type { UsageWorker } from './usage-worker-pool.js';

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
      /** Computes each unit's usage off the event loop; without it, on the event loop. */
      worker?: UsageWorker | null;
    },
  ) {}

  /** Marks every known unit dirty (after sites or rates change) so the next run recomputes all. */
  async markAll(): Promise<void> {
    await this.deps.store.markAllDirty(new Date(this.deps.now()).toISOString());
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
   * The unit's usage: in the worker thread when there is one (it reads a SQLite store itself;
   * another store's readings are read here, asynchronously, and sent to it), else here.
   */
  private async usageOf(req: UnitUsageRequest): Promise<UnitUsage> {
    const { store, worker } = this.deps;
    if (!worker) return unitUsage(store, req);
    if (worker.readsItself) return worker.unitUsage(req);
    return worker.unitUsage(req, await readingsToConsolidate(store, req));
  }

  /** Starts computing a claimed unit's usage (in the worker, when there is one). */
  private startUsage(dirty: DirtyUnit): Promise<UnitUsage> {
    const { master } = this.deps;
    const usage = this.usageOf({
      unitId: dirty.unitId,
      sinceMs: dirty.sinceMs,
      sites: master.sites,
      unitSiteId: master.units.get(dirty.unitId)?.siteId ?? null,
      projects: master.projects,
    });
    usage.catch(() => {}); // awaited (and its failure handled) by the loop
    return usage;
  }

  /** Plans and writes one claimed unit's usage; the write ends the claim (or is stale and writes nothing). */
  private async writeUnit(
    dirty: DirtyUnit,
    usage: UnitUsage,
    owner: string,
  ): Promise<
    | { kind: 'applied'; rowsWritten: number; created: number; adjustments: number }
    | { kind: 'stale'; reason: string }
  > {
    const { store, master, pricing } = this.deps;
    const unit = master.units.get(dirty.unitId) ?? null;
    const { figures, anomalies, since } = usage;
    // An incremental run reads only the allocations of the days it recomputes (each one's
    // evidence is parsed: a month of them was a fifth of an incremental run).
    const existing = since
      ? await store.allocationsForUnitFrom(dirty.unitId, since.fromDay)
      : await store.allocationsForUnit(dirty.unitId);
    const nowIso = new Date(this.deps.now()).toISOString();
    const plan = planAllocations({
      unitId: dirty.unitId,
      unit,
      figures,
      existing,
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
      type Claimed = { dirty: DirtyUnit; usage: Promise<UnitUsage> };
      const claimNext = async (): Promise<Claimed | null> => {
        if (budget-- <= 0) return null;
        const dirty = await store.claimDirtyUnit({
          owner,
          nowMs: this.deps.now(),
          leaseMs: this.deps.leases.consolidationMs,
        });
        return dirty ? { dirty, usage: this.startUsage(dirty) } : null;
      };
      let cur = await claimNext();
      while (cur) {
        const { dirty } = cur;
        let next: Claimed | null = null;
        let result: Awaited<ReturnType<typeof this.writeUnit>>;
        try {
          const usage = await cur.usage;
          // The next unit is read and computed (in the worker) while this one is planned and written.
          next = await claimNext();
          result = await this.writeUnit(dirty, usage, owner);
        } catch (e) {
          await store.releaseDirtyUnit(dirty.unitId, owner).catch(() => {});
          if (next) await store.releaseDirtyUnit(next.dirty.unitId, owner).catch(() => {});
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
        // A unit released as stale is claimable again.
        cur = next ?? (await claimNext());
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
