/** Allocations: list and read (viewer), approve, reject and reopen a rejection (approver). */
import {
  AllocationFilterSchema,
  ApproveRequestSchema,
  RejectRequestSchema,
  ReopenRequestSchema,
} from '@ironledger/contracts';
import type { AppContext } from '../../context.js';
import { decideApprove, decideReject, decideReopen } from '../../domain/decisions.js';
import type { AllocationRecord } from '../../store/store.js';
import { requireRole } from '../auth.js';
import { readJson, readQuery } from '../json.js';
import { HttpProblem } from '../problem.js';
import type { Router } from '../router.js';
import { toWireAllocation } from './status.js';

export function allocationRoutes(router: Router, app: AppContext): void {
  router.on('GET', '/v1/allocations', (ctx) => {
    requireRole(ctx.req, app.tokens, 'viewer');
    const filter = readQuery(ctx, AllocationFilterSchema.strict());
    return { status: 200, body: { allocations: app.store.listAllocations(filter).map(toWireAllocation) } };
  });

  router.on('GET', '/v1/allocations/:id', (ctx) => {
    requireRole(ctx.req, app.tokens, 'viewer');
    const a = app.store.getAllocation(ctx.params.id!);
    if (!a) throw HttpProblem.from('NOT_FOUND', `allocation ${ctx.params.id} not found`);
    return { status: 200, body: toWireAllocation(a) };
  });

  router.on('POST', '/v1/allocations/approve', async (ctx) => {
    const who = requireRole(ctx.req, app.tokens, 'approver');
    const req = await readJson(ctx, ApproveRequestSchema);
    let found: AllocationRecord[];
    let notFound: string[] = [];
    if (req.ids && req.ids.length > 0) {
      ({ found, notFound } = byIds(app, req.ids));
    } else if (req.filter) {
      found = app.store.listAllocations({ ...req.filter, status: req.filter.status ?? 'pending' });
    } else {
      found = app.store.listAllocations({ status: 'pending' });
    }
    const now = new Date(app.now()).toISOString();
    const d = decideApprove(found, notFound, {
      actor: who.name,
      now,
      lockedPeriods: new Set(app.store.lockedPeriods()),
    });
    app.store.applyDecisions(d.changes, d.audit);
    app.logger.info(
      { event: 'allocations_approved', actor: who.name, changed: d.response.changed.length },
      'approve',
    );
    return { status: 200, body: d.response };
  });

  router.on('POST', '/v1/allocations/reject', async (ctx) => {
    const who = requireRole(ctx.req, app.tokens, 'approver');
    const req = await readJson(ctx, RejectRequestSchema);
    const { found, notFound } = byIds(app, req.ids);
    const now = new Date(app.now()).toISOString();
    const d = decideReject(found, notFound, {
      actor: who.name,
      now,
      reason: req.reason,
      lockedPeriods: new Set(app.store.lockedPeriods()),
    });
    app.store.applyDecisions(d.changes, d.audit);
    app.logger.info(
      { event: 'allocations_rejected', actor: who.name, changed: d.response.changed.length },
      'reject',
    );
    return { status: 200, body: d.response };
  });

  router.on('POST', '/v1/allocations/reopen', async (ctx) => {
    const who = requireRole(ctx.req, app.tokens, 'approver');
    const req = await readJson(ctx, ReopenRequestSchema);
    const { found, notFound } = byIds(app, req.ids);
    const d = decideReopen(found, notFound, {
      actor: who.name,
      now: new Date(app.now()).toISOString(),
      reason: req.reason,
      lockedPeriods: new Set(app.store.lockedPeriods()),
    });
    app.store.applyDecisions(d.changes, d.audit);
    app.logger.info(
      { event: 'allocations_reopened', actor: who.name, changed: d.response.changed.length },
      'reopen',
    );
    return { status: 200, body: d.response };
  });
}

/** Ids as given (numeric id or allocation key); unknown ones are reported, not fatal. */
export function byIds(app: AppContext, ids: string[]): { found: AllocationRecord[]; notFound: string[] } {
  const found: AllocationRecord[] = [];
  const notFound: string[] = [];
  for (const id of [...new Set(ids)]) {
    const a = app.store.getAllocation(id) ?? app.store.getAllocationByKey(id);
    if (a) found.push(a);
    else notFound.push(id);
  }
  return { found, notFound };
}
