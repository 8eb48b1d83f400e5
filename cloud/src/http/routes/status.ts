/** Status, usage, consolidation and the period report (viewer; consolidate: approver). */
import {
  type AllocationStatus,
  ConsolidateRequestSchema,
  PeriodSchema,
  type ReportResponse,
  type StatusResponse,
  UsageQuerySchema,
  type UsageResponse,
} from '@ironledger/contracts';
import { z } from 'zod';
import { lifetimeHours } from '../../allocation/lifetime-hours.js';
import type { ConsolidationRunner } from '../../consolidation/consolidation-runner.js';
import type { AppContext } from '../../context.js';
import { gatewayHealth, silentUnits } from '../../fleet-health.js';
import { requireRole } from '../auth.js';
import { readJson, readQuery } from '../json.js';
import type { Router } from '../router.js';

const UsageQuery = UsageQuerySchema;

export function periodRange(period: string): { from: string; to: string } {
  const [y, m] = period.split('-').map(Number) as [number, number];
  const last = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return { from: `${period}-01`, to: `${period}-${String(last).padStart(2, '0')}` };
}

export function statusRoutes(router: Router, app: AppContext, runner: ConsolidationRunner): void {
  router.on('GET', '/v1/status', async (ctx) => {
    await requireRole(ctx.req, app.tokens, 'viewer');
    const nowMs = app.now();
    const gateways = (await gatewayHealth(app)).map(({ gatewayId, siteId, activity: a, stale }) => ({
      gatewayId,
      siteId,
      version: a?.heartbeat?.version ?? null,
      lastHeartbeatAt: a?.lastHeartbeatAt ?? null,
      lastBatchAt: a?.lastBatchAt ?? null,
      queuedReadings: a?.heartbeat?.queuedReadings ?? null,
      oldestUnsentAgeS: a?.heartbeat?.oldestUnsentAgeS ?? null,
      quarantined: a?.heartbeat?.quarantined ?? null,
      diskBudgetExceeded: a?.heartbeat?.diskBudgetExceeded ?? false,
      stale,
    }));
    const silent = await silentUnits(app);
    const dirty = await app.store.dirtyUnits();
    const oldestDirty = dirty.reduce<string | null>(
      (m, d) => (m === null || d.markedAt < m ? d.markedAt : m),
      null,
    );
    const allocations: Record<AllocationStatus, number> = await app.store.countAllocationsByStatus();
    const body: StatusResponse = {
      now: new Date(nowMs).toISOString(),
      gateways,
      silentUnits: silent,
      pipeline: {
        readings: await app.store.countReadings(),
        lastConsolidatedAt: await app.store.getMeta('lastConsolidatedAt'),
        consolidationLagS: oldestDirty
          ? Math.max(0, Math.round((nowMs - Date.parse(oldestDirty)) / 1000))
          : 0,
        allocations,
      },
      deadLetters: (await app.store.listDeadLetters()).length,
    };
    return { status: 200, body };
  });

  router.on('GET', '/v1/usage', async (ctx) => {
    await requireRole(ctx.req, app.tokens, 'viewer');
    const q = readQuery(ctx, UsageQuery);
    const rows = await app.store.listUsage(q);
    const body: UsageResponse = {
      rows,
      anomalies: await anomaliesFor(app, q),
      lifetime: await unitsLifetime(app, [...new Set(rows.map((r) => r.unitId))]),
    };
    return { status: 200, body };
  });

  router.on('POST', '/v1/consolidate', async (ctx) => {
    const who = await requireRole(ctx.req, app.tokens, 'approver');
    const req = await readJson(ctx, ConsolidateRequestSchema);
    if (req.all) await runner.markAll();
    app.logger.info(
      { event: 'consolidate_requested', actor: who.name, all: req.all ?? false },
      'consolidation requested',
    );
    return { status: 200, body: await runner.run() };
  });

  router.on('GET', '/v1/report', async (ctx) => {
    await requireRole(ctx.req, app.tokens, 'viewer');
    const { period } = readQuery(ctx, z.object({ period: PeriodSchema }).strict());
    const { from, to } = periodRange(period);
    const rows = await app.store.listUsage({ from, to });
    const byPD = new Map<string, ReportResponse['byProjectDay'][number] & { unitSet: Set<string> }>();
    const byUnit = new Map<string, { engineHours: number; idleHours: number }>();
    for (const r of rows) {
      const k = `${r.projectId}|${r.day}`;
      const e = byPD.get(k) ?? {
        projectId: r.projectId,
        day: r.day,
        engineHours: 0,
        idleHours: 0,
        workingHours: 0,
        units: 0,
        unitSet: new Set(),
      };
      e.engineHours += r.engineHours;
      e.idleHours += r.idleHours;
      e.workingHours += r.workingHours;
      e.unitSet.add(r.unitId);
      e.units = e.unitSet.size;
      byPD.set(k, e);
      const u = byUnit.get(r.unitId) ?? { engineHours: 0, idleHours: 0 };
      u.engineHours += r.engineHours;
      u.idleHours += r.idleHours;
      byUnit.set(r.unitId, u);
    }
    const allocations = await app.store.listAllocations({ from, to });
    const cost = new Map<string, ReportResponse['costByProject'][number]>();
    for (const a of allocations) {
      if (a.status === 'rejected' || a.status === 'superseded' || a.holdReason) continue;
      const k = `${a.projectId}|${a.currency}`;
      const c = cost.get(k) ?? {
        projectId: a.projectId,
        currency: a.currency,
        pendingMinor: 0,
        approvedMinor: 0,
        postedMinor: 0,
        totalMinor: 0,
      };
      if (a.status === 'pending') c.pendingMinor += a.amountMinor;
      if (a.status === 'approved') c.approvedMinor += a.amountMinor;
      if (a.status === 'posted') c.postedMinor += a.amountMinor;
      c.totalMinor += a.amountMinor;
      cost.set(k, c);
    }
    const body: ReportResponse = {
      period,
      from,
      to,
      generatedAt: new Date(app.now()).toISOString(),
      locked: (await app.store.lockedPeriods()).includes(period),
      rows,
      byProjectDay: [...byPD.values()].map(({ unitSet: _, ...e }) => e),
      idleShareByUnit: [...byUnit].map(([unitId, u]) => ({
        unitId,
        ...u,
        idleShare: u.engineHours > 0 ? u.idleHours / u.engineHours : null,
      })),
      costByProject: [...cost.values()].sort((a, b) => a.projectId.localeCompare(b.projectId)),
      allocations: allocations.map(toWireAllocation),
      anomalies: await anomaliesFor(app, { from, to }),
    };
    return { status: 200, body };
  });
}

