/**
 * Approvers' decisions to bill a figure's unverified hours (a reset's new-meter starting
 * value), pure. A decision is an audit entry (`allocation.bill_unverified`, target
 * `unitId|projectId|day`, detail JSON `{hours, reason, key}`): the audit log is its only
 * record, so a restart reloads it and nothing bills unverified hours without one.
 *
 * A decision names the hours the approver saw; pricing bills at most that, so hours that
 * appear later (another reset the same day) need a new decision (compare-and-set on the
 * figure's unverified hours: the request must name the hours the allocation shows now).
 */
import type { AuditEntry, Rate } from '@ironledger/contracts';
import type { AllocationChange, AllocationRecord, UnitInfo, UsageFigure } from '../domain/types.js';
import type { ConsolidatedFigure } from '../usage/consolidate.js';
import { type BillingEvidence, priceFigure, type UnverifiedDecision } from './allocate.js';

export const BILL_UNVERIFIED_ACTION = 'allocation.bill_unverified';

export const figureTarget = (f: { unitId: string; projectId: string; day: string }) =>
  `${f.unitId}|${f.projectId}|${f.day}`;

export class UnverifiedDecisions {
  private readonly byTarget = new Map<string, UnverifiedDecision>();

  /** Replaces what is known with the audit entries, oldest first; the latest decision for a figure wins. */
  load(entries: readonly AuditEntry[]): this {
    this.byTarget.clear();
    const sorted = [...entries].filter((e) => e.action === BILL_UNVERIFIED_ACTION);
    sorted.sort((a, b) => a.at.localeCompare(b.at));
    for (const e of sorted) {
      try {
        const d = JSON.parse(e.detail ?? '{}') as { hours?: unknown; reason?: unknown };
        if (typeof d.hours !== 'number' || !(d.hours >= 0)) continue;
        this.byTarget.set(e.target, {
          hours: d.hours,
          by: e.actor,
          at: e.at,
          reason: String(d.reason ?? ''),
        });
      } catch {
        // a malformed detail is not a decision
      }
    }
    return this;
  }

  get(f: { unitId: string; projectId: string; day: string }): UnverifiedDecision | undefined {
    return this.byTarget.get(figureTarget(f));
  }

  set(f: { unitId: string; projectId: string; day: string }, d: UnverifiedDecision): void {
    this.byTarget.set(figureTarget(f), d);
  }
}

export type BillUnverifiedDecision =
  | { ok: true; decision: UnverifiedDecision; audit: { action: string; target: string; detail: string } }
  | { ok: false; status: 404 | 409; detail: string };

/**
 * Decides an approver's request against the allocation as stored now. `expectedHours` is what
 * the approver saw; if the allocation shows other unverified hours, the request is stale.
 */
export function decideBillUnverified(
  a: {
    key: string;
    unitId: string;
    projectId: string;
    day: string;
    status: string;
    evidence: object;
    version?: number;
  } | null,
  req: {
    key: string;
    expectedHours: number;
    /** The allocation's version the approver saw, when the client names it. */
    expectedVersion?: number | undefined;
    reason: string;
    actor: string;
    now: string;
  },
): BillUnverifiedDecision {
  if (!a) return { ok: false, status: 404, detail: `allocation ${req.key} not found` };
  if (req.expectedVersion !== undefined && 'version' in a && a.version !== req.expectedVersion)
    return {
      ok: false,
      status: 409,
      detail: `allocation ${a.key} is at version ${String(a.version)}, not ${req.expectedVersion}: it changed since you looked`,
    };
  if (a.status === 'superseded' || a.status === 'rejected')
    return { ok: false, status: 409, detail: `allocation ${a.key} is ${a.status}` };
  const hours = (a.evidence as { billing?: { unverifiedHours?: number } }).billing?.unverifiedHours ?? 0;
  if (hours <= 0) return { ok: false, status: 409, detail: `allocation ${a.key} has no unverified hours` };
  if (Math.abs(hours - req.expectedHours) > 1e-9)
    return {
      ok: false,
      status: 409,
      detail: `allocation ${a.key} now shows ${hours} unverified hours, not ${req.expectedHours}: look again`,
    };
  return {
    ok: true,
    decision: { hours, by: req.actor, at: req.now, reason: req.reason },
    audit: {
      action: BILL_UNVERIFIED_ACTION,
      target: figureTarget(a),
      detail: JSON.stringify({ key: a.key, hours, reason: req.reason }),
    },
  };
}

