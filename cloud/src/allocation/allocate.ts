/**
 * Allocation pricing: usage × rates, pure. Promises:
 * - the rate in force on a day is the one with the latest `effectiveFrom` ≤ day; a rate for
 *   the unit itself beats a rate for its equipment class, whatever their dates;
 * - amount = working hours × working rate + idle hours × idle rate, computed exactly on
 *   milli-hours and minor units and rounded once, half to even (see money.ts);
 * - no rate, or two rates equally in force (an ambiguous rate card), holds the figure with a
 *   reason instead of guessing.
 */
import type { Rate } from '@ironledger/contracts';
import type { PriceResult, RateCard, UnitInfo, UsageFigure } from '../domain/types.js';
import type { ConsolidatedFigure, FigureBilling } from '../usage/consolidate.js';
import { amountMinorFor, toMilliHours } from './money.js';
import { cardInForce, type DayPrice, priceDay, type RateLine, toPriceCard } from './rate-engine.js';

export type RateChoice = { ok: true; rate: RateCard } | { ok: false; holdReason: string };

/** The rate card in force for `unit` on `day` (YYYY-MM-DD). */
export function rateInForce(unit: UnitInfo, day: string, rates: readonly RateCard[]): RateChoice {
  const byUnit = rates.filter((r) => r.unitId === unit.unitId);
  const byClass = rates.filter((r) => r.unitId === undefined && r.equipmentClass === unit.equipmentClass);
  for (const [scope, candidates] of [
    [`unit ${unit.unitId}`, byUnit],
    [`class ${unit.equipmentClass}`, byClass],
  ] as const) {
    const inForce = candidates.filter((r) => r.effectiveFrom <= day);
    if (inForce.length === 0) continue;
    const latest = inForce.reduce((a, b) => (b.effectiveFrom > a.effectiveFrom ? b : a));
    const ties = inForce.filter((r) => r.effectiveFrom === latest.effectiveFrom);
    if (ties.length > 1) {
      return {
        ok: false,
        holdReason: `ambiguous rates for ${scope} on ${day}: ${ties.map((r) => r.id).join(', ')} all take effect ${latest.effectiveFrom}`,
      };
    }
    return { ok: true, rate: latest };
  }
  return {
    ok: false,
    holdReason: `no rate in force on ${day} for unit ${unit.unitId} or class ${unit.equipmentClass}`,
  };
}

/** Prices one usage figure. Hours may be negative for an adjustment; so is the amount then. */
export function priceUsage(fig: UsageFigure, unit: UnitInfo, rates: readonly RateCard[]): PriceResult {
  if (fig.unitId !== unit.unitId) {
    return { ok: false, holdReason: `usage is for unit ${fig.unitId} but unit info is for ${unit.unitId}` };
  }
  const choice = rateInForce(unit, fig.day, rates);
  if (!choice.ok) return choice;
  const { rate } = choice;
  let amountMinor: number;
  try {
    amountMinor = amountMinorFor([
      { milliHours: toMilliHours(fig.workingHours), ratePerHourMinor: rate.workingRateMinor },
      { milliHours: toMilliHours(fig.idleHours), ratePerHourMinor: rate.idleRateMinor },
    ]);
  } catch (e) {
    return { ok: false, holdReason: `cannot price: ${(e as Error).message}` };
  }
  return {
    ok: true,
    rateId: rate.id,
    workingRateMinor: rate.workingRateMinor,
    idleRateMinor: rate.idleRateMinor,
    currency: rate.currency,
    amountMinor,
  };
}

export interface AllocationKeyParts {
  unitId: string;
  projectId: string;
  day: string; // YYYY-MM-DD
  /** 1 for the first allocation of (unit, project, day); 2, 3… for its adjustments. */
  seq: number;
}

/**
 * The allocation's stable key, written to Odoo's `ref` and looked up there before any create:
 * `IL-<unitId>-<projectId>-<YYYYMMDD>-<seq>`, e.g. `IL-EXC-0042-RIVERSIDE-20261123-1`.
 * Ids keep their case (Odoo's `ref in [...]` is case-sensitive, and folding case could make
 * two allocations share a key, which the poster would read as "already in Odoo"); any
 * character outside [A-Za-z0-9_.-] becomes `_` so the key survives domains, CSV and logs.
 */
