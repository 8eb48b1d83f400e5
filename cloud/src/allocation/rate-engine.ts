/**
 * Contractor pricing of one unit-day on one project, pure (README "Billing rules").
 *
 * - **Components.** A rate card has an owning rate (what having the machine costs: depreciation,
 *   interest, insurance, storage) and an operating rate (what running it costs: fuel, wear,
 *   repairs), both per hour in minor units (CLUE / USACE EP 1110-1-8 split).
 * - **Factors per status.** Each status's hours are priced at owning × owning factor +
 *   operating × operating factor. Defaults are CLUE's (Contractors' Equipment Manual, Ontario):
 *   working 1.0/1.0, idle on site 1.0/0, standby 0.8/0, off-hours (CLUE's "yard") 0.5/0.
 *   A card may set its own per status.
 * - **Standby cap.** Standby hours billed per unit, project and site-local day are capped,
 *   default 8 h (EquipmentWatch Rental Rate Blue Book: standby at most 8 h in 24 h);
 *   23 h and 25 h DST days keep the same cap (it is per calendar day).
 * - **Minimum daily charge.** Optional: a day the unit spent on the project is charged at
 *   least `minimumDailyMinor`, the difference shown as its own line.
 * - **Cascade.** The card in force for (unit, project, day) is looked up most specific first:
 *   project + unit, project + class, unit, class (Vista EM: category → equipment → job). Within
 *   a scope the card with the latest `effectiveFrom` ≤ day (and `effectiveTo` ≥ day, if set)
 *   wins; two equally recent cards hold the day with a reason. Each day is priced by the card
 *   in force that day, so a change on the 15th splits the month at the 15th.
 * - **Legacy working/idle rates** (cards without owning/operating) map onto the model as
 *   owning = idle rate, operating = working rate − idle rate, standby and off-hours factors
 *   0: working × working rate + idle × idle rate, exactly as before.
 * - **Exact money, one rounding point.** Hours are integer milli-hours, rates integer minor
 *   units, factors integer per-mille. The day's amount is Σ milli-hours × (owning × f_own +
 *   operating × f_op) ÷ 10⁶, computed in BigInt and rounded **once**, half to even. Lines
 *   show the same figure apportioned (each rounded, the remainder on the largest line) so they
 *   add up to the total; no line is rounded into the total.
 */
import type { Rate } from '@ironledger/contracts';
import { divRoundHalfEven } from './money.js';

export const BILLING_STATUSES = ['working', 'idle', 'standby', 'offHours'] as const;
export type BillingStatus = (typeof BILLING_STATUSES)[number];

/** [owning, operating] factors per status. Source: CLUE (Contractors' Equipment Manual). */
export const DEFAULT_FACTORS: Readonly<Record<BillingStatus, readonly [number, number]>> = Object.freeze({
  working: [1, 1],
  idle: [1, 0],
  standby: [0.8, 0],
  offHours: [0.5, 0],
});
/** Legacy working/idle cards: no charge for engine-off time. */
const LEGACY_FACTORS: Readonly<Record<BillingStatus, readonly [number, number]>> = Object.freeze({
  working: [1, 1],
  idle: [1, 0],
  standby: [0, 0],
  offHours: [0, 0],
});
/** Standby hours billed per day at most. Source: EquipmentWatch (8 h per 24 h). */
export const DEFAULT_STANDBY_CAP_HOURS = 8;

export type StatusMilliHours = Record<BillingStatus, number>;

export interface PriceCard {
  id: string;
  unitId?: string | undefined;
  equipmentClass?: string | undefined;
  projectId?: string | undefined;
  effectiveFrom: string;
  effectiveTo?: string | undefined;
  currency: string;
  model: 'contractor' | 'legacy';
  owningRateMinor: number;
  /** May be negative only for a legacy card whose idle rate exceeds its working rate. */
  operatingRateMinor: number;
  /** Per-mille factors: 1000 = 1.0. */
  factorsPermille: Record<BillingStatus, { owning: number; operating: number }>;
  standbyCapMilliHours: number;
  minimumDailyMinor: number | null;
}

