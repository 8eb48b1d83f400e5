import { describe, expect, it } from 'vitest';
import { HOUR_MS, localDay, localDays, offsetMs, splitByDay, weekdayOf, zonedTime } from './time.js';

const t = (s: string) => Date.parse(s);

describe('site-local calendar', () => {
  it('finds local midnight in each zone', () => {
    expect(new Date(zonedTime('2026-11-02', 0, 'Europe/London')).toISOString()).toBe(
      '2026-11-02T00:00:00.000Z',
    );
    expect(new Date(zonedTime('2026-11-02', 0, 'America/Chicago')).toISOString()).toBe(
      '2026-11-02T06:00:00.000Z',
    );
    expect(new Date(zonedTime('2026-07-01', 7 * 60, 'Europe/London')).toISOString()).toBe(
      '2026-07-01T06:00:00.000Z',
    );
    expect(new Date(zonedTime('2026-07-01', 0, 'Asia/Kolkata')).toISOString()).toBe(
      '2026-06-30T18:30:00.000Z',
    );
  });

  it('knows the day of an instant', () => {
    expect(localDay(t('2026-11-02T05:59:59Z'), 'America/Chicago')).toBe('2026-11-01');
    expect(localDay(t('2026-11-02T06:00:00Z'), 'America/Chicago')).toBe('2026-11-02');
    expect(weekdayOf('2026-11-02')).toBe(1);
    expect(offsetMs(t('2026-07-01T12:00:00Z'), 'Europe/London')).toBe(HOUR_MS);
  });

  it('makes DST days 25 and 23 hours long', () => {
    const len = (day: string, tz: string) => {
      const d = localDays(zonedTime(day, 12 * 60, tz), zonedTime(day, 12 * 60, tz) + 1, tz)[0]!;
      expect(d.day).toBe(day);
      return (d.endMs - d.startMs) / HOUR_MS;
    };
    expect(len('2026-10-25', 'Europe/London')).toBe(25);
    expect(len('2026-03-29', 'Europe/London')).toBe(23);
    expect(len('2026-11-01', 'America/Chicago')).toBe(25);
    expect(len('2026-11-02', 'America/Chicago')).toBe(24);
  });

  it('resolves wall times in a DST gap and in a repeated hour', () => {
    // 01:30 does not exist in London on 2026-03-29 (01:00 → 02:00).
    expect(new Date(zonedTime('2026-03-29', 90, 'Europe/London')).toISOString()).toBe(
      '2026-03-29T01:30:00.000Z',
    );
    // 01:30 happens twice on 2026-10-25; the first is BST (00:30Z).
    expect(new Date(zonedTime('2026-10-25', 90, 'Europe/London')).toISOString()).toBe(
      '2026-10-25T00:30:00.000Z',
    );
  });

  it('splits an interval at local midnights, conserving its length', () => {
    const pieces: Array<[string, number]> = [];
    splitByDay(t('2026-10-24T22:00:00Z'), t('2026-10-26T02:00:00Z'), 'Europe/London', (day, a, b) =>
      pieces.push([day, (b - a) / HOUR_MS]),
    );
    expect(pieces).toEqual([
      ['2026-10-24', 1],
      ['2026-10-25', 25],
      ['2026-10-26', 2],
    ]);
  });
});
