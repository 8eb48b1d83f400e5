/**
 * Exact money and hours. Nothing here touches a binary float after the boundary:
 *
 * - Hours are carried as integer **milli-hours** (1 mh = 3.6 s). A float hour figure is
 *   converted once, by `toMilliHours`, rounding half to even at the third decimal.
 * - Amounts are integer **minor units** (cents for USD) of the rate's currency.
 * - An amount is computed in BigInt as Σ(milli-hours × rate per hour in minor units) and
 *   divided by 1000 **once**, rounding **half to even** (banker's rounding), so that rounding
 *   errors do not drift in one direction over many allocations.
 */

/** Decimal digits of a currency's minor unit (ISO 4217); Intl knows the rest. */
const MINOR_DIGITS_OVERRIDES: Record<string, number> = {
  BHD: 3,
  IQD: 3,
  JOD: 3,
  KWD: 3,
  LYD: 3,
  OMR: 3,
  TND: 3,
  CLP: 0,
  ISK: 0,
  JPY: 0,
  KRW: 0,
  PYG: 0,
  UGX: 0,
  VND: 0,
  XAF: 0,
  XOF: 0,
};

export function currencyDigits(currency: string): number {
  const known = MINOR_DIGITS_OVERRIDES[currency];
  if (known !== undefined) return known;
  try {
    return (
      new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ??
      2
    );
  } catch {
    return 2;
  }
}

/**
 * Divides n by d (d > 0) rounding half to even. Exact for any BigInt.
 */
export function divRoundHalfEven(n: bigint, d: bigint): bigint {
  if (d <= 0n) throw new RangeError('divisor must be positive');
  const q = n / d; // truncates toward zero
  const r = n - q * d;
  if (r === 0n) return q;
  const twice = (r < 0n ? -r : r) * 2n;
  const away = n < 0n ? q - 1n : q + 1n;
  if (twice > d) return away;
  if (twice < d) return q;
  return q % 2n === 0n ? q : away;
}

/**
 * Hours (a decimal float from the usage layer) → integer milli-hours, half to even.
 * The float is first read as its shortest decimal string, so 0.1 + 0.2 style noise in the
 * 10th significant digit cannot tip a rounding: 3.0005 h is taken as exactly 3.0005.
 */
export function toMilliHours(hours: number): number {
  if (!Number.isFinite(hours)) throw new RangeError(`hours must be finite, got ${hours}`);
  const scaled = decimalToScaledBigInt(hours, 9); // nano-hours, exact from the decimal string
  return Number(divRoundHalfEven(scaled, 1_000_000n));
}

export function milliHoursToHours(mh: number): number {
  return mh / 1000;
}

/** amount in minor units = round_half_even(Σ mh × ratePerHourMinor / 1000). */
export function amountMinorFor(parts: Array<{ milliHours: number; ratePerHourMinor: number }>): number {
  let sum = 0n;
  for (const p of parts) {
    if (!Number.isInteger(p.milliHours) || !Number.isInteger(p.ratePerHourMinor)) {
      throw new RangeError('milli-hours and rates must be integers');
    }
    sum += BigInt(p.milliHours) * BigInt(p.ratePerHourMinor);
  }
  const minor = divRoundHalfEven(sum, 1000n);
  if (minor > BigInt(Number.MAX_SAFE_INTEGER) || minor < -BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new RangeError('amount exceeds the safe integer range');
  }
  return Number(minor);
}

/**
 * Integer minor units → the decimal number Odoo expects (e.g. 12345 USD → 123.45).
 * The result is the double nearest the exact decimal, which is what Odoo's JSON parser
 * produces from the same text; Odoo rounds monetary fields to the currency precision.
 */
export function minorToDecimal(minor: number, currency: string): number {
  const digits = currencyDigits(currency);
  return Number(minorToDecimalString(minor, digits));
}

export function minorToDecimalString(minor: number, digits: number): string {
  if (!Number.isInteger(minor)) throw new RangeError(`minor units must be an integer, got ${minor}`);
  const neg = minor < 0;
  const s = Math.abs(minor)
    .toString()
    .padStart(digits + 1, '0');
  const body = digits === 0 ? s : `${s.slice(0, s.length - digits)}.${s.slice(s.length - digits)}`;
  return neg ? `-${body}` : body;
}

/** A decimal amount read back from Odoo → integer minor units (half to even at the digit). */
export function decimalToMinor(amount: number, currency: string): number {
  const digits = currencyDigits(currency);
  return Number(divRoundHalfEven(decimalToScaledBigInt(amount, digits + 3), 1000n));
}

/** x as an exact integer x × 10^scale, from its shortest round-trip decimal representation. */
function decimalToScaledBigInt(x: number, scale: number): bigint {
  const [mant = '0', expPart] = x.toString().toLowerCase().split('e');
  const exp = expPart === undefined ? 0 : Number.parseInt(expPart, 10);
  const neg = mant.startsWith('-');
  const [intPart = '0', frac = ''] = (neg ? mant.slice(1) : mant).split('.');
  const digits = intPart + frac;
  const pointShift = scale + exp - frac.length; // power of ten to apply to `digits`
  let v: bigint;
  if (pointShift >= 0) v = BigInt(digits) * 10n ** BigInt(pointShift);
  else v = divRoundHalfEven(BigInt(digits), 10n ** BigInt(-pointShift));
  return neg ? -v : v;
}