const permille = (x: number) => Math.round(x * 1000);

export function toPriceCard(r: Rate): PriceCard {
  const contractor = r.owningRateMinor !== undefined && r.operatingRateMinor !== undefined;
  const base = contractor ? DEFAULT_FACTORS : LEGACY_FACTORS;
  const factorsPermille = {} as PriceCard['factorsPermille'];
  for (const s of BILLING_STATUSES) {
    const [o, p] = (contractor ? r.factors?.[s] : undefined) ?? base[s];
    factorsPermille[s] = { owning: permille(o), operating: permille(p) };
  }
  return {
    id: r.rateId,
    unitId: r.unitId,
    equipmentClass: r.equipmentClass,
    projectId: r.projectId,
    effectiveFrom: r.effectiveFrom,
    effectiveTo: r.effectiveTo,
    currency: r.currency,
    model: contractor ? 'contractor' : 'legacy',
    owningRateMinor: contractor ? r.owningRateMinor! : r.idleRateMinor,
    operatingRateMinor: contractor ? r.operatingRateMinor! : r.workingRateMinor - r.idleRateMinor,
    factorsPermille,
    standbyCapMilliHours: Math.round((r.standbyCapHours ?? DEFAULT_STANDBY_CAP_HOURS) * 1000),
    minimumDailyMinor: contractor ? (r.minimumDailyMinor ?? null) : null,
  };
}

export type CardChoice = { ok: true; card: PriceCard; scope: string } | { ok: false; holdReason: string };

/** The card in force for a unit on a project on a day, most specific scope first. */
export function cardInForce(
  unit: { unitId: string; equipmentClass: string },
  projectId: string,
  day: string,
  cards: readonly PriceCard[],
): CardChoice {
  const scopes: Array<[string, (c: PriceCard) => boolean]> = [
    [
      `project ${projectId} unit ${unit.unitId}`,
      (c) => c.projectId === projectId && c.unitId === unit.unitId,
    ],
    [
      `project ${projectId} class ${unit.equipmentClass}`,
      (c) => c.projectId === projectId && c.unitId === undefined && c.equipmentClass === unit.equipmentClass,
    ],
    [`unit ${unit.unitId}`, (c) => c.projectId === undefined && c.unitId === unit.unitId],
    [
      `class ${unit.equipmentClass}`,
      (c) => c.projectId === undefined && c.unitId === undefined && c.equipmentClass === unit.equipmentClass,
    ],
  ];
  for (const [scope, match] of scopes) {
    const inForce = cards.filter(
      (c) => match(c) && c.effectiveFrom <= day && (c.effectiveTo === undefined || day <= c.effectiveTo),
    );
    if (inForce.length === 0) continue;
    const latest = inForce.reduce((a, b) => (b.effectiveFrom > a.effectiveFrom ? b : a));
    const ties = inForce.filter((c) => c.effectiveFrom === latest.effectiveFrom);
    if (ties.length > 1)
      return {
        ok: false,
        holdReason: `ambiguous rates for ${scope} on ${day}: ${ties.map((c) => c.id).join(', ')} all take effect ${latest.effectiveFrom}`,
      };
    return { ok: true, card: latest, scope };
  }
  return {
    ok: false,
    holdReason: `no rate in force on ${day} for unit ${unit.unitId} or class ${unit.equipmentClass} (project ${projectId})`,
  };
}

/** One line of a priced day, as shown in the evidence. */
export interface RateLine {
  status: BillingStatus | 'minimum';
  /** Hours the day had in this status (milli-hours). */
  milliHours: number;
  /** Hours billed (after the standby cap). */
  billedMilliHours: number;
  owningRateMinor: number;
  owningFactor: number;
  operatingRateMinor: number;
  operatingFactor: number;
  /** This line's share of the day's amount (lines add up to the total exactly). */
  amountMinor: number;
  note?: string | undefined;
}

