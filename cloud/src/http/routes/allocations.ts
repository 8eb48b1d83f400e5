/** Allocations: list and read (viewer), approve, reject and reopen a rejection (approver). */
import {
  AllocationFilterSchema,
  ApproveRequestSchema,
  RejectRequestSchema,
  ReopenRequestSchema,
} from '@ironledger/contracts';
import type { AppContext } from '../../context.js';
import {
  type Decision,
  decideApprove,
  decideReject,
  decideReopen,
  settleDecision,
} from '../../domain/decisions.js';
import type { AllocationRecord } from '../../store/store.js';
import { requireRole } from '../auth.js';
import { readJson, readQuery } from '../json.js';
import { HttpProblem } from '../problem.js';
import type { Router } from '../router.js';
import { toWireAllocation } from './status.js';

export function allocationRoutes(router: Router, app: AppContext): void {
  router.on('GET', '/v1/allocations', async (ctx) => {
    await requireRole(ctx.req, app.tokens, 'viewer');
    const filter = readQuery(ctx, AllocationFilterSchema.strict());
    return {
      status: 200,
      body: { allocations: (await app.store.listAllocations(filter)).map(toWireAllocation) },
    };
  });

  router.on('GET', '/v1/allocations/:id', async (ctx) => {
    await requireRole(ctx.req, app.tokens, 'viewer');
    const a = await app.store.getAllocation(ctx.params.id!);
    if (!a) throw HttpProblem.from('NOT_FOUND', `allocation ${ctx.params.id} not found`);
    return { status: 200, body: toWireAllocation(a) };
  });

  router.on('POST', '/v1/allocations/approve', async (ctx) => {
    const who = await requireRole(ctx.req, app.tokens, 'approver');
    const req = await readJson(ctx, ApproveRequestSchema);
    let found: AllocationRecord[];
    let notFound: string[] = [];
    if (req.ids && req.ids.length > 0) {
      ({ found, notFound } = await byIds(app, req.ids));
    } else if (req.filter) {
      found = await app.store.listAllocations({ ...req.filter, status: req.filter.status ?? 'pending' });
    } else {
      found = await app.store.listAllocations({ status: 'pending' });
    }
    const now = new Date(app.now()).toISOString();
    const d = decideApprove(found, notFound, {
      actor: who.name,
      now,
      lockedPeriods: new Set(await app.store.lockedPeriods()),
    });
    const response = await apply(app, d, now);
    app.logger.info(
      { event: 'allocations_approved', actor: who.name, changed: response.changed.length },
      'approve',
    );
    return { status: 200, body: response };
  });

  router.on('POST', '/v1/allocations/reject', async (ctx) => {
    const who = await requireRole(ctx.req, app.tokens, 'approver');
    const req = await readJson(ctx, RejectRequestSchema);
    const { found, notFound } = await byIds(app, req.ids);
    const now = new Date(app.now()).toISOString();
    const d = decideReject(found, notFound, {
      actor: who.name,
      now,
      reason: req.reason,
      lockedPeriods: new Set(await app.store.lockedPeriods()),
    });
    const response = await apply(app, d, now);
    app.logger.info(
      { event: 'allocations_rejected', actor: who.name, changed: response.changed.length },
      'reject',
    );
    return { status: 200, body: response };
  });

  router.on('POST', '/v1/allocations/reopen', async (ctx) => {
    const who = await requireRole(ctx.req, app.tokens, 'approver');
    const req = await readJson(ctx, ReopenRequestSchema);
    const { found, notFound } = await byIds(app, req.ids);
    const now = new Date(app.now()).toISOString();
    const d = decideReopen(found, notFound, {
      actor: who.name,
      now,
      reason: req.reason,
      lockedPeriods: new Set(await app.store.lockedPeriods()),
    });
    const response = await apply(app, d, now);
    app.logger.info(
      { event: 'allocations_reopened', actor: who.name, changed: response.changed.length },
      'reopen',
    );
    return { status: 200, body: response };
  });
}

/** Compare-and-set: what moved on since it was read is refused as changed meanwhile. */
async function apply(app: AppContext, d: Decision, now: string) {
  const { stale } = await app.store.applyDecisions(d.changes, now);
  if (stale.length > 0)
    app.logger.info(
      { event: 'allocations_stale', ids: stale.map((x) => x.id) },
      'allocations changed while being decided',
    );
  return settleDecision(d, stale);
}

/** Ids as given (numeric id or allocation key); unknown ones are reported, not fatal. */
export async function byIds(
  app: AppContext,
  ids: string[],
): Promise<{ found: AllocationRecord[]; notFound: string[] }> {
  const found: AllocationRecord[] = [];
  const notFound: string[] = [];
  for (const id of [...new Set(ids)]) {
    const a = (await app.store.getAllocation(id)) ?? (await app.store.getAllocationByKey(id));
    if (a) found.push(a);
    else notFound.push(id);
  }
  return { found, notFound };
}
