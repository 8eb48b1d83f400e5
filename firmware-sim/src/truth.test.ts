import { type Reading, ReadingSchema, TruthSchema } from '@ironledger/contracts';
import { describe, expect, it } from 'vitest';
import { attributeReadings } from './attribution.js';
import { DEFAULT_FAULT_OPTIONS, FAULT_KINDS, type FaultKind } from './faults.js';
import { type FleetPlan, type PlanOptions, planFleet, samples, type UnitPlan, unitMessages } from './plan.js';
import { HOUR_MS, localDay, SECOND_MS, weekdayOf, zonedTime } from './time.js';
import { computeTruth, serializeTruth } from './truth.js';

function opts(over: Partial<PlanOptions> = {}, enabled: FaultKind[] = []): PlanOptions {
  return {
    seed: '42',
    units: 12,
    startMs: Date.parse('2026-11-02T00:00:00Z'),
    days: 2,
    intervalMs: 5 * 60_000,
    format: 'canonical',
    faults: { ...DEFAULT_FAULT_OPTIONS, enabled },
    ...over,
  };
}

const unitOf = (plan: FleetPlan, id: string) => plan.units.find((u) => u.unit.unitId === id) as UnitPlan;

/** Canonical readings a unit published under its own id, in the order of the unit's counter. */
function readingsOf(plan: FleetPlan, u: UnitPlan): Reading[] {
  const seen = new Set<string>();
  const out: Reading[] = [];
  for (const m of unitMessages(u, plan)) {
    if (m.kind !== 'reading' || seen.has(m.ts as string)) continue;
    seen.add(m.ts as string);
    out.push(ReadingSchema.parse(JSON.parse(m.payload)));
  }
  return out.sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0));
}

/** Engine-on seconds of the timeline inside [a, b). */
function engineSecondsBetween(u: UnitPlan, a: number, b: number): number {
  let s = 0;
  for (const seg of u.timeline.segments) {
    if (seg.engine === 'off') continue;
    s += Math.max(0, Math.min(b, seg.endMs) - Math.max(a, seg.startMs)) / SECOND_MS;
  }
  return s;
}

describe('determinism', () => {
  it('gives byte-identical truth files and message sequences for the same seed and options', () => {
    const all = [...FAULT_KINDS];
    const a = planFleet(opts({}, all));
    const b = planFleet(opts({}, all));
    expect(serializeTruth(computeTruth(a))).toBe(serializeTruth(computeTruth(b)));
    for (const u of a.units) {
      const ma = [...unitMessages(u, a)];
      const mb = [...unitMessages(unitOf(b, u.unit.unitId), b)];
      expect(ma).toEqual(mb);
    }
  });

  it('writes a truth file the shared schema (contracts/sim.ts) accepts', () => {
    const text = serializeTruth(computeTruth(planFleet(opts({}, [...FAULT_KINDS]))));
    const parsed = TruthSchema.safeParse(JSON.parse(text));
    expect(parsed.error?.issues ?? []).toEqual([]);
    expect(text.endsWith('}\n')).toBe(true);
  });

  it('changes with the seed', () => {
    const a = serializeTruth(computeTruth(planFleet(opts())));
    const b = serializeTruth(computeTruth(planFleet(opts({ seed: '43' }))));
    expect(a).not.toBe(b);
  });

  it("keeps one unit's behaviour when faults are switched on elsewhere or the fleet grows", () => {
    const base = computeTruth(planFleet(opts()));
    const noisy = computeTruth(
      planFleet(
        opts({}, [
          'duplicate',
          'redelivery',
          'reorder',
          'malformed',
          'impersonate',
          'gap',
          'skew',
          'clock1970',
        ]),
      ),
    );
    // None of these faults changes what the machines did.
    expect(noisy.usage).toEqual(base.usage);
    const bigger = computeTruth(planFleet(opts({ units: 20 })));
    expect(bigger.usage.filter((r) => base.units.some((u) => u.unitId === r.unitId))).toEqual(base.usage);
  });
});

