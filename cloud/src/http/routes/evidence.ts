/**
 * The evidence behind an allocation, the approver's decision on its unverified hours, and the
 * integrity check over posted allocations (README "Billing rules"):
 *   GET  /v1/evidence/{key or id}              viewer    readings, deltas, geofence changes, gaps, resets, lines, hash
 *   POST /v1/evidence/{key}/bill-unverified    approver  bill the unverified hours the approver saw (audited):
 *                                                        an unposted allocation is repriced with them in the
 *                                                        same compare-and-set, at the version the approver saw
 *   GET  /v1/verify?from&to                    viewer    every posted allocation's readings still hash the same
 *
 * An allocation's evidence (kept with it since it was priced, frozen once posted) lists the
 * readings it rests on with a sha256 of each; `verify` re-reads them from the store and
 * names every allocation whose readings changed or vanished.
 */
import {
  BillingEvidenceSchema,
  type BillingEvidenceWire,
  BillUnverifiedRequestSchema,
  type EvidenceReading,
  type EvidenceResponse,
  type Site,
  VerifyQuerySchema,
  type VerifyResponse,
} from '@ironledger/contracts';
import { lifetimeHours } from '../../allocation/lifetime-hours.js';
import {
  decideBillUnverified,
  repriceWithDecision,
  type UnverifiedDecisions,
} from '../../allocation/unverified-decisions.js';
import type { ConsolidationRunner } from '../../consolidation/consolidation-runner.js';
import type { AppContext } from '../../context.js';
import type { AllocationRecord, StoredReading } from '../../store/store.js';
import { readingDigest, readingsDigest } from '../../usage/consolidate.js';
import { placeAt } from '../../usage/geofence.js';
import { requireRole } from '../auth.js';
import { readJson, readQuery } from '../json.js';
import { HttpProblem } from '../problem.js';
import type { Router } from '../router.js';
import { toWireAllocation } from './status.js';

const NOWHERE: Site = {
  siteId: 'UNASSIGNED',
  timeZone: 'UTC',
  defaultProjectId: 'UNASSIGNED',
  geofences: [],
};
/** A local day starts at most 14 h before its UTC date (UTC+14). */
const MAX_ZONE_AHEAD_MS = 14 * 3_600_000;

function billingOf(a: AllocationRecord): BillingEvidenceWire | null {
  const r = BillingEvidenceSchema.safeParse((a.evidence as { billing?: unknown }).billing);
  return r.success ? r.data : null;
}

interface ReadingCheck {
  readings: EvidenceReading[];
  current: string | null;
  changed: string[];
  missing: string[];
}

/** Re-reads the readings an allocation rests on and compares each with its stored hash. */
async function checkReadings(
  app: AppContext,
  a: AllocationRecord,
  b: BillingEvidenceWire,
): Promise<ReadingCheck> {
  const out: ReadingCheck = { readings: [], current: null, changed: [], missing: [] };
  if (b.readings.length === 0) return out;
  const firstMs = Date.parse(b.readings[0]!.ts);
  const lastMs = Date.parse(b.readings[b.readings.length - 1]!.ts);
  const rows: StoredReading[] = await app.store.usableReadings(a.unitId, firstMs);
  const byTs = new Map(rows.filter((r) => r.tsMs >= firstMs && r.tsMs <= lastMs).map((r) => [r.ts, r]));
  const unit = app.master.units.get(a.unitId);
  const hashes: string[] = [];
  let prev: StoredReading | null = null;
  for (const listed of b.readings) {
    const cur = byTs.get(listed.ts) ?? null;
    const sha = cur ? readingDigest(a.unitId, cur) : null;
    if (!cur) out.missing.push(listed.ts);
    else if (sha !== listed.sha256) out.changed.push(listed.ts);
    if (sha) hashes.push(sha);
    const home =
      (unit?.siteId ? app.master.sites.get(unit.siteId) : undefined) ??
      (cur?.siteId ? app.master.sites.get(cur.siteId) : undefined) ??
      NOWHERE;
    out.readings.push({
      ts: listed.ts,
      engineHours: cur?.engineHours ?? null,
      idleHours: cur?.idleHours ?? null,
      odometerKm: cur?.odometerKm ?? null,
      position: cur?.position ?? null,
      projectId: cur ? placeAt(app.master.sites.values(), cur.position, home).projectId : null,
      batchId: cur?.batchId ?? null,
      gatewayId: cur?.gatewayId ?? null,
      receivedAt: cur?.receivedAt ?? null,
      engineDelta: cur && prev ? round6(cur.engineHours - prev.engineHours) : null,
      idleDelta:
        cur && prev && cur.idleHours !== null && prev.idleHours !== null
          ? round6(cur.idleHours - prev.idleHours)
          : null,
      storedSha256: listed.sha256,
      currentSha256: sha,
      matches: sha === listed.sha256,
    });
    prev = cur;
  }
  out.current = out.missing.length === 0 ? readingsDigest(hashes) : null;
  return out;
}

const round6 = (x: number) => Math.round(x * 1e6) / 1e6;