/**
 * The usage figure an allocation was priced from, rebuilt from what it keeps: its hours and
 * the contractor pricing's evidence (status hours, unverified and inferred hours, gaps,
 * readings and their hash). Pricing it again with the same rates gives the same result.
 */
export function figureOfAllocation(a: AllocationRecord): UsageFigure & Pick<ConsolidatedFigure, 'billing'> {
  const b = (a.evidence as { billing?: BillingEvidence }).billing;
  return {
    unitId: a.unitId,
    projectId: a.projectId,
    siteId: a.siteId,
    day: a.day,
    engineHours: a.engineHours,
    idleHours: a.idleHours,
    workingHours: a.workingHours,
    distanceKm: null,
    readings: a.evidence.readings,
    anomalies: a.evidence.anomalies,
    meterFrom: a.evidence.meterFrom,
    meterTo: a.evidence.meterTo,
    billing: {
      statusHours: b?.statusHours ?? { working: a.workingHours, idle: a.idleHours, standby: 0, offHours: 0 },
      unverifiedHours: b?.unverifiedHours ?? 0,
      inferredHours: b?.inferredHours ?? 0,
      gaps: b?.gaps ?? [],
      readings: b?.readings ?? [],
      readingsSha256: b?.readingsSha256 ?? null,
    } as ConsolidatedFigure['billing'],
  };
}

export type RepriceResult = { ok: true; change: AllocationChange } | { ok: false; reason: string };

/**
 * The approver's decision and the allocation priced with it, as one compare-and-set at the
 * version the approver saw (the store applies the change and its audit entries together, or
 * answers `stale`). Only an unposted `normal` allocation is repriced in place, the way
 * consolidation would: an approved one goes back to pending (the approver saw another
 * amount); a posted one is never edited (its difference is an adjustment consolidation books).
 */
export function repriceWithDecision(
  a: AllocationRecord,
  unit: UnitInfo | null,
  rates: readonly Rate[],
  decided: Extract<BillUnverifiedDecision, { ok: true }>,
  at: string,
): RepriceResult {
  if (a.kind !== 'normal' || (a.status !== 'pending' && a.status !== 'approved'))
    return { ok: false, reason: `${a.status} ${a.kind} allocation: repriced by consolidation` };
  if (!unit) return { ok: false, reason: `unit ${a.unitId} is not in the master data` };
  const priced = priceFigure(figureOfAllocation(a), unit, rates, decided.decision);
  if (!priced.ok) return { ok: false, reason: priced.holdReason };
  const change: AllocationChange = {
    id: a.id,
    expect: { version: a.version, status: a.status },
    patch: {
      rateId: priced.rateId,
      workingRateMinor: priced.workingRateMinor,
      idleRateMinor: priced.idleRateMinor,
      currency: priced.currency,
      amountMinor: priced.amountMinor,
      holdReason: null,
      evidence: { ...a.evidence, billing: priced.billing } as AllocationRecord['evidence'],
      updatedAt: at,
    },
    audit: [{ actor: decided.decision.by, ...decided.audit }],
  };
  if (a.status === 'approved') {
    Object.assign(change.patch, { status: 'pending', approvedBy: null, approvedAt: null });
    change.audit.push({
      actor: decided.decision.by,
      action: 'allocation.reopen',
      target: a.key,
      detail: `unverified hours billed after approval: amount ${a.amountMinor} → ${priced.amountMinor}`,
    });
  }
  return { ok: true, change };
}
