/**
 * Validation of option values given on the command line. Each failure is a UsageError that
 * names the flag and shows the expected form.
 */
import { UsageError } from './errors.js';

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;
const PERIOD = /^(\d{4})-(\d{2})$/;

/** A real calendar day as YYYY-MM-DD (2026-02-30 is refused). */
export function parseDay(value: string, flag: string): string {
  const m = DAY.exec(value);
  if (m) {
    const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
    const dt = new Date(Date.UTC(y, mo - 1, d));
    if (dt.getUTCFullYear() === y && dt.getUTCMonth() === mo - 1 && dt.getUTCDate() === d) return value;
  }
  throw new UsageError(
    `bad date '${value}' for --${flag}`,
    `write the day as YYYY-MM-DD, e.g. --${flag} 2026-11-23`,
  );
}

/** A month as YYYY-MM. */
export function parsePeriod(value: string, flag = 'period'): string {
  const m = PERIOD.exec(value);
  if (m && Number(m[2]) >= 1 && Number(m[2]) <= 12) return value;
  throw new UsageError(
    `bad period '${value}' for --${flag}`,
    `write the month as YYYY-MM, e.g. --${flag} 2026-11`,
  );
}

/** First and last day of a YYYY-MM period. */
export function periodDays(period: string): { from: string; to: string; days: string[] } {
  const [y, m] = period.split('-').map(Number) as [number, number];
  const last = new Date(Date.UTC(y, m, 0)).getUTCDate();
  const days = Array.from({ length: last }, (_, i) => `${period}-${String(i + 1).padStart(2, '0')}`);
  return { from: days[0]!, to: days[days.length - 1]!, days };
}

export function checkRange(from: string | undefined, to: string | undefined): void {
  if (from && to && from > to) {
    throw new UsageError(`--from ${from} is after --to ${to}`, 'swap the dates or widen the range');
  }
}

export function parsePositiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (Number.isInteger(n) && n > 0) return n;
  throw new UsageError(`bad value '${value}' for --${flag}`, `--${flag} takes a whole number above 0`);
}

/** Non-negative integer of minor units, from decimal text in the currency: `85.50` USD → 8550. */
export function parseMoneyMinor(value: string, digits: number, flag: string): number {
  const m = /^(\d+)(?:\.(\d+))?$/.exec(value.trim());
  if (!m || (m[2] ?? '').length > digits) {
    throw new UsageError(
      `bad amount '${value}' for --${flag}`,
      `write the amount in the currency's units with at most ${digits} decimals, e.g. --${flag} 85.50`,
    );
  }
  const minor = BigInt(m[1]!) * 10n ** BigInt(digits) + BigInt((m[2] ?? '').padEnd(digits, '0') || '0');
  if (minor > BigInt(Number.MAX_SAFE_INTEGER))
    throw new UsageError(`amount '${value}' for --${flag} is too large`);
  return Number(minor);
}
