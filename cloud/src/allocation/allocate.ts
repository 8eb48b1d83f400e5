/**
 * Allocation pricing: usage × rates, pure. Promises:
 * - the rate in force on a day is the one with the latest `effectiveFrom` ≤ day; a rate for
 *   the unit itself beats a rate for its equipment class, whatever their dates;
 * - amount = working hours × working rate + idle hours × idle rate, computed exactly on
 *   milli-hours and minor units and rounded once, half to even (see money.ts);
 * - no rate, or two rates equally in force (an ambiguous rate card), holds the figure with a
 *   reason instead of guessing.
 */
import type { PriceResult, RateCard, UnitInfo, UsageFigure } from '../domain/types.js';
import { amountMinorFor, toMilliHours } from './money.js';

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
