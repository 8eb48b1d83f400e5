/**
 * localDay remembers the local day of each UTC quarter hour: it must agree with Intl at every
 * instant (around DST changes, in zones with half- and quarter-hour offsets), and ask Intl only
 * once per quarter hour for the instants of readings (the cost of a full consolidation).
 */
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { localDay } from './local-time.js';

const formats = new Map<string, Intl.DateTimeFormat>();
function intlDay(ms: number, timeZone: string): string {
  let f = formats.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    formats.set(timeZone, f);
  }
  return f.format(new Date(ms));
}

const ZONES = [
  'UTC',
  'Europe/Berlin',
  'America/New_York',
  'Asia/Kolkata',
  'Asia/Kathmandu',
  'Australia/Lord_Howe',
  'America/St_Johns',
  'Pacific/Apia',
];

describe('localDay', () => {
  it('agrees with Intl at any instant, in any zone', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(2010, 0, 1), max: Date.UTC(2035, 0, 1) }),
        fc.constantFrom(...ZONES),
        (ms, zone) => localDay(ms, zone) === intlDay(ms, zone),
      ),
      { numRuns: 3000 },
    );
  });

  it('agrees with Intl on every millisecond-edge around local midnights and DST changes', () => {
    const edges = [
      Date.UTC(2026, 2, 29, 1, 0), // Berlin spring forward
      Date.UTC(2026, 9, 25, 1, 0), // Berlin fall back
      Date.UTC(2026, 2, 8, 7, 0), // New York spring forward
      Date.UTC(2026, 10, 1, 6, 0), // New York fall back
    ];
    for (const zone of ZONES)
      for (const e of edges)
        for (let d = -26 * 3_600_000; d <= 26 * 3_600_000; d += 7 * 60_000 + 1)
          expect(localDay(e + d, zone)).toBe(intlDay(e + d, zone));
  });

  it('asks Intl at most twice per quarter hour for the readings of that quarter hour', () => {
    const spy = vi.spyOn(Intl.DateTimeFormat.prototype, 'formatToParts');
    try {
      const start = Date.UTC(2026, 5, 10, 9, 0); // a quarter hour away from any midnight
      for (let i = 0; i < 900; i++) expect(localDay(start + i * 1000, 'Europe/Berlin')).toBe('2026-06-10');
      expect(spy.mock.calls.length).toBeLessThanOrEqual(2);
    } finally {
      spy.mockRestore();
    }
  });
});
