/**
 * What IronLedger writes to Odoo for one allocation, as pure functions: the vals of an
 * analytic line (`account.analytic.line`) or of a journal entry (`account.move`).
 *
 * Sign convention: an allocation's `amountMinor` is a cost (positive); an adjustment that
 * gives hours back is negative. Odoo books a cost as a negative analytic `amount`, and in a
 * journal entry as a debit on the expense account against a credit on the recovery account
 * (swapped for a negative adjustment, since Odoo refuses negative debits).
 *
 * Internal rental (`accounts.equipmentRevenueAccountId`, Vista EM's equipment revenue): the
 * job is debited on the expense account with the project's analytic account alone, and the
 * equipment is credited the same amount on the equipment revenue account with the unit's
 * Equipment-plan analytic account alone. Both lines carry the hours (`quantity`), so the
 * analytic lines Odoo generates from them show the project's equipment cost and the machine's
 * earnings, each with its hours. (With the unit on the debit line too, the machine's account
 * would get −amount and +amount and read zero.)
 */
import { milliHoursToHours, minorToDecimal, toMilliHours } from '../allocation/money.js';
import type { PostableAllocation } from './types.js';

export interface AnalyticTargets {
  /** account.analytic.account of the project's plan (`account_id`). */
  analyticAccountId: number | string;
  /** Equipment plan column and the unit's analytic account in it, when configured. */
  equipment?: { field: string; accountId: number | string } | undefined;
}

export interface MoveAccounts {
  expenseAccountId: number | string;
  recoveryAccountId: number | string;
  journalId: number | string;
  /** Internal rental: the equipment revenue account credited on the unit's analytic account. */
  equipmentRevenueAccountId?: number | string | undefined;
}

/** Whether `moveVals` books both sides of the internal rental for these targets. */
export function isInternalRental(t: AnalyticTargets, acc: MoveAccounts): boolean {
  return acc.equipmentRevenueAccountId !== undefined && t.equipment !== undefined;
}

/**
 * Hours Odoo books: engine hours to the milli-hour, rounded (half away from zero, as Odoo's
 * float_round) to the digits of the field that carries them when it has any: account.move.line
 * `quantity` has "Product Unit" precision (2 digits by default), so 8.897 h is booked 8.9
 * (transcripts 120–131). `digits` null: the field keeps what it is sent.
 */
export function postedHours(a: PostableAllocation, digits: number | null = null): number {
  return milliHoursToHours(toMilliHours(roundHours(a.engineHours, digits)));
}

/** Hours rounded to `digits` decimals (null: to the milli-hour), half away from zero. */
export function roundHours(hours: number, digits: number | null): number {
  const mh = toMilliHours(hours);
  if (digits === null || digits >= 3) return milliHoursToHours(mh);
  const step = 10 ** (3 - digits);
  const r = Math.round(Math.abs(mh) / step) * step;
  return milliHoursToHours(mh < 0 ? -r : r);
}

export function describe(a: PostableAllocation): string {
  const kind = a.kind === 'adjustment' ? 'adjustment ' : '';
  return `${a.unitId} ${kind}${a.day} ${a.projectId}: ${postedHours(a)}h engine (${milliHoursToHours(toMilliHours(a.idleHours))}h idle)`;
}

export function analyticLineVals(
  a: PostableAllocation,
  t: AnalyticTargets,
  hoursDigits: number | null = null,
): Record<string, unknown> {
  const vals: Record<string, unknown> = {
    name: describe(a),
    date: a.day,
    amount: minorToDecimal(-a.amountMinor, a.currency),
    unit_amount: postedHours(a, hoursDigits),
    account_id: t.analyticAccountId,
    ref: a.key,
  };
  if (t.equipment) vals[t.equipment.field] = t.equipment.accountId;
  return vals;
}

/** Key of analytic_distribution: the analytic account ids, one per plan, comma-joined. */
export function distributionKey(t: AnalyticTargets): string {
  return t.equipment ? `${t.analyticAccountId},${t.equipment.accountId}` : `${t.analyticAccountId}`;
}

export function moveVals(
  a: PostableAllocation,
  t: AnalyticTargets,
  acc: MoveAccounts,
  hoursDigits: number | null = null,
): Record<string, unknown> {
  const amount = minorToDecimal(Math.abs(a.amountMinor), a.currency);
  const cost = a.amountMinor >= 0;
  const name = describe(a);
  const quantity = postedHours(a, hoursDigits);
  if (isInternalRental(t, acc)) {
    const unitAccount = (t.equipment as { accountId: number | string }).accountId;
    return {
      move_type: 'entry',
      journal_id: acc.journalId,
      date: a.day,
      ref: a.key,
      line_ids: [
        [
          0,
          0,
          {
            name,
            account_id: acc.expenseAccountId,
            debit: cost ? amount : 0,
            credit: cost ? 0 : amount,
            analytic_distribution: { [`${t.analyticAccountId}`]: 100 },
            quantity,
          },
        ],
        [
          0,
          0,
          {
            name,
            account_id: acc.equipmentRevenueAccountId,
            debit: cost ? 0 : amount,
            credit: cost ? amount : 0,
            analytic_distribution: { [`${unitAccount}`]: 100 },
            quantity,
          },
        ],
      ],
    };
  }
  return {
    move_type: 'entry',
    journal_id: acc.journalId,
    date: a.day,
    ref: a.key,
    line_ids: [
      [
        0,
        0,
        {
          name,
          account_id: acc.expenseAccountId,
          debit: cost ? amount : 0,
          credit: cost ? 0 : amount,
          analytic_distribution: { [distributionKey(t)]: 100 },
          // The analytic line that posting generates takes its unit_amount from here.
          quantity,
        },
      ],
      [
        0,
        0,
        { name, account_id: acc.recoveryAccountId, debit: cost ? 0 : amount, credit: cost ? amount : 0 },
      ],
    ],
  };
}