/** Meter anomalies from consolidation plus held and conflicting readings, as the CLI lists them. */
/** Each unit's lifetime meter hours as of its latest usable reading (units without one are left out). */
async function unitsLifetime(app: AppContext, unitIds: string[]) {
  const out = [];
  for (const unitId of unitIds.sort()) {
    const last = await app.store.latestUsableReading(unitId);
    if (!last) continue;
    out.push(lifetimeHours(unitId, last, await app.store.listAnomalies({ unit: unitId })));
  }
  return out;
}

async function anomaliesFor(
  app: AppContext,
  q: { from?: string | undefined; to?: string | undefined; unit?: string | undefined },
) {
  const held = (
    await app.store.heldReadings({
      unit: q.unit,
      from: q.from,
      to: q.to ? `${q.to}T23:59:59.999Z` : undefined,
    })
  ).map((h) => ({
    unitId: h.unitId,
    kind: h.status === 'conflict' ? ('conflict' as const) : ('clock_invalid' as const),
    ts: h.ts,
    detail: `${h.reason} (batch ${h.batchId}, received ${h.receivedAt})`,
    before: null,
    after: h.engineHours,
  }));
  return [...(await app.store.listAnomalies(q)), ...held];
}

/** The wire Allocation: the store record without its bookkeeping fields. */
export function toWireAllocation<
  T extends { siteId?: unknown; seq?: unknown; rateId?: unknown; updatedAt?: unknown },
>(a: T): Omit<T, 'siteId' | 'seq' | 'rateId' | 'updatedAt'> {
  const { siteId: _s, seq: _q, rateId: _r, updatedAt: _u, ...rest } = a;
  return rest;
}
