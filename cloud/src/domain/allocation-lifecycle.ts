/**
 * The allocation lifecycle after each consolidation, pure: given a unit's fresh usage figures
 * and its stored allocations, decide what to create and what to change.
 *
 * Per (unit, project, day):
 * - nothing posted yet: one `normal` allocation mirrors the figure. Pending → recomputed in
 *   place; approved → recomputed and back to pending (audited: the approver saw other
 *   numbers); rejected → reopened as pending when the figure changes (audited); a figure that
 *   drops to zero supersedes a pending one.
 * - something posted: posted allocations are never edited. The difference between the figure
 *   and what is booked (Σ posted) becomes one open `adjustment` (key seq+1, `adjusts` = the
 *   posted normal), which needs approval like any other; it is recomputed in place while
 *   open and superseded if the difference disappears.
 * - no rate in force (or an unknown unit): pending with `holdReason`; approval is refused.
 */
import type { Rate, Unit } from '@ironledger/contracts';
import type {
  AllocationChanges,
  AllocationPatch,
  AllocationRecord,
  NewAllocation,
  PriceResult,
  RateCard,
  UnitInfo,
  UsageFigure,
} from './types.js';

export interface Pricing {
  price(fig: UsageFigure, unit: UnitInfo, rates: readonly RateCard[]): PriceResult;
  key(parts: { unitId: string; projectId: string; day: string; seq: number }): string;
}

export interface PlanInput {
  unitId: string;
  unit: Unit | null;
  figures: UsageFigure[];
  existing: AllocationRecord[];
  rates: readonly Rate[];
  now: string;
  pricing: Pricing;
}

export interface Plan extends AllocationChanges {
  created: number;
  adjustments: number;
}

/** Hours differing by less than this are equal (a millionth of an hour: 3.6 ms). */
const HOURS_EPSILON = 1e-6;
/** ISO 4217 "no currency": an allocation with no rate has no money yet. */
const NO_CURRENCY = 'XXX';

export function toRateCard(r: Rate): RateCard {
  return {
    id: r.rateId,
    unitId: r.unitId,
    equipmentClass: r.equipmentClass,
    workingRateMinor: r.workingRateMinor,
    idleRateMinor: r.idleRateMinor,
    currency: r.currency,
    effectiveFrom: r.effectiveFrom,
  };
}

interface Values {
  engineHours: number;
  idleHours: number;
  workingHours: number;
  rateId: string | null;
  workingRateMinor: number;
  idleRateMinor: number;
  currency: string;
  amountMinor: number;
  holdReason: string | null;
  evidence: AllocationRecord['evidence'];
}

const r9 = (x: number) => Math.round(x * 1e9) / 1e9;

function sameValues(a: Values, b: Values): boolean {
  return (
    Math.abs(a.engineHours - b.engineHours) < HOURS_EPSILON &&
    Math.abs(a.idleHours - b.idleHours) < HOURS_EPSILON &&
    a.amountMinor === b.amountMinor &&
    a.currency === b.currency &&
    a.rateId === b.rateId &&
    a.holdReason === b.holdReason &&
    a.evidence.readings === b.evidence.readings &&
    a.evidence.anomalies.length === b.evidence.anomalies.length
  );
}

function zeroFigure(unitId: string, projectId: string, day: string, siteId: string): UsageFigure {
  return {
    unitId,
    projectId,
    siteId,
    day,
    engineHours: 0,
    idleHours: 0,
    workingHours: 0,
    distanceKm: null,
    readings: 0,
    anomalies: [],
    meterFrom: null,
    meterTo: null,
  };
}

/**
 * Nothing to allocate: no hours, no unverified hours to decide on, and nothing the rate card
 * charges (a contractor card also prices standby and off-hours).
 */
function isZero(f: UsageFigure, p?: PriceResult): boolean {
  const unverified = (f as { billing?: { unverifiedHours?: number } }).billing?.unverifiedHours ?? 0;
  return (
    Math.abs(f.engineHours) < HOURS_EPSILON &&
    Math.abs(f.idleHours) < HOURS_EPSILON &&
    unverified < HOURS_EPSILON &&
    !(p?.ok && p.amountMinor !== 0)
  );
}

