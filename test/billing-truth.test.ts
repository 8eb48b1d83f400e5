/**
 * Bill only what the meters prove (DESIGN.md "Usage"; issue: billing-grade hours). A fleet
 * with every fault the simulator has (ECU swaps that restart the meter near 0, meter jumps,
 * days offline, duplicates, reordered bursts, redeliveries, a skewed clock, a 1970 clock
 * before the GPS fix, malformed payloads, a unit publishing as another) runs
 * through the real edge and cloud; the hours the cloud bills must equal the simulator's
 * truth for every unit-day-project within 0.01 h, with no exception list. The truth counts
 * nothing across a reset: the new meter's first reading is its baseline.
 */
import fs from 'node:fs';
import { SIM_FAULT_KINDS } from '@ironledger/contracts';
import { type Pipeline, removeDir, startPipeline, tempDir } from '@ironledger/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

interface Row {
  unitId: string;
  day: string;
  projectId: string;
  engineHours: number;
  idleHours: number;
}
interface Anomaly {
  unitId: string;
  kind: string;
  before: number | null;
  after: number | null;
  detail: string;
}

const key = (r: { unitId: string; day: string; projectId: string }) => `${r.unitId}|${r.day}|${r.projectId}`;

function distinctAcked(file: string): number {
  const ids = new Set<string>();
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const r = JSON.parse(line) as { unitId: string; ts: string };
    ids.add(`${r.unitId}@${r.ts}`);
  }
  return ids.size;
}

describe('billed hours hold to the truth through every meter fault', () => {
  let dir: string;
  let pl: Pipeline;

  beforeAll(async () => {
    dir = tempDir('ironledger-billing-');
    pl = await startPipeline({ dir, units: 12, seed: 5 });
  });
  afterAll(async () => {
    await pl?.stop();
    if (dir) removeDir(dir);
  });

  it('never bills a new meter’s starting value, and shows it as unverified', async () => {
    const sim = await pl.runSim([
      '--days',
      '2',
      '--start',
      '2026-11-02',
      '--interval',
      '5m',
      '--as-fast-as-possible',
      '--faults',
      SIM_FAULT_KINDS.join(','),
      '--reset-units',
      '0.5',
      '--truth',
      pl.paths.truth,
      '--acked',
      pl.paths.acked,
    ]);
    expect(sim.code, sim.stderr).toBe(0);
    await pl.waitForDrain(distinctAcked(pl.paths.acked));
    expect((await pl.cli(['consolidate'])).code).toBe(0);
    const usage = JSON.parse((await pl.cli(['usage', '--json'])).stdout) as {
      rows: Row[];
      anomalies: Anomaly[];
    };
    const truth = JSON.parse(fs.readFileSync(pl.paths.truth, 'utf8')) as {
      usage: Row[];
      meterResets: Array<{ unitId: string; before: number; after: number }>;
      faults: Array<{ kind: string }>;
    };
    expect(truth.meterResets.length).toBeGreaterThanOrEqual(3);
    // Every fault the simulator has happened in this run,
    // and machines moved between projects within a day.
    expect([...new Set(truth.faults.map((f) => f.kind))].sort()).toEqual([...SIM_FAULT_KINDS].sort());
    const projectsPerUnitDay = new Map<string, Set<string>>();
    for (const t of truth.usage)
      projectsPerUnitDay.set(
        `${t.unitId}|${t.day}`,
        (projectsPerUnitDay.get(`${t.unitId}|${t.day}`) ?? new Set()).add(t.projectId),
      );
    expect([...projectsPerUnitDay.values()].some((p) => p.size > 1)).toBe(true);
    // At least one reset restarted from a non-zero value: the case that was billed before.
    expect(truth.meterResets.some((r) => r.after > 0.01)).toBe(true);

    const expected = new Map(truth.usage.map((t) => [key(t), t]));
    const actual = new Map(usage.rows.map((r) => [key(r), r]));
    const off: string[] = [];
    for (const k of new Set([...expected.keys(), ...actual.keys()])) {
      const t = expected.get(k);
      const a = actual.get(k);
      const dE = Math.abs((a?.engineHours ?? 0) - (t?.engineHours ?? 0));
      const dI = Math.abs((a?.idleHours ?? 0) - (t?.idleHours ?? 0));
      if (dE > 0.01 || dI > 0.01)
        off.push(
          `${k}: billed ${a?.engineHours ?? 0} h (idle ${a?.idleHours ?? 0}), truth ${t?.engineHours ?? 0} h (idle ${t?.idleHours ?? 0})`,
        );
    }
    expect(off).toEqual([]);

    // Every reset is carried on the allocation of the reading that showed the new meter: its
    // starting value as unverified hours (not billed), or, when no running engine could have
    // made it in the elapsed time, flagged as such; no allocation bills unverified hours.
    const listed = JSON.parse((await pl.cli(['allocations', 'list', '--json'])).stdout) as {
      allocations: Array<{
        key: string;
        unitId: string;
        status: string;
        evidence: {
          anomalies: Anomaly[];
          billing?: { unverifiedHours: number; unverifiedBilledHours: number };
        };
      }>;
    };
    const live = listed.allocations.filter((a) => a.status !== 'superseded');

    // What is billed: the allocations (normal + adjustments) per unit-day-project, to the truth.
    const billed = new Map<string, number>();
    for (const a of live as unknown as Array<Row & { status: string }>)
      billed.set(key(a), (billed.get(key(a)) ?? 0) + a.engineHours);
    const billedOff: string[] = [];
    for (const k of new Set([...expected.keys(), ...billed.keys()])) {
      const b = billed.get(k) ?? 0;
      const t = expected.get(k)?.engineHours ?? 0;
      if (Math.abs(b - t) > 0.01) billedOff.push(`${k}: allocations bill ${b} h, truth ${t} h`);
    }
    expect(billedOff).toEqual([]);
    expect(billed.size).toBeGreaterThan(10);
    for (const r of truth.meterResets.filter((x) => x.after > 0)) {
      const a = live.find(
        (x) =>
          x.unitId === r.unitId &&
          x.evidence.anomalies.some(
            (an) => an.kind === 'meter_reset' && an.after === r.after && an.detail.startsWith('engineHours'),
          ),
      );
      expect(a, `allocation carrying the reset of ${r.unitId}`).toBeDefined();
      const an = a!.evidence.anomalies.find((x) => x.kind === 'meter_reset' && x.after === r.after)!;
      if (an.detail.includes('unverified'))
        expect(a!.evidence.billing!.unverifiedHours).toBeGreaterThanOrEqual(r.after - 1e-9);
      else expect(an.detail).toContain('exceeds');
    }
    expect(live.every((a) => (a.evidence.billing?.unverifiedBilledHours ?? 0) === 0)).toBe(true);

    // Every reset is shown, with the new meter's starting value as unverified hours.
    const shown = usage.anomalies.filter(
      (a) => a.kind === 'meter_reset' && a.detail.startsWith('engineHours'),
    );
    for (const r of truth.meterResets) {
      const a = shown.find((x) => x.unitId === r.unitId && x.after === r.after);
      expect(a, `reset of ${r.unitId}`).toBeDefined();
      expect(a?.detail).toContain(`${r.after} unverified`);
    }
  });
});
