import { AempSnapshotSchema, aempToReading, type Reading, ReadingSchema } from '@ironledger/contracts';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { attributeReadings } from './attribution.js';
import { DEFAULT_FAULT_OPTIONS, type FaultKind } from './faults.js';
import { type FleetPlan, type PlanOptions, planFleet, unitMessages } from './plan.js';
import { computeTruth } from './truth.js';

function options(over: Partial<PlanOptions> & { enabled?: FaultKind[] } = {}): PlanOptions {
  const { enabled = [], ...rest } = over;
  return {
    seed: '7',
    units: 12,
    startMs: Date.parse('2026-11-02T00:00:00Z'),
    days: 3,
    intervalMs: 5 * 60_000,
    format: 'canonical',
    faults: { ...DEFAULT_FAULT_OPTIONS, enabled },
    ...rest,
  };
}

/** Every reading a unit published under its own id, decoded as the edge would. */
function publishedReadings(plan: FleetPlan, unitId: string): Reading[] {
  const u = plan.units.find((x) => x.unit.unitId === unitId);
  if (!u) throw new Error(unitId);
  const out: Reading[] = [];
  for (const m of unitMessages(u, plan)) {
    if (m.kind !== 'reading') continue;
    const raw = JSON.parse(m.payload) as unknown;
    out.push(
      m.topic.endsWith('/aemp') ? aempToReading(AempSnapshotSchema.parse(raw)) : ReadingSchema.parse(raw),
    );
  }
  return out;
}

/** Applies the attribution rule to the published stream and compares with the truth. */
function expectStreamReproducesTruth(plan: FleetPlan, tolerance = 0.001): number {
  const truth = computeTruth(plan);
  let compared = 0;
  for (const u of plan.units) {
    const { rows } = attributeReadings(publishedReadings(plan, u.unit.unitId), u.geo.site);
    const got = new Map(rows.map((r) => [`${r.day}|${r.projectId}`, r]));
    const want = new Map(
      truth.usage.filter((t) => t.unitId === u.unit.unitId).map((t) => [`${t.day}|${t.projectId}`, t]),
    );
    for (const k of new Set([...got.keys(), ...want.keys()])) {
      const g = got.get(k);
      const w = want.get(k);
      const msg = `${u.unit.unitId} ${k}`;
      expect(Math.abs((g?.engineHours ?? 0) - (w?.engineHours ?? 0)), `engine ${msg}`).toBeLessThanOrEqual(
        tolerance,
      );
      expect(Math.abs((g?.idleHours ?? 0) - (w?.idleHours ?? 0)), `idle ${msg}`).toBeLessThanOrEqual(
        tolerance,
      );
      expect(Math.abs((g?.workingHours ?? 0) - (w?.workingHours ?? 0)), `working ${msg}`).toBeLessThanOrEqual(
        tolerance,
      );
      expect(Math.abs((g?.distanceKm ?? 0) - (w?.distanceKm ?? 0)), `distance ${msg}`).toBeLessThanOrEqual(
        0.01,
      );
      expect(Math.abs((g?.fuelL ?? 0) - (w?.fuelL ?? 0)), `fuel ${msg}`).toBeLessThanOrEqual(0.05);
      compared++;
    }
  }
  return compared;
}

describe('the published stream reproduces the truth under the attribution rule', () => {
  it('on a clean run, per unit-day-project within 0.001 h', () => {
    const plan = planFleet(options());
    expect(expectStreamReproducesTruth(plan)).toBeGreaterThan(30);
  });

  it('with AEMP and canonical units mixed', () => {
    expectStreamReproducesTruth(planFleet(options({ format: 'mixed', seed: 'aemp' })));
  });

  it('with every fault that a correct receiver can see through', () => {
    const plan = planFleet(
      options({
        enabled: [
          'duplicate',
          'redelivery',
          'reorder',
          'gap',
          'clock1970',
          'skew',
          'reset',
          'jump',
          'malformed',
          'impersonate',
        ],
        seed: 'faulty',
      }),
    );
    expectStreamReproducesTruth(plan);
  });

  it('at a 7-minute interval that does not divide the day', () => {
    expectStreamReproducesTruth(planFleet(options({ intervalMs: 7 * 60_000, seed: 'odd' })));
  });

  it('for any seed, interval and start (DST weeks included), with the correctable faults on', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 8 }),
        fc.constantFrom(60_000, 5 * 60_000, 7 * 60_000, 15 * 60_000, 3_600_000),
        fc.integer({ min: 0, max: 20 }),
        fc.constantFrom<FaultKind[]>(
          [],
          ['reset', 'jump', 'gap', 'reorder', 'duplicate'],
          ['clock1970', 'skew', 'malformed'],
        ),
        (seed, intervalMs, dayOffset, enabled) => {
          const startMs = Date.parse('2026-10-20T00:00:00Z') + dayOffset * 86_400_000;
          expectStreamReproducesTruth(
            planFleet(options({ seed, intervalMs, startMs, units: 12, days: 2, enabled })),
          );
        },
      ),
      { numRuns: 10, seed: 20261102 },
    );
  });

  it('fails when the stream is tampered with (the check can fail)', () => {
    const plan = planFleet(options({ units: 1, days: 1 }));
    const u = plan.units[0]!;
    const readings = publishedReadings(plan, u.unit.unitId);
    const mid = Math.floor(readings.length / 2);
    const tampered = readings.map((r, i) => (i >= mid ? { ...r, engineHours: r.engineHours + 0.01 } : r));
    const truthHours = computeTruth(plan).usage.reduce((s, r) => s + r.engineHours, 0);
    const got = attributeReadings(tampered, u.geo.site).rows.reduce((s, r) => s + r.engineHours, 0);
    expect(Math.abs(got - truthHours)).toBeGreaterThan(0.005);
  });
});