export async function buildEvidence(
  app: AppContext,
  a: AllocationRecord,
  decisions: UnverifiedDecisions,
): Promise<EvidenceResponse> {
  const billing = billingOf(a);
  const check = billing ? await checkReadings(app, a, billing) : null;
  const readings = check?.readings ?? [];
  const geofenceChanges: EvidenceResponse['geofenceChanges'] = [];
  for (let i = 1; i < readings.length; i++) {
    const from = readings[i - 1]!.projectId;
    const to = readings[i]!.projectId;
    if (from && to && from !== to)
      geofenceChanges.push({ ts: readings[i]!.ts, fromProjectId: from, toProjectId: to });
  }
  const stored = billing?.readingsSha256 ?? null;
  const current = check?.current ?? null;
  // Lifetime meter hours at the allocation's last reading: current meter + replaced meters.
  const lastMeter = [...readings].reverse().find((r) => r.engineHours !== null);
  const lifetime = lastMeter
    ? lifetimeHours(
        a.unitId,
        { ts: lastMeter.ts, engineHours: lastMeter.engineHours as number },
        await app.store.listAnomalies({ unit: a.unitId, to: a.day }),
      )
    : null;
  return {
    ...toWireAllocation(a),
    billing,
    readings,
    geofenceChanges,
    resets: a.evidence.anomalies.filter((x) => x.kind === 'meter_reset'),
    sha256: { stored, current, matches: stored !== null && stored === current },
    unverifiedDecision: decisions.get(a) ?? null,
    lifetime,
    generatedAt: new Date(app.now()).toISOString(),
  };
}

export function evidenceRoutes(
  router: Router,
  app: AppContext,
  deps: { runner: ConsolidationRunner; decisions: UnverifiedDecisions },
): void {
  router.on('GET', '/v1/evidence/:key', async (ctx) => {
    await requireRole(ctx.req, app.tokens, 'viewer');
    const ref = ctx.params.key!;
    const a = (await app.store.getAllocationByKey(ref)) ?? (await app.store.getAllocation(ref));
    if (!a) throw HttpProblem.from('NOT_FOUND', `allocation ${ref} not found`);
    return { status: 200, body: await buildEvidence(app, a, deps.decisions) };
  });

  router.on('POST', '/v1/evidence/:key/bill-unverified', async (ctx) => {
    const who = await requireRole(ctx.req, app.tokens, 'approver');
    const req = await readJson(ctx, BillUnverifiedRequestSchema);
    const key = ctx.params.key!;
    const now = new Date(app.now()).toISOString();
    const a = await app.store.getAllocationByKey(key);
    const d = decideBillUnverified(a, { key, ...req, actor: who.name, now });
    if (!d.ok) throw HttpProblem.from(d.status === 404 ? 'NOT_FOUND' : 'CONFLICT', d.detail);
    const fig = a!;
    const unit = app.master.units.get(fig.unitId);
    const reprice = repriceWithDecision(
      fig,
      unit ? { unitId: unit.unitId, equipmentClass: unit.equipmentClass, serialNo: unit.serialNo } : null,
      [...app.master.rates],
      d,
      now,
    );
    const logBilled = (how: string) =>
      app.logger.info(
        {
          event: 'allocation.bill_unverified',
          allocationKey: key,
          actor: who.name,
          hours: d.decision.hours,
          repriced: how,
        },
        'unverified hours billed by decision',
      );
    if (reprice.ok) {
      // One step: the decision (audited) and the price with it, at the version the approver saw.
      const { stale } = await app.store.applyDecisions([reprice.change], now);
      if (stale.length > 0)
        throw HttpProblem.from(
          'CONFLICT',
          `allocation ${key} changed since you looked (version ${fig.version}): look again`,
        );
      deps.decisions.set(fig, d.decision);
      // A consolidation that loaded the decisions before this commit (here or on another
      // replica) may still price the day without it: the unit is marked dirty after the
      // commit, so the next run, which reloads every decision, prices it with the hours.
      await app.store.markDirty(fig.unitId, Date.parse(`${fig.day}T00:00:00Z`) - MAX_ZONE_AHEAD_MS, now);
      logBilled('in_place');
      const after = await app.store.getAllocation(fig.id);
      return {
        status: 200,
        body: { key, hours: d.decision.hours, allocation: after ? toWireAllocation(after) : null },
      };
    }
    await app.store.audit({ actor: who.name, ...d.audit }, now);
    deps.decisions.set(fig, d.decision);
    logBilled(reprice.reason);
    // A posted allocation is never edited: consolidation books the difference as an adjustment.
    await app.store.markDirty(fig.unitId, Date.parse(`${fig.day}T00:00:00Z`) - MAX_ZONE_AHEAD_MS, now);
    await deps.runner.run();
    const after = (
      await app.store.listAllocations({
        unit: fig.unitId,
        project: fig.projectId,
        from: fig.day,
        to: fig.day,
      })
    )
      .filter((x) => x.day === fig.day && x.status !== 'superseded')
      .sort((x, y) => y.seq - x.seq)[0];
    return {
      status: 200,
      body: { key, hours: d.decision.hours, allocation: after ? toWireAllocation(after) : null },
    };
  });

  router.on('GET', '/v1/verify', async (ctx) => {
    await requireRole(ctx.req, app.tokens, 'viewer');
    const q = readQuery(ctx, VerifyQuerySchema);
    const posted = await app.store.listAllocations({ status: 'posted', from: q.from, to: q.to });
    const res: VerifyResponse = { checked: 0, withoutEvidence: 0, failed: [] };
    for (const a of posted) {
      const billing = billingOf(a);
      if (!billing?.readingsSha256) {
        res.withoutEvidence++;
        continue;
      }
      res.checked++;
      const c = await checkReadings(app, a, billing);
      if (c.changed.length > 0 || c.missing.length > 0 || c.current !== billing.readingsSha256) {
        res.failed.push({
          key: a.key,
          reason:
            c.changed.length + c.missing.length > 0
              ? `${c.changed.length} reading(s) changed, ${c.missing.length} missing since it was priced`
              : 'the readings no longer hash to the stored sha256',
          changedReadings: c.changed,
          missingReadings: c.missing,
        });
      }
    }
    if (res.failed.length > 0)
      app.logger.error(
        { event: 'verify.failed', failed: res.failed.map((f) => f.key) },
        'posted evidence changed',
      );
    return { status: 200, body: res };
  });
}
