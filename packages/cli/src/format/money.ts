/**
 * Money is integer minor units (cents) with an ISO 4217 currency, end to end. Arithmetic
 * stays in integers (BigInt when formatting); a float never touches an amount. The number of
 * minor digits per currency comes from ICU (USD 2, JPY 0, BHD 3).
 */
const digitsCache = new Map<string, number>();

export function minorDigits(currency: string): number {
  let d = digitsCache.get(currency);
  if (d === undefined) {
    try {
      d =
        new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions()
          .maximumFractionDigits ?? 2;
    } catch {
      d = 2;
    }
    digitsCache.set(currency, d);
  }
  return d;
}

function group(int: string): string {
  return int.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** Decimal text of an amount without the currency: `1234567` USD → `12,345.67`. */
export function formatMinorAmount(
  minor: number,
  currency: string,
  opts: { grouping?: boolean } = {},
): string {
  if (!Number.isSafeInteger(minor)) throw new RangeError(`amount is not an integer of minor units: ${minor}`);
  const digits = minorDigits(currency);
  const neg = minor < 0;
  const abs = BigInt(Math.abs(minor));
  const base = 10n ** BigInt(digits);
  const int = (abs / base).toString();
  const frac = (abs % base).toString().padStart(digits, '0');
  const intText = opts.grouping === false ? int : group(int);
  return `${neg ? '-' : ''}${intText}${digits > 0 ? `.${frac}` : ''}`;
}

/** `USD 12,345.67`, `USD -0.50`. */
export function formatMoney(minor: number, currency: string): string {
  return `${currency} ${formatMinorAmount(minor, currency)}`;
}

/** Integer sum that refuses to lose precision. */
export function sumMinor(values: Iterable<number>): number {
  let total = 0;
  for (const v of values) {
    if (!Number.isSafeInteger(v)) throw new RangeError(`amount is not an integer of minor units: ${v}`);
    total += v;
    if (!Number.isSafeInteger(total)) throw new RangeError('amount total exceeds the safe integer range');
  }
  return total;
}

/** Totals per currency, in first-seen order: amounts in different currencies are never added. */
export function totalsByCurrency(
  items: Iterable<{ amountMinor: number; currency: string }>,
): Map<string, number> {
  const out = new Map<string, number>();
  for (const it of items) out.set(it.currency, sumMinor([out.get(it.currency) ?? 0, it.amountMinor]));
  return out;
}

export function formatTotals(totals: Map<string, number>): string {
  if (totals.size === 0) return '-';
  return [...totals].map(([cur, minor]) => formatMoney(minor, cur)).join(' + ');
}
