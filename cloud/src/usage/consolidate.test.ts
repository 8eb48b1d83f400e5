import type { Site } from '@ironledger/contracts';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { consolidate, recomputeWindow, type UsageReading } from './consolidate.js';
import { localDay, nextLocalDayStart, splitByLocalDay } from './local-time.js';

const H = 3_600_000;
const london: Site = { siteId: 'LDN', timeZone: 'Europe/London', defaultProjectId: 'P-LDN', geofences: [] };
const sites = new Map([[london.siteId, london]]);

function reading(iso: string, engineHours: number, extra: Partial<UsageReading> = {}): UsageReading {
  const tsMs = Date.parse(iso);
  return {
    ts: new Date(tsMs).toISOString(),
    tsMs,
    engineHours,
    idleHours: null,
    odometerKm: null,
    position: null,
    siteId: 'LDN',
    ...extra,
  };
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

describe('local days', () => {
  it('finds the local midnight, and DST days are 23 and 25 hours long', () => {
    expect(localDay(Date.parse('2026-03-28T23:30:00Z'), 'Europe/London')).toBe('2026-03-28');
    const spring = nextLocalDayStart(Date.parse('2026-03-29T00:00:00Z'), 'Europe/London');
    const after = nextLocalDayStart(spring, 'Europe/London');
    expect((after - spring) / H).toBe(24);
    const springDayStart = Date.parse('2026-03-29T00:00:00Z'); // 00:00 GMT
    expect((spring - springDayStart) / H).toBe(23); // ends 00:00 BST = 23:00Z
    const autumnStart = Date.parse('2026-10-24T23:00:00Z'); // 00:00 BST on 25 Oct
    expect((nextLocalDayStart(autumnStart, 'Europe/London') - autumnStart) / H).toBe(25);
  });

  it('a zone that skips midnight still gets its next day start', () => {
    // America/Havana starts DST at 00:00 → 01:00 (8 March 2026).
    const t = Date.parse('2026-03-07T12:00:00-05:00');
    const next = nextLocalDayStart(t, 'America/Havana');
    expect(localDay(next, 'America/Havana')).toBe('2026-03-08');
    expect(localDay(next - 1, 'America/Havana')).toBe('2026-03-07');
  });

  it('splits an interval into per-day pieces that add up', () => {
    const a = Date.parse('2026-06-01T20:00:00Z'); // 21:00 BST
    const b = Date.parse('2026-06-03T01:00:00Z'); // 02:00 BST two days later
    const pieces = splitByLocalDay(a, b, 'Europe/London');
    expect(pieces.map((p) => p.day)).toEqual(['2026-06-01', '2026-06-02', '2026-06-03']);
    expect(pieces.map((p) => p.ms / H)).toEqual([3, 24, 2]);
  });
});

describe('consolidate', () => {
  it('splits at local midnight in proportion to time', () => {
    const out = consolidate({
      unitId: 'U1',
      sites,
      unitSiteId: null,
      readings: [reading('2026-06-01T22:00:00Z', 100), reading('2026-06-01T23:30:00Z', 101.5)], // 23:00 → 00:30 BST
    });
    const byDay = Object.fromEntries(out.figures.map((f) => [f.day, f.engineHours]));
    expect(byDay['2026-06-01']).toBeCloseTo(1, 9);
    expect(byDay['2026-06-02']).toBeCloseTo(0.5, 9);
  });

  it('attributes a DST day (23 h) correctly and conserves hours across it', () => {
    // Continuous running 28 Mar 12:00 GMT → 30 Mar 12:00 BST, readings every 6 h.
    const start = Date.parse('2026-03-28T12:00:00Z');
    const rs: UsageReading[] = [];
    for (let t = start, e = 0; t <= Date.parse('2026-03-30T11:00:00Z'); t += 6 * H, e += 6)
      rs.push(reading(new Date(t).toISOString(), e));
    const out = consolidate({ unitId: 'U1', sites, unitSiteId: null, readings: rs });
    const byDay = Object.fromEntries(out.figures.map((f) => [f.day, f.engineHours]));
    expect(byDay['2026-03-28']).toBeCloseTo(12, 9); // 12:00 → 24:00 GMT
    expect(byDay['2026-03-29']).toBeCloseTo(23, 9); // the short day
    expect(sum(out.figures.map((f) => f.engineHours))).toBeCloseTo(rs.at(-1)!.engineHours, 9);
  });

  it('a 25 h autumn day holds 25 running hours', () => {
    const rs = [
      reading('2026-10-24T23:00:00Z', 0),
      reading('2026-10-25T12:00:00Z', 13),
      reading('2026-10-26T00:00:00Z', 25),
    ];
    const out = consolidate({ unitId: 'U1', sites, unitSiteId: null, readings: rs });
    expect(out.figures.find((f) => f.day === '2026-10-25')?.engineHours).toBeCloseTo(25, 9);
  });

  it('flags a meter reset and bills only what each meter proves: the new meter starts from its first reading', () => {
    const rs = [
      reading('2026-06-01T08:00:00Z', 5000),
      reading('2026-06-01T10:00:00Z', 5002),
      reading('2026-06-01T12:00:00Z', 1.5), // replaced controller: restarted from 0
      reading('2026-06-01T13:00:00Z', 2.5),
    ];
    const out = consolidate({ unitId: 'U1', sites, unitSiteId: null, readings: rs });
    expect(out.anomalies).toEqual([
      expect.objectContaining({
        kind: 'meter_reset',
        before: 5002,
        after: 1.5,
        ts: '2026-06-01T12:00:00.000Z',
      }),
    ]);
    // 2 h on the old meter, 1 h on the new one; the new meter's 1.5 h were never observed.
    expect(out.figures[0]!.engineHours).toBeCloseTo(2 + 1, 9);
    expect(out.figures[0]!.anomalies).toHaveLength(1);
    expect(out.anomalies[0]!.detail).toMatch(/1\.5 unverified, not counted/);
  });

  it('a reset to a value the elapsed time cannot explain counts nothing for that interval', () => {
    const rs = [reading('2026-06-01T08:00:00Z', 5000), reading('2026-06-01T09:00:00Z', 300)];
    const out = consolidate({ unitId: 'U1', sites, unitSiteId: null, readings: rs });
    expect(out.anomalies[0]).toMatchObject({ kind: 'meter_reset', before: 5000, after: 300 });
    expect(out.figures[0]!.engineHours).toBe(0);
  });

  it('flags a jump larger than wall time and does not sum it', () => {
    const rs = [
      reading('2026-06-01T08:00:00Z', 100),
      reading('2026-06-01T09:00:00Z', 150),
      reading('2026-06-01T10:00:00Z', 151),
    ];
    const out = consolidate({ unitId: 'U1', sites, unitSiteId: null, readings: rs });
    expect(out.anomalies).toEqual([expect.objectContaining({ kind: 'meter_jump', before: 100, after: 150 })]);
    expect(out.figures[0]!.engineHours).toBeCloseTo(1, 9);
  });

  it('idle and working hours, capped so working is never negative; distance from the odometer', () => {
    const rs = [
      reading('2026-06-01T08:00:00Z', 10, { idleHours: 2, odometerKm: 50 }),
      reading('2026-06-01T10:00:00Z', 12, { idleHours: 2.5, odometerKm: 53 }),
    ];
    const [f] = consolidate({ unitId: 'U1', sites, unitSiteId: null, readings: rs }).figures;
    expect(f).toMatchObject({
      engineHours: 2,
      idleHours: 0.5,
      workingHours: 1.5,
      distanceKm: 3,
      readings: 2,
    });
  });

  it('attributes (prev, cur] to the project at cur’s position (geofences, first match)', () => {
    const site: Site = {
      siteId: 'S',
      timeZone: 'UTC',
      defaultProjectId: 'P-DEFAULT',
      geofences: [
        { kind: 'circle', projectId: 'P-PIT', center: { lat: 51.5, lon: -0.12 }, radiusM: 100 },
        {
          kind: 'polygon',
          projectId: 'P-YARD',
          points: [
            { lat: 51.6, lon: -0.2 },
            { lat: 51.6, lon: -0.1 },
            { lat: 51.7, lon: -0.1 },
            { lat: 51.7, lon: -0.2 },
          ],
        },
      ],
    };
    const at = (iso: string, e: number, lat: number, lon: number) =>
      reading(iso, e, { siteId: 'S', position: { lat, lon } });
    const out = consolidate({
      unitId: 'U1',
      sites: new Map([['S', site]]),
      unitSiteId: null,
      readings: [
        at('2026-06-01T08:00:00Z', 0, 51.5, -0.12),
        at('2026-06-01T09:00:00Z', 1, 51.65, -0.15), // (08, 09] → yard
        at('2026-06-01T10:00:00Z', 2, 51.5001, -0.12), // (09, 10] → pit
        at('2026-06-01T11:00:00Z', 3, 40, 0), // (10, 11] → default
      ],
    });
    const by = Object.fromEntries(out.figures.map((f) => [f.projectId, f.engineHours]));
    expect(by).toEqual({ 'P-DEFAULT': 1, 'P-PIT': 1, 'P-YARD': 1 });
  });

  it('falls back to the unit’s site, then to UNASSIGNED', () => {
    const r = [
      reading('2026-06-01T08:00:00Z', 0, { siteId: null }),
      reading('2026-06-01T09:00:00Z', 1, { siteId: null }),
    ];
    expect(consolidate({ unitId: 'U1', sites, unitSiteId: 'LDN', readings: r }).figures[0]!.projectId).toBe(
      'P-LDN',
    );
    expect(consolidate({ unitId: 'U1', sites, unitSiteId: null, readings: r }).figures[0]!.projectId).toBe(
      'UNASSIGNED',
    );
  });
});

// ---- property: conservation and order independence ------------------------------------

type Step = { kind: 'run' | 'reset' | 'jump'; dtMin: number; frac: number };
const stepArb = fc.record({
  kind: fc.constantFrom<Step['kind']>('run', 'run', 'run', 'run', 'run', 'run', 'reset', 'jump'),
  dtMin: fc.integer({ min: 1, max: 26 * 60 }),
  frac: fc.double({ min: 0, max: 1, noNaN: true }),
});
const zoneArb = fc.constantFrom(
  'Europe/London',
  'America/New_York',
  'Australia/Lord_Howe',
  'Asia/Kolkata',
  'UTC',
  'Pacific/Kiritimati',
  'Pacific/Pago_Pago',
);

function stream(start: number, e0: number, steps: Step[]) {
  const rs: UsageReading[] = [];
  let t = start;
  let e = e0;
  let expected = 0; // hours the rules promise to count
  rs.push({
    ts: new Date(t).toISOString(),
    tsMs: t,
    engineHours: e,
    idleHours: null,
    odometerKm: null,
    position: null,
    siteId: 'S',
  });
  for (const s of steps) {
    const dtH = s.dtMin / 60;
    t += s.dtMin * 60_000;
    if (s.kind === 'reset' && e > 0.2) {
      const after = Math.min(e - 0.1, dtH * s.frac); // a new meter: its first reading is the baseline
      e = after;
    } else if (s.kind === 'jump') {
      e += dtH * 2 + 1 + s.frac * 100; // impossible in the elapsed time
    } else {
      const inc = dtH * s.frac; // a running engine: at most wall time
      expected += inc;
      e += inc;
    }
    rs.push({
      ts: new Date(t).toISOString(),
      tsMs: t,
      engineHours: e,
      idleHours: null,
      odometerKm: null,
      position: null,
      siteId: 'S',
    });
  }
  return { rs, expected };
}

describe('consolidate (properties)', () => {
  it('conserves engine hours: Σ usage = meter rise − flagged jumps + resets (before − after), and each figure ≥ 0', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: Date.parse('2024-01-01'), max: Date.parse('2027-01-01') }),
        fc.double({ min: 0, max: 20_000, noNaN: true }),
        fc.array(stepArb, { minLength: 1, maxLength: 40 }),
        zoneArb,
        (start, e0, steps, tz) => {
          const { rs, expected } = stream(start, e0, steps);
          const site: Site = { siteId: 'S', timeZone: tz, defaultProjectId: 'P', geofences: [] };
          const out = consolidate({
            unitId: 'U',
            sites: new Map([['S', site]]),
            unitSiteId: null,
            readings: rs,
          });
          const total = sum(out.figures.map((f) => f.engineHours));
          expect(total).toBeCloseTo(expected, 6);
          // The same figure from the meter and the flagged anomalies alone:
          const first = rs[0]!.engineHours;
          const last = rs.at(-1)!.engineHours;
          const jumps = sum(
            out.anomalies.filter((a) => a.kind === 'meter_jump').map((a) => a.after! - a.before!),
          );
          const resets = sum(
            out.anomalies.filter((a) => a.kind === 'meter_reset').map((a) => a.before! - a.after!),
          );
          expect(total).toBeCloseTo(last - first - jumps + resets, 6);
          for (const f of out.figures) {
            expect(f.engineHours).toBeGreaterThanOrEqual(0);
            expect(f.workingHours).toBeGreaterThanOrEqual(0);
          }
          expect(sum(out.figures.map((f) => f.readings))).toBe(rs.length);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('gives the same figures whatever the arrival order', () => {
    fc.assert(
      fc.property(
        fc.array(stepArb, { minLength: 1, maxLength: 30 }),
        zoneArb,
        fc.integer(),
        (steps, tz, seed) => {
          const { rs } = stream(Date.parse('2026-03-27T00:00:00Z'), 1000, steps);
          const site: Site = { siteId: 'S', timeZone: tz, defaultProjectId: 'P', geofences: [] };
          const shuffled = fc.sample(
            fc.shuffledSubarray(rs, { minLength: rs.length, maxLength: rs.length }),
            { seed, numRuns: 1 },
          )[0]!;
          const a = consolidate({
            unitId: 'U',
            sites: new Map([['S', site]]),
            unitSiteId: null,
            readings: rs,
          });
          const b = consolidate({
            unitId: 'U',
            sites: new Map([['S', site]]),
            unitSiteId: null,
            readings: shuffled,
          });
          expect(b).toEqual(a);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('recomputing from the earliest changed day gives what recomputing everything gives', () => {
    fc.assert(
      fc.property(
        fc.array(stepArb, { minLength: 2, maxLength: 40 }),
        zoneArb,
        fc.nat(),
        (steps, tz, pick) => {
          const { rs } = stream(Date.parse('2026-03-20T05:00:00Z'), 500, steps);
          const site: Site = { siteId: 'S', timeZone: tz, defaultProjectId: 'P', geofences: [] };
          const run = (readings: UsageReading[]) =>
            consolidate({ unitId: 'U', sites: new Map([['S', site]]), unitSiteId: null, readings });
          // Readings from index k on arrive after the others were consolidated.
          const k = 1 + (pick % (rs.length - 1));
          const before = run(rs.slice(0, k));
          const all = run(rs);
          // Any zone's window, and the window of the zones the unit's days are counted in (the
          // site's and UTC), which starts at the anchor's own local day.
          const wide = recomputeWindow(rs[k - 1]!.tsMs);
          const tight = recomputeWindow(rs[k - 1]!.tsMs, [tz, 'UTC']);
          expect(tight.startMs).toBeGreaterThanOrEqual(wide.startMs);
          for (const { fromDay, startMs } of [wide, tight]) {
            const firstIdx = rs.findLastIndex((r) => r.tsMs < startMs);
            const part = run(rs.slice(Math.max(0, firstIdx)));
            const afterTs = firstIdx >= 0 ? rs[firstIdx]!.ts : '';
            // Days before the window are what was stored before the new readings came…
            expect(before.figures.filter((f) => f.day < fromDay)).toEqual(
              all.figures.filter((f) => f.day < fromDay),
            );
            expect(before.anomalies.filter((a) => a.ts <= afterTs)).toEqual(
              all.anomalies.filter((a) => a.ts <= afterTs),
            );
            // …and the window is fully given by the readings it needs.
            expect(part.figures.filter((f) => f.day >= fromDay)).toEqual(
              all.figures.filter((f) => f.day >= fromDay),
            );
            expect(part.anomalies.filter((a) => a.ts > afterTs)).toEqual(
              all.anomalies.filter((a) => a.ts > afterTs),
            );
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('billing detail per figure', () => {
  const hourly = (fromIso: string, n: number, perHour: (k: number) => number, idle = 0) => {
    const out: UsageReading[] = [];
    let meter = 100;
    let idleMeter = 10;
    for (let k = 0; k <= n; k++) {
      if (k > 0) {
        meter += perHour(k);
        idleMeter += Math.min(idle, perHour(k));
      }
      out.push(reading(new Date(Date.parse(fromIso) + k * H).toISOString(), meter, { idleHours: idleMeter }));
    }
    return out;
  };

  it('splits the day into working, idle, standby and off-hours by the project calendar', () => {
    // Mon 2 Nov 2026, London (GMT), hourly readings 00:00 → 24:00; engine runs 09:00–13:00,
    // 0.25 h of each of those hours idle. Default calendar: Mon–Fri 07:00–17:00.
    const readings = hourly('2026-11-02T00:00:00Z', 24, (k) => (k >= 10 && k <= 13 ? 1 : 0), 0.25);
    const { figures } = consolidate({ unitId: 'U1', sites, unitSiteId: 'LDN', readings });
    const f = figures.find((x) => x.day === '2026-11-02')!;
    const s = f.billing.statusHours;
    expect(s.working).toBeCloseTo(3, 9);
    expect(s.idle).toBeCloseTo(1, 9);
    expect(s.standby).toBeCloseTo(6, 9); // 10 h window − 4 h running
    expect(s.offHours).toBeCloseTo(14, 9);
    expect(f.billing.gaps).toEqual([]);
    // A project with its own calendar: Mon–Fri 08:00–12:00 → 4 h window, all running.
    const own = consolidate({
      unitId: 'U1',
      sites,
      unitSiteId: 'LDN',
      readings,
      projects: new Map([
        [
          'P-LDN',
          {
            projectId: 'P-LDN',
            name: 'x',
            calendar: { days: ['mon'], start: '09:00', end: '13:00', holidays: [] },
          },
        ],
      ]),
    }).figures.find((x) => x.day === '2026-11-02')!;
    expect(own.billing.statusHours.standby).toBeCloseTo(0, 9);
    expect(own.billing.statusHours.offHours).toBeCloseTo(20, 9);
  });

  it('carries a new meter’s starting value as unverified and counts no status time across the reset', () => {
    const readings = [
      reading('2026-11-02T08:00:00Z', 500),
      reading('2026-11-02T09:00:00Z', 501),
      reading('2026-11-02T10:00:00Z', 0.3), // new ECU, 0.3 h on it
      reading('2026-11-02T11:00:00Z', 1.3),
    ];
    const { figures } = consolidate({ unitId: 'U1', sites, unitSiteId: 'LDN', readings });
    const f = figures[0]!;
    expect(f.engineHours).toBeCloseTo(2, 9);
    expect(f.billing.unverifiedHours).toBeCloseTo(0.3, 9);
    const s = f.billing.statusHours;
    expect(s.working + s.idle + s.standby + s.offHours).toBeCloseTo(2, 9); // the reset hour counts nothing
  });

  it('marks hours a long gap spreads over days as inferred, and shows the gap', () => {
    const readings = [
      reading('2026-11-02T16:00:00Z', 100),
      reading('2026-11-03T10:00:00Z', 106), // 18 h offline over midnight, 6 h run
      reading('2026-11-03T10:05:00Z', 106.05),
      reading('2026-11-03T12:05:00Z', 107), // 2 h gap within the day and project: shown, not inferred
    ];
    const { figures } = consolidate({ unitId: 'U1', sites, unitSiteId: 'LDN', readings });
    const [d2, d3] = figures;
    expect(d2!.billing.inferredHours).toBeCloseTo(6 * (8 / 18), 6);
    expect(d3!.billing.inferredHours).toBeCloseTo(6 * (10 / 18), 6);
    expect(d3!.billing.gaps.map((g) => [g.fromTs, g.inferred, g.days])).toEqual([
      ['2026-11-02T16:00:00.000Z', true, ['2026-11-02', '2026-11-03']],
      ['2026-11-03T10:05:00.000Z', false, ['2026-11-03']],
    ]);
  });

  it('hashes the readings a figure rests on, and the hash moves with any of them', () => {
    const readings = hourly('2026-11-02T08:00:00Z', 4, () => 1);
    const base = consolidate({ unitId: 'U1', sites, unitSiteId: 'LDN', readings }).figures[0]!;
    expect(base.billing.readings.map((r) => r.ts)).toEqual(readings.map((r) => r.ts));
    const again = consolidate({ unitId: 'U1', sites, unitSiteId: 'LDN', readings: [...readings].reverse() });
    expect(again.figures[0]!.billing.readingsSha256).toBe(base.billing.readingsSha256);
    const altered = readings.map((r, k) => (k === 2 ? { ...r, engineHours: r.engineHours + 0.01 } : r));
    const changed = consolidate({ unitId: 'U1', sites, unitSiteId: 'LDN', readings: altered }).figures[0]!;
    expect(changed.billing.readingsSha256).not.toBe(base.billing.readingsSha256);
  });
});