export function planAllocations(input: PlanInput): Plan {
  const { unitId, unit, now, pricing } = input;
  const rates = input.rates.map(toRateCard);
  const plan: Plan = { create: [], update: [], audit: [], created: 0, adjustments: 0 };

  const price = (fig: UsageFigure): PriceResult =>
    unit
      ? pricing.price(
          fig,
          { unitId: unit.unitId, equipmentClass: unit.equipmentClass, serialNo: unit.serialNo },
          rates,
        )
      : { ok: false, holdReason: `unit ${unitId} is not in the master data` };

  const values = (fig: UsageFigure, p: PriceResult, booked?: Values): Values => {
    const engine = fig.engineHours - (booked?.engineHours ?? 0);
    const idle = fig.idleHours - (booked?.idleHours ?? 0);
    const evidence = {
      readings: fig.readings,
      anomalies: fig.anomalies,
      meterFrom: fig.meterFrom,
      meterTo: fig.meterTo,
      // Contractor pricing's detail (status hours, rate lines, readings' hash), if it gave one.
      ...('billing' in p ? { billing: p.billing } : {}),
    };
    if (!p.ok)
      return {
        engineHours: r9(engine),
        idleHours: r9(idle),
        workingHours: r9(engine - idle),
        rateId: null,
        workingRateMinor: 0,
        idleRateMinor: 0,
        currency: NO_CURRENCY,
        amountMinor: 0,
        holdReason: p.holdReason,
        evidence,
      };
    return {
      engineHours: r9(engine),
      idleHours: r9(idle),
      workingHours: r9(engine - idle),
      rateId: p.rateId,
      workingRateMinor: p.workingRateMinor,
      idleRateMinor: p.idleRateMinor,
      currency: p.currency,
      amountMinor: p.amountMinor - (booked?.amountMinor ?? 0),
      holdReason: null,
      evidence,
    };
  };

  const figures = new Map(input.figures.map((f) => [`${f.projectId}|${f.day}`, f]));
  const groups = new Map<string, AllocationRecord[]>();
  for (const a of input.existing) {
    const k = `${a.projectId}|${a.day}`;
    groups.set(k, [...(groups.get(k) ?? []), a]);
  }
  for (const k of figures.keys()) if (!groups.has(k)) groups.set(k, []);

  for (const [k, list] of groups) {
    list.sort((a, b) => a.seq - b.seq);
    const [projectId, day] = k.split('|') as [string, string];
    const fig = figures.get(k) ?? zeroFigure(unitId, projectId, day, list[0]?.siteId ?? 'UNASSIGNED');
    const maxSeq = list.reduce((m, a) => Math.max(m, a.seq), 0);
    const posted = list.filter((a) => a.status === 'posted');

    const create = (kind: 'normal' | 'adjustment', v: Values, adjusts: string | null) => {
      const seq = maxSeq + 1;
      const a: NewAllocation = {
        key: pricing.key({ unitId, projectId, day, seq }),
        kind,
        adjusts,
        seq,
        unitId,
        projectId,
        siteId: fig.siteId,
        day,
        ...v,
        status: 'pending',
        createdAt: now,
        updatedAt: now,
        approvedBy: null,
        approvedAt: null,
        rejectedBy: null,
        rejectedAt: null,
        rejectReason: null,
        postedAt: null,
        odoo: null,
      };
      plan.create.push(a);
      if (kind === 'adjustment') plan.adjustments++;
      else plan.created++;
    };

    /** Recompute an open (or rejected) allocation in place; approval/rejection does not survive a change. */
    const refresh = (a: AllocationRecord, v: Values) => {
      // On an approved allocation a hold reason is the poster's (Odoo lock date, no analytic
      // account): re-checked at every posting run, and no change of usage or price.
      const current = a.status === 'approved' ? { ...a, holdReason: null } : a;
      if (sameValues(current, v)) return;
      const patch: AllocationPatch = { ...v, siteId: fig.siteId, updatedAt: now };
      if (a.status === 'approved' || a.status === 'rejected' || a.status === 'superseded') {
        Object.assign(patch, {
          status: 'pending',
          approvedBy: null,
          approvedAt: null,
          rejectedBy: null,
          rejectedAt: null,
          rejectReason: null,
        });
        if (a.status !== 'superseded')
          plan.audit.push({
            actor: 'consolidation',
            action: 'allocation.reopen',
            target: a.key,
            detail: `usage changed after ${a.status === 'approved' ? 'approval' : 'rejection'}: engine ${a.engineHours} → ${v.engineHours} h, amount ${a.amountMinor} → ${v.amountMinor}`,
          });
      }
      plan.update.push({ id: a.id, expect: { version: a.version, status: a.status }, patch });
    };

    const supersede = (a: AllocationRecord, why: string) => {
      plan.update.push({
        id: a.id,
        expect: { version: a.version, status: a.status },
        patch: { status: 'superseded', updatedAt: now },
      });
      plan.audit.push({ actor: 'consolidation', action: 'allocation.supersede', target: a.key, detail: why });
    };

    if (posted.length === 0) {
      const normal = [...list].reverse().find((a) => a.kind === 'normal');
      const p = price(fig);
      if (!normal) {
        if (!isZero(fig, p)) create('normal', values(fig, p), null);
        continue;
      }
      if (isZero(fig, p)) {
        if (normal.status === 'pending' || normal.status === 'approved')
          supersede(normal, 'usage is now zero');
        continue;
      }
      refresh(normal, values(fig, p));
      continue;
    }

    // Something is posted: the correction is an adjustment.
    const booked = posted.reduce(
      (s, a) => ({
        engineHours: s.engineHours + a.engineHours,
        idleHours: s.idleHours + a.idleHours,
        amountMinor: s.amountMinor + a.amountMinor,
      }),
      { engineHours: 0, idleHours: 0, amountMinor: 0 },
    );
    const p = price(fig);
    const v = values(fig, p, booked as Values);
    const open = list.filter(
      (a) => a.kind === 'adjustment' && (a.status === 'pending' || a.status === 'approved'),
    );
    for (const extra of open.slice(1)) supersede(extra, 'replaced by a newer adjustment');
    const current = open[0];
    const noDifference =
      Math.abs(v.engineHours) < HOURS_EPSILON &&
      Math.abs(v.idleHours) < HOURS_EPSILON &&
      (!p.ok || v.amountMinor === 0);
    if (noDifference) {
      if (current) supersede(current, 'usage matches what is posted');
      continue;
    }
    if (current) {
      refresh(current, v);
      continue;
    }
    const lastRejected = [...list].reverse().find((a) => a.kind === 'adjustment' && a.status === 'rejected');
    if (lastRejected && sameValues(lastRejected, v)) continue; // already decided: no
    const original = posted.find((a) => a.kind === 'normal') ?? posted[0]!;
    create('adjustment', v, original.id);
  }
  return plan;
}
