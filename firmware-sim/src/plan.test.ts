import { AempSnapshotSchema, parseUnitTopic, ReadingSchema } from '@ironledger/contracts';
import { describe, expect, it } from 'vitest';
import { DEFAULT_FAULT_OPTIONS, FAULT_KINDS, type FaultKind } from './faults.js';
import { type PlanOptions, planFleet, unitMessages } from './plan.js';

function opts(enabled: FaultKind[] = [], over: Partial<PlanOptions> = {}): PlanOptions {
  return {
    seed: 'msg',
    units: 6,
    startMs: Date.parse('2026-11-02T00:00:00Z'),
    days: 2,
    intervalMs: 5 * 60_000,
    format: 'mixed',
    faults: {
      ...DEFAULT_FAULT_OPTIONS,
      enabled,
      malformedRate: 0.05,
      impersonateRate: 0.02,
      duplicateRate: 0.05,
    },
    ...over,
  };
}

describe('messages a unit publishes', () => {
  it("are valid canonical readings or AEMP snapshots under the unit's own topic, on interval boundaries", () => {
    const plan = planFleet(opts());
    for (const u of plan.units) {
      let lastSeq = -1;
      for (const m of unitMessages(u, plan)) {
        expect(m.kind).toBe('reading');
        if (m.kind !== 'reading') continue;
        const t = parseUnitTopic(m.topic)!;
        expect(t.unitId).toBe(u.unit.unitId);
        const raw = JSON.parse(m.payload) as Record<string, unknown>;
        if (t.kind === 'aemp') {
          const s = AempSnapshotSchema.parse(raw);
          expect(s.EquipmentHeader.EquipmentID).toBe(u.unit.unitId);
          expect(s.EquipmentHeader.SerialNumber).toBe(u.unit.serialNo);
          expect(s.CumulativeOperatingHours.datetime).toBe(m.ts);
          expect(s.Location?.datetime).toBe(m.ts);
        } else {
          const r = ReadingSchema.parse(raw);
          expect(r.unitId).toBe(u.unit.unitId);
          expect(r.ts).toBe(m.ts);
          expect(r.seq).toBeGreaterThan(lastSeq);
          lastSeq = r.seq ?? 0;
          expect(r.odometerKm !== undefined).toBe(u.profile.odometer);
        }
        expect(Date.parse(m.ts as string) % plan.intervalMs).toBe(0);
        expect(m.dueMs).toBe(Date.parse(m.ts as string));
      }
    }
  });

  it('never lowers a meter without a documented reset', () => {
    const plan = planFleet(opts([], { format: 'canonical', days: 4 }));
    for (const u of plan.units) {
      let prev = { e: 0, i: 0, f: 0, o: 0 };
      for (const m of unitMessages(u, plan)) {
        if (m.kind !== 'reading') continue;
        const r = ReadingSchema.parse(JSON.parse(m.payload));
        const cur = { e: r.engineHours, i: r.idleHours ?? 0, f: r.fuelUsedL ?? 0, o: r.odometerKm ?? 0 };
        expect(cur.e).toBeGreaterThanOrEqual(prev.e);
        expect(cur.i).toBeGreaterThanOrEqual(prev.i);
        expect(cur.f).toBeGreaterThanOrEqual(prev.f);
        expect(cur.o).toBeGreaterThanOrEqual(prev.o);
        prev = cur;
      }
    }
  });

  it('with faults: malformed payloads fail the contract, impersonations name another unit, duplicates repeat exactly', () => {
    const plan = planFleet(opts([...FAULT_KINDS], { format: 'canonical' }));
    let malformed = 0;
    let impersonations = 0;
    let duplicates = 0;
    const ids = new Set(plan.world.units.map((u) => u.unitId));
    for (const u of plan.units) {
      const seen = new Map<string, string>();
      for (const m of unitMessages(u, plan)) {
        if (m.kind === 'malformed') {
          malformed++;
          let parsed: unknown;
          try {
            parsed = JSON.parse(m.payload);
          } catch {
            continue;
          }
          const r = ReadingSchema.safeParse(parsed);
          // Either not a reading at all, or one that names someone else than its topic.
          if (r.success) expect(r.data.unitId).not.toBe(u.unit.unitId);
        } else if (m.kind === 'impersonate') {
          impersonations++;
          expect(m.asUnitId).not.toBe(u.unit.unitId);
          expect(ids.has(m.asUnitId)).toBe(true);
          expect(parseUnitTopic(m.topic)?.unitId).toBe(m.asUnitId);
          expect(ReadingSchema.parse(JSON.parse(m.payload)).unitId).toBe(m.asUnitId);
        } else if (m.kind === 'reading') {
          const before = seen.get(m.ts as string);
          if (before !== undefined) {
            duplicates++;
            expect(m.payload).toBe(before);
          }
          seen.set(m.ts as string, m.payload);
        }
      }
    }
    expect(malformed).toBeGreaterThan(10);
    expect(impersonations).toBeGreaterThan(3);
    expect(duplicates).toBeGreaterThan(10);
  });

  it('sends a reordered burst newest first, and nothing is lost', () => {
    const plan = planFleet(
      opts(['reorder'], {
        format: 'canonical',
        faults: { ...DEFAULT_FAULT_OPTIONS, enabled: ['reorder'], reorderRate: 0.05 },
      }),
    );
    for (const u of plan.units) {
      const ts = [...unitMessages(u, plan)]
        .filter((m) => m.kind === 'reading')
        .map((m) => Date.parse(m.ts as string));
      const descents = ts.filter((t, i) => i > 0 && t < (ts[i - 1] as number)).length;
      expect(descents).toBeGreaterThan(0);
      expect([...ts].sort((a, b) => a - b)).toEqual(ts.map((_, i) => plan.startMs + i * plan.intervalMs));
    }
  });
});