export function allocationKey(parts: AllocationKeyParts): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(parts.day))
    throw new RangeError(`day must be YYYY-MM-DD, got ${parts.day}`);
  if (!Number.isInteger(parts.seq) || parts.seq < 1)
    throw new RangeError(`seq must be a positive integer, got ${parts.seq}`);
  const safe = (s: string) => {
    if (s.length === 0) throw new RangeError('key parts must not be empty');
    return s.replace(/[^A-Za-z0-9_.-]/g, '_');
  };
  return `IL-${safe(parts.unitId)}-${safe(parts.projectId)}-${parts.day.replaceAll('-', '')}-${parts.seq}`;
}

/** What the contractor pricing adds to an allocation's evidence. */
export interface BillingEvidence {
  model: 'contractor' | 'legacy';
  /** The scope the card was found in (e.g. `project P-B class excavator`). */
  scope: string | null;
  statusHours: { working: number; idle: number; standby: number; offHours: number };
  unverifiedHours: number;
  /** Unverified hours an approver decided to bill (at most what the figure shows now). */
  unverifiedBilledHours: number;
  inferredHours: number;
  gaps: FigureBilling['gaps'];
  lines: RateLine[];
  readings: FigureBilling['readings'];
  readingsSha256: string | null;
}

export type FigurePrice = PriceResult & { billing: BillingEvidence };

/** An approver's decision to bill a figure's unverified hours, up to `hours`. */
export interface UnverifiedDecision {
  hours: number;
  by: string;
  at: string;
  reason: string;
}

/**
 * Prices one figure with the contractor model (rate-engine.ts): its status hours (from
 * consolidation; a figure without them is all working/idle) at the card in force for the
 * unit on the project that day. Unverified hours are billed only under an approver's
 * decision, and then at most the hours that decision saw, as working time.
 */
export function priceFigure(
  fig: UsageFigure,
  unit: UnitInfo,
  rates: readonly Rate[],
  decision?: UnverifiedDecision,
): FigurePrice {
  const detail = (fig as Partial<ConsolidatedFigure>).billing;
  const hours = detail?.statusHours ?? {
    working: fig.workingHours,
    idle: fig.idleHours,
    standby: 0,
    offHours: 0,
  };
  const unverified = detail?.unverifiedHours ?? 0;
  const billedUnverified = decision ? Math.min(decision.hours, unverified) : 0;
  const billing: BillingEvidence = {
    model: 'legacy',
    scope: null,
    statusHours: hours,
    unverifiedHours: unverified,
    unverifiedBilledHours: billedUnverified,
    inferredHours: detail?.inferredHours ?? 0,
    gaps: detail?.gaps ?? [],
    lines: [],
    readings: detail?.readings ?? [],
    readingsSha256: detail?.readingsSha256 ?? null,
  };
  if (fig.unitId !== unit.unitId)
    return {
      ok: false,
      holdReason: `usage is for unit ${fig.unitId} but unit info is for ${unit.unitId}`,
      billing,
    };
  const choice = cardInForce(unit, fig.projectId, fig.day, rates.map(toPriceCard));
  if (!choice.ok) return { ...choice, billing };
  let priced: DayPrice;
  try {
    priced = priceDay(
      {
        working: toMilliHours(hours.working + billedUnverified),
        idle: toMilliHours(hours.idle),
        standby: toMilliHours(hours.standby),
        offHours: toMilliHours(hours.offHours),
      },
      choice.card,
    );
  } catch (e) {
    return { ok: false, holdReason: `cannot price: ${(e as Error).message}`, billing };
  }
  if (billedUnverified > 0) {
    const working = priced.lines.find((l) => l.status === 'working');
    if (working) working.note = `includes ${billedUnverified} h unverified, billed by ${decision!.by}`;
  }
  return {
    ok: true,
    rateId: priced.rateId,
    workingRateMinor: priced.workingRateMinor,
    idleRateMinor: priced.idleRateMinor,
    currency: priced.currency,
    amountMinor: priced.amountMinor,
    billing: { ...billing, model: choice.card.model, scope: choice.scope, lines: priced.lines },
  };
}
