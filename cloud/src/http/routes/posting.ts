/**
 * Posting to Odoo (approver) and reading back (viewer): post, dead letters and replay,
 * reconciliation. A run claims each allocation in the store before handing it to the poster
 * (a lease, so a killed replica's claims expire): two runs, in this process or in another
 * replica, never send the same allocation at once (exactly-once relies on it together with
 * the poster's lookup by ref). The claim returns the allocation as stored at that moment; its
 * version is what the posted record is checked against.
 */
import {
  PeriodSchema,
  PostRequestSchema,
  type PostResponse,
  type Project,
  ReplayRequestSchema,
} from '@ironledger/contracts';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import { periodOf } from '../../domain/decisions.js';
import type { StoreLedger } from '../../domain/store-ledger.js';
import type { PostableAllocation, Poster, ProjectHint } from '../../posting/types.js';
import type { AllocationRecord } from '../../store/store.js';
import { requireRole } from '../auth.js';
import { readJson, readQuery } from '../json.js';
import { HttpProblem } from '../problem.js';
import type { Router } from '../router.js';
import { byIds } from './allocations.js';
import { periodRange } from './status.js';

function projectHint(p: Project | undefined): ProjectHint | undefined {
  if (!p) return undefined;
  return { name: p.name, analyticAccountId: p.analyticAccountId, odooProjectId: p.odooProjectId };
}

/** The unit's maintenance.equipment per the last master-data sync (undefined: never synced). */
async function equipmentMirror(
  app: AppContext,
): Promise<(unitId: string) => PostableAllocation['odooEquipment']> {
  const rows = await app.store.listOdooRecords('maintenance.equipment');
  if (rows.length === 0) return () => undefined;
  return (unitId) => {
    const serial = app.master.units.get(unitId)?.serialNo ?? unitId;
    const e = rows.find((r) => r.active && r.serialNo === serial);
    return e ? { odooId: e.odooId, name: e.name } : null;
  };
}

