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
import type { AuditEntry } from '@ironledger/contracts';
import type { UnverifiedDecision } from './allocate.js';

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
  } | null,
  req: { key: string; expectedHours: number; reason: string; actor: string; now: string },
): BillUnverifiedDecision {
  if (!a) return { ok: false, status: 404, detail: `allocation ${req.key} not found` };
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