export interface DayPrice {
  rateId: string;
  currency: string;
  amountMinor: number;
  /** Effective per-hour rates of working and idle (display; legacy cards: the card's own). */
  workingRateMinor: number;
  idleRateMinor: number;
  lines: RateLine[];
}

/** Prices one unit-day-project's status hours (integer milli-hours) with one card. */
export function priceDay(hours: StatusMilliHours, card: PriceCard): DayPrice {
  for (const s of BILLING_STATUSES)
    if (!Number.isInteger(hours[s])) throw new RangeError(`${s} milli-hours must be an integer`);
  const exact: bigint[] = [];
  const lines: RateLine[] = BILLING_STATUSES.map((s) => {
    const f = card.factorsPermille[s];
    const billed = s === 'standby' ? Math.min(hours[s], card.standbyCapMilliHours) : hours[s];
    // minor × milli-hours × per-mille: ÷ 10⁶ gives minor units.
    exact.push(
      BigInt(billed) *
        (BigInt(card.owningRateMinor) * BigInt(f.owning) +
          BigInt(card.operatingRateMinor) * BigInt(f.operating)),
    );
    return {
      status: s,
      milliHours: hours[s],
      billedMilliHours: billed,
      owningRateMinor: card.owningRateMinor,
      owningFactor: f.owning / 1000,
      operatingRateMinor: card.operatingRateMinor,
      operatingFactor: f.operating / 1000,
      amountMinor: 0,
      note:
        billed < hours[s]
          ? `standby capped at ${card.standbyCapMilliHours / 1000} h a day (EquipmentWatch)`
          : undefined,
    };
  });
  const sum = exact.reduce((a, b) => a + b, 0n);
  let amountMinor = toSafe(divRoundHalfEven(sum, 1_000_000n)); // the one rounding point
  apportion(lines, exact, amountMinor);

  const onProject = BILLING_STATUSES.some((s) => hours[s] > 0);
  if (card.minimumDailyMinor !== null && onProject && amountMinor < card.minimumDailyMinor) {
    lines.push({
      status: 'minimum',
      milliHours: 0,
      billedMilliHours: 0,
      owningRateMinor: 0,
      owningFactor: 0,
      operatingRateMinor: 0,
      operatingFactor: 0,
      amountMinor: card.minimumDailyMinor - amountMinor,
      note: `minimum daily charge ${card.minimumDailyMinor}`,
    });
    amountMinor = card.minimumDailyMinor;
  }
  const perHour = (s: BillingStatus) => {
    const f = card.factorsPermille[s];
    return toSafe(
      divRoundHalfEven(
        BigInt(card.owningRateMinor) * BigInt(f.owning) +
          BigInt(card.operatingRateMinor) * BigInt(f.operating),
        1000n,
      ),
    );
  };
  return {
    rateId: card.id,
    currency: card.currency,
    amountMinor,
    workingRateMinor: perHour('working'),
    idleRateMinor: perHour('idle'),
    lines,
  };
}

/** Each line rounded half to even, the difference to the total put on the largest line. */
function apportion(lines: RateLine[], exact: bigint[], total: number): void {
  let shown = 0;
  let largest = 0;
  lines.forEach((l, i) => {
    l.amountMinor = toSafe(divRoundHalfEven(exact[i]!, 1_000_000n));
    shown += l.amountMinor;
    if (Math.abs(l.amountMinor) > Math.abs(lines[largest]!.amountMinor)) largest = i;
  });
  lines[largest]!.amountMinor += total - shown;
}

function toSafe(x: bigint): number {
  if (x > BigInt(Number.MAX_SAFE_INTEGER) || x < -BigInt(Number.MAX_SAFE_INTEGER))
    throw new RangeError('amount exceeds the safe integer range');
  return Number(x);
}
