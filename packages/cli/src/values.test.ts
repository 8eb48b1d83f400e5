import { describe, expect, it } from 'vitest';
import { UsageError } from './errors.js';
import { checkRange, parseDay, parseMoneyMinor, parsePeriod, periodDays } from './values.js';

describe('values', () => {
  it('accepts real days only', () => {
    expect(parseDay('2026-11-23', 'from')).toBe('2026-11-23');
    expect(parseDay('2028-02-29', 'from')).toBe('2028-02-29');
    for (const bad of ['2026-02-30', '2026-13-01', '23/11/2026', '2026-1-1', '']) {
      expect(() => parseDay(bad, 'from')).toThrow(UsageError);
    }
  });

  it('names the flag in the error and hints the form', () => {
    try {
      parseDay('yesterday', 'to');
      expect.unreachable();
    } catch (e) {
      expect((e as UsageError).message).toBe("bad date 'yesterday' for --to");
      expect((e as UsageError).hint).toContain('YYYY-MM-DD');
      expect((e as UsageError).exitCode).toBe(2);
    }
  });

  it('parses periods and their days', () => {
    expect(parsePeriod('2026-11')).toBe('2026-11');
    expect(() => parsePeriod('2026-00')).toThrow(UsageError);
    expect(() => parsePeriod('2026-11-01')).toThrow(UsageError);
    const feb = periodDays('2028-02');
    expect(feb.from).toBe('2028-02-01');
    expect(feb.to).toBe('2028-02-29');
    expect(feb.days).toHaveLength(29);
  });

  it('refuses a reversed range', () => {
    expect(() => checkRange('2026-11-30', '2026-11-01')).toThrow(UsageError);
    expect(() => checkRange('2026-11-01', '2026-11-01')).not.toThrow();
  });

  it('turns decimal amounts into minor units without floats', () => {
    expect(parseMoneyMinor('85.50', 2, 'working')).toBe(8550);
    expect(parseMoneyMinor('0.29', 2, 'working')).toBe(29);
    expect(parseMoneyMinor('1500', 0, 'working')).toBe(1500);
    expect(parseMoneyMinor('1.5', 2, 'working')).toBe(150);
    expect(() => parseMoneyMinor('1.005', 2, 'working')).toThrow(UsageError);
    expect(() => parseMoneyMinor('-1', 2, 'working')).toThrow(UsageError);
  });
});
