import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  amountMinorFor,
  currencyDigits,
  decimalToMinor,
  divRoundHalfEven,
  minorToDecimal,
  minorToDecimalString,
  toMilliHours,
} from './money.js';

describe('divRoundHalfEven', () => {
  it('rounds ties to the even neighbour, both signs', () => {
    expect(divRoundHalfEven(5n, 2n)).toBe(2n); // 2.5 → 2
    expect(divRoundHalfEven(7n, 2n)).toBe(4n); // 3.5 → 4
    expect(divRoundHalfEven(-5n, 2n)).toBe(-2n);
    expect(divRoundHalfEven(-7n, 2n)).toBe(-4n);
    expect(divRoundHalfEven(1499n, 1000n)).toBe(1n);
    expect(divRoundHalfEven(1501n, 1000n)).toBe(2n);
    expect(divRoundHalfEven(-1501n, 1000n)).toBe(-2n);
  });
  it('agrees with exact rational rounding', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: -(10n ** 15n), max: 10n ** 15n }),
        fc.bigInt({ min: 1n, max: 10n ** 6n }),
        (n, d) => {
          const q = divRoundHalfEven(n, d);
          const diff2 = (n - q * d) * 2n; // 2·(n/d − q)·d
          const ad = d;
          expect(diff2 <= ad && diff2 >= -ad).toBe(true);
          if (diff2 === ad || diff2 === -ad) expect(q % 2n).toBe(0n);
        },
      ),
    );
  });
});

describe('toMilliHours', () => {
  it('is exact on decimal inputs despite binary noise', () => {
    expect(toMilliHours(7.5)).toBe(7500);
    expect(toMilliHours(0.1 + 0.2)).toBe(300);
    expect(toMilliHours(3.0005)).toBe(3000); // tie → even
    expect(toMilliHours(3.0015)).toBe(3002); // tie → even
    expect(toMilliHours(-1.2345)).toBe(-1234);
    expect(toMilliHours(1e-7)).toBe(0);
    expect(toMilliHours(12345.678)).toBe(12345678);
  });
  it('rejects non-finite hours', () => {
    expect(() => toMilliHours(Number.NaN)).toThrow(RangeError);
  });
});

describe('amounts', () => {
  it('rounds the total once, half to even', () => {
    // 7.5 h × 85.00/h = 637.50
    expect(amountMinorFor([{ milliHours: 7500, ratePerHourMinor: 8500 }])).toBe(63750);
    // 0.001 h × 500 = 0.5 minor → 0; 0.003 h × 500 = 1.5 → 2
    expect(amountMinorFor([{ milliHours: 1, ratePerHourMinor: 500 }])).toBe(0);
    expect(amountMinorFor([{ milliHours: 3, ratePerHourMinor: 500 }])).toBe(2);
    // two halves sum before rounding: 0.5 + 0.5 = 1
    expect(
      amountMinorFor([
        { milliHours: 1, ratePerHourMinor: 500 },
        { milliHours: 1, ratePerHourMinor: 500 },
      ]),
    ).toBe(1);
  });
  it('converts minor units to decimals with the currency precision', () => {
    expect(currencyDigits('USD')).toBe(2);
    expect(currencyDigits('JPY')).toBe(0);
    expect(currencyDigits('KWD')).toBe(3);
    expect(minorToDecimal(63750, 'USD')).toBe(637.5);
    expect(minorToDecimal(-5, 'USD')).toBe(-0.05);
    expect(minorToDecimal(1234, 'JPY')).toBe(1234);
    expect(minorToDecimalString(-7, 3)).toBe('-0.007');
  });
  it('round-trips minor → decimal → minor', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1e13, max: 1e13 }), fc.constantFrom('USD', 'JPY', 'KWD'), (m, cur) => {
        expect(decimalToMinor(minorToDecimal(m, cur), cur)).toBe(m);
      }),
    );
  });
});