describe('truth accounting', () => {
  const plan = planFleet(opts({ days: 3 }, ['reset', 'jump']));
  const truth = computeTruth(plan);

  it('lists every unit, sorts usage by unit, day, project, rounds to 1e-6 h', () => {
    expect(truth.units.map((u) => u.unitId)).toEqual(plan.world.units.map((u) => u.unitId));
    const keys = truth.usage.map((r) => `${r.unitId}|${r.day}|${r.projectId}`);
    expect(keys).toEqual([...keys].sort());
    expect(new Set(keys).size).toBe(keys.length);
    for (const r of truth.usage) {
      expect(Math.round(r.engineHours * 1e6) / 1e6).toBe(r.engineHours);
      expect(r.workingHours).toBeCloseTo(r.engineHours - r.idleHours, 5);
      expect(r.idleHours).toBeLessThanOrEqual(r.engineHours);
    }
  });

  it('raises the hour meter exactly with engine-on time, between every two readings', () => {
    for (const u of plan.units) {
      let prev: { tMs: number; engineS: number; idleS: number } | null = null;
      for (const s of samples(u, plan)) {
        if (prev) {
          expect(s.engineS - prev.engineS).toBe(engineSecondsBetween(u, prev.tMs, s.tMs));
          expect(s.idleS - prev.idleS).toBeLessThanOrEqual(s.engineS - prev.engineS);
        }
        prev = s;
      }
    }
  });

  it('adds up hours per day to the meter rise minus documented resets and jumps', () => {
    expect(truth.meterResets.length).toBeGreaterThan(0);
    expect(truth.faults.some((f) => f.kind === 'jump')).toBe(true);
    for (const u of plan.units) {
      const id = u.unit.unitId;
      const rs = readingsOf(plan, u);
      const first = rs[0] as Reading;
      const last = rs[rs.length - 1] as Reading;
      const resets = truth.meterResets.filter((r) => r.unitId === id);
      const jumps = truth.faults.filter((f) => f.unitId === id && f.kind === 'jump') as Array<{
        before: number;
        after: number;
      }>;
      const documented =
        resets.reduce((s, r) => s + (r.after - r.before), 0) +
        jumps.reduce((s, j) => s + (j.after - j.before), 0);
      const usage = truth.usage.filter((r) => r.unitId === id);
      const hours = usage.reduce((s, r) => s + r.engineHours, 0);
      expect(hours, id).toBeCloseTo(last.engineHours - first.engineHours - documented, 4);
      const idle = usage.reduce((s, r) => s + r.idleHours, 0);
      const idleDocumented = resets.reduce((s, r) => s + (r.idleAfter - r.idleBefore), 0);
      expect(idle, id).toBeCloseTo((last.idleHours ?? 0) - (first.idleHours ?? 0) - idleDocumented, 4);
      expect(hours).toBeGreaterThan(0);
    }
  });

  it('swaps the ECU with the engine off, restarting the meter near zero', () => {
    for (const r of truth.meterResets) {
      const u = unitOf(plan, r.unitId);
      const at = Date.parse(r.ts);
      expect(r.after).toBeLessThan(0.25);
      expect(r.before).toBeGreaterThan(100);
      expect(engineSecondsBetween(u, at - 2 * plan.intervalMs, at + 2 * plan.intervalMs)).toBe(0);
      const rs = readingsOf(plan, u);
      const after = rs.find((x) => Date.parse(x.ts) >= at) as Reading;
      expect(after.engineHours).toBeCloseTo(r.after, 6);
    }
  });

  it('keeps machines off at night and on Sunday, generators running round the clock', () => {
    const week = planFleet(opts({ days: 7, units: 6 }));
    const t = computeTruth(week);
    for (const u of week.units) {
      const tz = u.geo.site.timeZone;
      const rows = t.usage.filter((r) => r.unitId === u.unit.unitId);
      for (const r of rows) {
        if (u.profile.continuous) continue;
        expect(weekdayOf(r.day), `${r.unitId} ${r.day}`).not.toBe(0);
        expect(r.engineHours).toBeLessThan(13);
      }
      for (const seg of u.timeline.segments) {
        if (seg.engine === 'off' || u.profile.continuous) continue;
        const day = localDay(seg.startMs, tz);
        expect(seg.startMs).toBeGreaterThanOrEqual(zonedTime(day, 6 * 60, tz));
        expect(seg.endMs).toBeLessThanOrEqual(zonedTime(day, 19 * 60, tz));
      }
      if (u.profile.continuous) {
        const full = rows.filter((r) => r.day > '2026-11-02' && r.day < '2026-11-08');
        for (const r of full) expect(r.engineHours).toBeGreaterThan(23.5);
      }
    }
  });

  it('counts published and distinct readings', () => {
    const per = Math.round((plan.endMs - plan.startMs) / plan.intervalMs) + 1;
    expect(truth.readings).toEqual({ published: per * plan.units.length, distinct: per * plan.units.length });
  });
});

