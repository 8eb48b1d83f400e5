/**
 * Approval and rejection, pure: from the allocations as stored now, decide the patches and
 * audit entries. Approving an approved allocation is `unchanged` (harmless to repeat);
 * posted, superseded, held (no rate) or locked-period allocations are `refused` with a reason.
 * A rejection is final until an approver reopens it, with a reason: it is pending again.
 */
import type { DecisionResponse } from '@ironledger/contracts';
import type { AllocationChange, AllocationPatch, AllocationRecord, AuditRecord } from './types.js';

/** The answer to give, and the compare-and-set changes (each on the version it was read at). */
export interface Decision {
  response: DecisionResponse;
  changes: AllocationChange[];
}

function change(a: AllocationRecord, patch: AllocationPatch, audit: AuditRecord): AllocationChange {
  return { id: a.id, expect: { version: a.version, status: a.status }, patch, audit: [audit] };
}

/**
 * Applies the store's answer to a decision: a change whose allocation moved on since it was
 * read (consolidation recomputed it, another approver acted) is refused, never applied to
 * figures nobody saw.
 */
export function settleDecision(
  d: Decision,
  stale: Array<{ id: string; current: AllocationRecord | null }>,
): DecisionResponse {
  if (stale.length === 0) return d.response;
  const staleIds = new Set(stale.map((s) => s.id));
  const read = new Map(d.changes.map((c) => [c.id, c.expect]));
  return {
    ...d.response,
    changed: d.response.changed.filter((id) => !staleIds.has(id)),
    refused: [
      ...d.response.refused,
      ...stale.map(({ id, current }) => {
        const was = read.get(id);
        return {
          id,
          reason: current
            ? `changed meanwhile (version ${was?.version} ${was?.status} → version ${current.version} ${current.status}, engine ${current.engineHours} h, amount ${current.amountMinor}): list it again and decide`
            : 'no longer exists',
        };
      }),
    ],
  };
}

export function periodOf(day: string): string {
  return day.slice(0, 7);
}

function empty(): Decision {
  return { response: { changed: [], unchanged: [], refused: [], notFound: [] }, changes: [] };
}

export function decideApprove(
  found: AllocationRecord[],
  notFound: string[],
  ctx: { actor: string; now: string; lockedPeriods: ReadonlySet<string> },
): Decision {
  const d = empty();
  d.response.notFound.push(...notFound);
  for (const a of found) {
    if (a.status === 'approved') d.response.unchanged.push(a.id);
    else if (a.status === 'posted') d.response.refused.push({ id: a.id, reason: 'already posted' });
    else if (a.status === 'superseded')
      d.response.refused.push({ id: a.id, reason: 'superseded by newer usage' });
    else if (a.status === 'rejected')
      d.response.refused.push({ id: a.id, reason: `rejected: ${a.rejectReason ?? ''}`.trim() });
    else if (ctx.lockedPeriods.has(periodOf(a.day)))
      d.response.refused.push({ id: a.id, reason: `period ${periodOf(a.day)} is locked` });
    else if (a.holdReason) d.response.refused.push({ id: a.id, reason: `held: ${a.holdReason}` });
    else {
      d.response.changed.push(a.id);
      d.changes.push(
        change(
          a,
          { status: 'approved', approvedBy: ctx.actor, approvedAt: ctx.now, updatedAt: ctx.now },
          {
            actor: ctx.actor,
            action: 'allocation.approve',
            target: a.key,
            detail: JSON.stringify({
              id: a.id,
              version: a.version,
              engineHours: a.engineHours,
              amountMinor: a.amountMinor,
              currency: a.currency,
            }),
          },
        ),
      );
    }
  }
  return d;
}

export function decideReject(
  found: AllocationRecord[],
  notFound: string[],
  ctx: { actor: string; now: string; reason: string; lockedPeriods: ReadonlySet<string> },
): Decision {
  const d = empty();
  d.response.notFound.push(...notFound);
  for (const a of found) {
    if (a.status === 'rejected') d.response.unchanged.push(a.id);
    else if (a.status === 'posted')
      d.response.refused.push({ id: a.id, reason: 'already posted: correct it with an adjustment' });
    else if (a.status === 'superseded')
      d.response.refused.push({ id: a.id, reason: 'superseded by newer usage' });
    else if (ctx.lockedPeriods.has(periodOf(a.day)))
      d.response.refused.push({ id: a.id, reason: `period ${periodOf(a.day)} is locked` });
    else {
      d.response.changed.push(a.id);
      d.changes.push(
        change(
          a,
          {
            status: 'rejected',
            rejectedBy: ctx.actor,
            rejectedAt: ctx.now,
            rejectReason: ctx.reason,
            approvedBy: null,
            approvedAt: null,
            updatedAt: ctx.now,
          },
          { actor: ctx.actor, action: 'allocation.reject', target: a.key, detail: ctx.reason },
        ),
      );
    }
  }
  return d;
}

export function decideReopen(
  found: AllocationRecord[],
  notFound: string[],
  ctx: { actor: string; now: string; reason: string; lockedPeriods: ReadonlySet<string> },
): Decision {
  const d = empty();
  d.response.notFound.push(...notFound);
  for (const a of found) {
    if (a.status === 'pending') d.response.unchanged.push(a.id);
    else if (a.status !== 'rejected')
      d.response.refused.push({
        id: a.id,
        reason: `only a rejected allocation can be reopened (${a.status})`,
      });
    else if (ctx.lockedPeriods.has(periodOf(a.day)))
      d.response.refused.push({ id: a.id, reason: `period ${periodOf(a.day)} is locked` });
    else {
      d.response.changed.push(a.id);
      d.changes.push(
        change(
          a,
          { status: 'pending', rejectedBy: null, rejectedAt: null, rejectReason: null, updatedAt: ctx.now },
          {
            actor: ctx.actor,
            action: 'allocation.reopen',
            target: a.key,
            detail: JSON.stringify({
              reason: ctx.reason,
              rejectedBy: a.rejectedBy,
              rejectReason: a.rejectReason,
            }),
          },
        ),
      );
    }
  }
  return d;
}