export function postingRoutes(router: Router, app: AppContext, poster: Poster, ledger: StoreLedger): void {
  let queue: Promise<unknown> = Promise.resolve();
  const serialized = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => {});
    return run;
  };

  const toPostable = (a: AllocationRecord): PostableAllocation => ({
    id: a.id,
    version: a.version,
    key: a.key,
    kind: a.kind,
    unitId: a.unitId,
    serialNo: app.master.units.get(a.unitId)?.serialNo,
    projectId: a.projectId,
    project: projectHint(app.master.projects.get(a.projectId)),
    day: a.day,
    engineHours: a.engineHours,
    idleHours: a.idleHours,
    workingHours: a.workingHours,
    workingRateMinor: a.workingRateMinor,
    idleRateMinor: a.idleRateMinor,
    amountMinor: a.amountMinor,
    currency: a.currency,
    correlationId: `allocation:${a.id}`,
    holdReason: a.holdReason,
  });

  let runs = 0;
  /** Hands approved allocations in unlocked periods to the poster; the rest is reported held. */
  async function post(candidates: AllocationRecord[], dryRun: boolean, actor: string): Promise<PostResponse> {
    const locked = new Set(await app.store.lockedPeriods());
    const held: PostResponse['held'] = [];
    let chosen: AllocationRecord[] = [];
    for (const a of candidates) {
      if (a.status !== 'approved') held.push({ id: a.id, reason: `not approved (${a.status})` });
      else if (locked.has(periodOf(a.day)))
        held.push({ id: a.id, reason: `period ${periodOf(a.day)} is locked` });
      else chosen.push(a);
    }
    // A preview (asked for, or the journal with no Odoo configured) changes nothing: no claim.
    // Posting to Odoo claims first and sends the allocation as the claim read it.
    const owner = `${app.replicaId}/post-${++runs}`;
    const claimed: string[] = [];
    if (!dryRun && app.config.posting.odoo !== undefined && chosen.length > 0) {
      const fresh = await app.store.claimForPosting(
        chosen.map((a) => a.id),
        { owner, nowMs: app.now(), leaseMs: app.leases.postingMs },
      );
      const got = new Set(fresh.map((a) => a.id));
      for (const a of chosen)
        if (!got.has(a.id))
          held.push({ id: a.id, reason: 'being posted by another run, or no longer approved' });
      chosen = fresh;
      claimed.push(...got);
    }
    const equipmentOf = await equipmentMirror(app);
    const postable: PostableAllocation[] = chosen.map((a) => ({
      ...toPostable(a),
      odooEquipment: equipmentOf(a.unitId),
    }));
    ledger.actor = actor;
    try {
      const res = postable.length > 0 || dryRun ? await poster.post(postable, { dryRun }) : emptyResponse();
      res.held.push(...held);
      res.considered += held.length;
      app.logger.info(
        {
          event: 'posting_run',
          actor,
          dryRun,
          posted: res.posted.length,
          failed: res.failed.length,
          held: res.held.length,
        },
        'posting run',
      );
      return res;
    } finally {
      ledger.actor = 'poster';
      // What was recorded ended its claim already; the rest (transient failures) is free again.
      if (claimed.length > 0) await app.store.releasePostingClaims(claimed, owner);
    }
  }

  function emptyResponse(): PostResponse {
    const odoo = app.config.posting.odoo;
    return {
      mode: odoo ? 'odoo' : 'dry-run',
      api: null,
      target: app.config.posting.target,
      considered: 0,
      posted: [],
      alreadyInOdoo: [],
      held: [],
      failed: [],
      journal: odoo ? null : app.config.posting.journalPath,
    };
  }

  router.on('POST', '/v1/post', async (ctx) => {
    const who = await requireRole(ctx.req, app.tokens, 'approver');
    const req = await readJson(ctx, PostRequestSchema);
    const body = await serialized(async () => {
      let candidates: AllocationRecord[];
      let notFound: string[] = [];
      if (req.ids && req.ids.length > 0) ({ found: candidates, notFound } = await byIds(app, req.ids));
      else candidates = await app.store.listAllocations({ status: 'approved' });
      const res = await post(candidates, req.dryRun ?? false, who.name);
      for (const id of notFound) res.held.push({ id, reason: 'not found' });
      return res;
    });
    return { status: 200, body };
  });

  router.on('GET', '/v1/deadletters', async (ctx) => {
    await requireRole(ctx.req, app.tokens, 'viewer');
    return { status: 200, body: { deadLetters: await app.store.listDeadLetters() } };
  });

  router.on('POST', '/v1/deadletters/replay', async (ctx) => {
    const who = await requireRole(ctx.req, app.tokens, 'approver');
    const req = await readJson(ctx, ReplayRequestSchema);
    if (!req.all && !(req.ids && req.ids.length > 0))
      throw new HttpProblem(400, 'REQUEST_INVALID', 'name dead letters by ids, or all: true', {
        errors: [{ path: 'ids', message: 'name dead letters by ids, or all: true' }],
      });
    const body = await serialized(async () => {
      const letters = await app.store.listDeadLetters();
      const chosen = req.all
        ? letters
        : letters.filter((d) => req.ids!.includes(d.id) || req.ids!.includes(d.allocationId));
      const candidates = (
        await Promise.all(chosen.map((d) => app.store.getAllocation(d.allocationId)))
      ).filter((a): a is AllocationRecord => a !== null);
      await app.store.audit(
        {
          actor: who.name,
          action: 'deadletter.replay',
          target: chosen.map((d) => d.id).join(','),
          detail: null,
        },
        new Date(app.now()).toISOString(),
      );
      return post(candidates, false, who.name);
    });
    return { status: 200, body };
  });

  router.on('GET', '/v1/reconcile', async (ctx) => {
    await requireRole(ctx.req, app.tokens, 'viewer');
    const { period } = readQuery(ctx, z.object({ period: PeriodSchema }).strict());
    const { from, to } = periodRange(period);
    const local = (await app.store.listAllocations({ status: 'posted', from, to })).map((a) => ({
      ...toPostable(a),
      odooId: a.odoo?.id ?? null,
    }));
    return { status: 200, body: await poster.reconcile(period, local) };
  });
}