describe('a day crossing a DST change', () => {
  it('gives a generator 25 local hours on the day London leaves summer time, less its refuel stop', () => {
    const plan = planFleet(opts({ startMs: Date.parse('2026-10-24T00:00:00+01:00'), days: 3, units: 6 }));
    const truth = computeTruth(plan);
    const gen = truth.usage.filter((r) => r.unitId === 'GEN-0006' && r.day === '2026-10-25');
    expect(gen).toHaveLength(1);
    const u = unitOf(plan, 'GEN-0006');
    const dayStart = zonedTime('2026-10-25', 0, 'Europe/London');
    const dayEnd = zonedTime('2026-10-26', 0, 'Europe/London');
    expect((dayEnd - dayStart) / HOUR_MS).toBe(25);
    const off = (dayEnd - dayStart) / SECOND_MS - engineSecondsBetween(u, dayStart, dayEnd);
    expect(off).toBeGreaterThanOrEqual(15 * 60);
    expect(off).toBeLessThanOrEqual(25 * 60);
    expect(gen[0]!.engineHours).toBeCloseTo(25 - off / 3600, 6);
    // And the published stream, split at local midnight, says the same.
    const rows = attributeReadings(readingsOf(plan, u), u.geo.site).rows.filter(
      (r) => r.day === '2026-10-25',
    );
    expect(rows.reduce((s, r) => s + r.engineHours, 0)).toBeCloseTo(gen[0]!.engineHours, 3);
  });

  it('keeps Chicago shifts on local wall-clock time across 2026-11-01', () => {
    const plan = planFleet(opts({ startMs: Date.parse('2026-10-29T00:00:00Z'), days: 6, units: 12 }));
    const u = unitOf(plan, 'EXC-0007');
    const firstOn = (day: string) => {
      const a = zonedTime(day, 0, 'America/Chicago');
      return plan.units && u.timeline.segments.find((s) => s.engine !== 'off' && s.startMs >= a)!.startMs;
    };
    // Friday before and Monday after the change both start around 07:00 local.
    for (const day of ['2026-10-30', '2026-11-02']) {
      const local = (firstOn(day) - zonedTime(day, 0, 'America/Chicago')) / 60_000;
      expect(local).toBeGreaterThanOrEqual(7 * 60 - 15);
      expect(local).toBeLessThanOrEqual(7 * 60 + 21);
    }
  });
});

describe('a unit moving between projects mid-shift', () => {
  it('splits the day between two projects, moves with the engine off, and the stream agrees', () => {
    let found: { plan: FleetPlan; u: UnitPlan; day: string } | null = null;
    for (let seed = 1; seed < 60 && !found; seed++) {
      const plan = planFleet(opts({ seed: String(seed), units: 6, days: 3 }));
      for (const u of plan.units) {
        const tz = u.geo.site.timeZone;
        for (const m of u.timeline.moves) {
          const day = localDay(m.departMs, tz);
          const before = engineSecondsBetween(u, zonedTime(day, 0, tz), m.departMs);
          const after = engineSecondsBetween(u, m.arriveMs, zonedTime(day, 24 * 60, tz));
          const from = u.geo.locations[m.from]!.projectId;
          const to = u.geo.locations[m.to]!.projectId;
          if (before > 0 && after > 0 && from !== to) found = { plan, u, day };
        }
      }
    }
    expect(found, 'some seed has a mid-shift move').not.toBeNull();
    const { plan, u, day } = found!;
    const truth = computeTruth(plan).usage.filter((r) => r.unitId === u.unit.unitId && r.day === day);
    expect(truth.length).toBeGreaterThanOrEqual(2);
    for (const m of u.timeline.moves)
      expect(engineSecondsBetween(u, m.departMs - plan.intervalMs, m.arriveMs + plan.intervalMs)).toBe(0);
    const got = attributeReadings(readingsOf(plan, u), u.geo.site).rows.filter((r) => r.day === day);
    for (const t of truth) {
      const g = got.find((r) => r.projectId === t.projectId);
      expect(g?.engineHours ?? 0).toBeCloseTo(t.engineHours, 3);
      expect(g?.idleHours ?? 0).toBeCloseTo(t.idleHours, 3);
    }
  });
});

describe('injected faults in the truth', () => {
  const plan = planFleet(opts({ units: 12 }, [...FAULT_KINDS]));
  const truth = computeTruth(plan);
  const kinds = new Set(truth.faults.map((f) => f.kind));

  it('records every kind that was switched on', () => {
    for (const k of FAULT_KINDS) expect(kinds.has(k), k).toBe(true);
  });

  it('publishes 1970 timestamps until the GPS fix, and lists them with the true time', () => {
    const c = truth.faults.filter((f) => f.kind === 'clock1970');
    expect(c.length).toBeGreaterThan(0);
    for (const f of c) {
      expect(Date.parse(f.ts)).toBeLessThan(Date.parse('2000-01-01T00:00:00Z'));
      expect(Date.parse(f.trueTs as string)).toBeGreaterThanOrEqual(plan.startMs);
    }
  });

  it('keeps clock faults off machines that run through midnight', () => {
    const gens = new Set(plan.units.filter((u) => u.profile.continuous).map((u) => u.unit.unitId));
    for (const f of truth.faults)
      if (f.kind === 'skew' || f.kind === 'clock1970') expect(gens.has(f.unitId)).toBe(false);
  });

  it("sends a gap's readings later, as a backlog, and the offline/online markers around it", () => {
    const g = truth.faults.find((f) => f.kind === 'gap')!;
    const u = unitOf(plan, g.unitId);
    const msgs = [...unitMessages(u, plan)];
    const off = msgs.findIndex((m) => m.kind === 'offline');
    const on = msgs.findIndex((m) => m.kind === 'online');
    expect(off).toBeGreaterThanOrEqual(0);
    expect(on).toBeGreaterThan(off);
    const backlog = msgs.slice(on + 1).filter((m) => m.kind === 'reading' && m.dueMs === msgs[on]!.dueMs);
    expect(backlog.length).toBeGreaterThanOrEqual(
      Math.floor((DEFAULT_FAULT_OPTIONS.gapHours * HOUR_MS) / plan.intervalMs) - 1,
    );
  });
});
