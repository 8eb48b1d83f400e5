/**
 * The walking skeleton, end to end on real processes: a simulated fleet publishes a day of
 * readings over MQTT to the edge (embedded broker, SQLite outbox), which forwards batches
 * over HTTP to the cloud (SQLite); the fleet manager consolidates, approves and posts with
 * the `ironledger` CLI (dry run: a journal of the exact Odoo calls).
 *
 * Asserts what the business needs: usage equals the hours the simulator says the fleet ran
 * (0.01 h per unit-day), one journal call per approved allocation, and replaying the whole
 * day (every reading again) or posting again adds nothing.
 */
import fs from 'node:fs';
import { type Pipeline, removeDir, startPipeline, tempDir } from '@ironledger/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

interface TruthUsage {
  unitId: string;
  day: string;
  projectId: string;
  engineHours: number;
  idleHours: number;
  workingHours: number;
}
interface UsageRow extends TruthUsage {}
interface Allocation {
  id: string;
  key: string;
  status: string;
  amountMinor: number;
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

function journalKeys(file: string): string[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => (JSON.parse(l) as { allocationKey: string }).allocationKey);
}

describe('walking skeleton: unit → edge → cloud → CLI → dry-run posting', () => {
  let dir: string;
  let pl: Pipeline;
  const simArgs = ['--days', '1', '--start', '2026-11-02', '--interval', '5m', '--as-fast-as-possible'];

  beforeAll(async () => {
    dir = tempDir('ironledger-e2e-');
    pl = await startPipeline({ dir, units: 8, seed: 11 }); // units 7–8 work at the second site, in another time zone
  });

  afterAll(async () => {
    await pl?.stop();
    if (dir) removeDir(dir);
  });

  it('carries a simulated day into usage that matches the ground truth', async () => {
    const sim = await pl.runSim([...simArgs, '--truth', pl.paths.truth, '--acked', pl.paths.acked]);
    expect(sim.code, sim.stderr).toBe(0);
    const acked = distinctAcked(pl.paths.acked);
    expect(acked).toBeGreaterThan(8 * 200); // 8 units × 288 five-minute readings
    await pl.waitForDrain(acked);

    const cons = await pl.cli(['consolidate']);
    expect(cons.code, cons.stderr).toBe(0);
    const usage = await pl.cli(['usage', '--json']);
    expect(usage.code, usage.stderr).toBe(0);
    const rows = (JSON.parse(usage.stdout) as { rows: UsageRow[] }).rows;

    const truth = JSON.parse(fs.readFileSync(pl.paths.truth, 'utf8')) as { usage: TruthUsage[] };
    const expected = new Map(truth.usage.map((t) => [key(t), t]));
    const actual = new Map(rows.map((r) => [key(r), r]));
    const truthHours = truth.usage.reduce((s, t) => s + t.engineHours, 0);
    expect(truthHours).toBeGreaterThan(4); // the fleet did work that day

    for (const k of new Set([...expected.keys(), ...actual.keys()])) {
      const t = expected.get(k);
      const a = actual.get(k);
      expect(
        Math.abs((a?.engineHours ?? 0) - (t?.engineHours ?? 0)),
        `engine hours ${k}`,
      ).toBeLessThanOrEqual(0.01);
      expect(Math.abs((a?.idleHours ?? 0) - (t?.idleHours ?? 0)), `idle hours ${k}`).toBeLessThanOrEqual(
        0.01,
      );
      expect(
        Math.abs((a?.workingHours ?? 0) - (t?.workingHours ?? 0)),
        `working hours ${k}`,
      ).toBeLessThanOrEqual(0.01);
    }
  });

  it('approves and journals one call per approved allocation, leaving them approved', async () => {
    const approve = await pl.cli(['allocations', 'approve', '--all', '--yes']);
    expect(approve.code, approve.stderr).toBe(0);
    const list = await pl.cli(['allocations', 'list', '--json']);
    const allocations = (JSON.parse(list.stdout) as { allocations: Allocation[] }).allocations;
    const approved = allocations.filter((a) => a.status === 'approved');
    expect(approved.length).toBeGreaterThan(0);
    expect(approved.every((a) => a.amountMinor > 0)).toBe(true);

    // A preview and the journal target (no Odoo configured) are the same dry run: the exact
    // calls go to the journal once per allocation, and nothing is consumed.
    const preview = await pl.cli(['post', '--dry-run', '--json']);
    expect(preview.code, preview.stderr).toBe(0);
    expect((JSON.parse(preview.stdout) as { posted: unknown[] }).posted).toHaveLength(approved.length);
    const keys = journalKeys(pl.paths.journal);
    expect(keys.sort()).toEqual(approved.map((a) => a.key).sort());

    const post = await pl.cli(['post']);
    expect(post.code, post.stderr + post.stdout).toBe(0);
    expect(journalKeys(pl.paths.journal).sort()).toEqual(keys);

    // The correlation from unit to Odoo record: each posted allocation names the batches its
    // readings came in, and those are batches the edge logged as sent.
    const sent = new Set(
      pl.edge
        .logs()
        .filter((l) => l.event === 'forward.batch_sent')
        .map((l) => l.batchId),
    );
    const posted = pl.cloud.logs().filter((l) => l.event === 'allocation.journalled');
    expect(posted.map((l) => l.allocationKey).sort()).toEqual(approved.map((a) => a.key).sort());
    for (const l of posted) {
      const batchIds = l.batchIds as string[];
      expect(batchIds.length, String(l.allocationKey)).toBeGreaterThan(0);
      for (const b of batchIds) expect(sent.has(b), `batch ${b} of ${String(l.allocationKey)}`).toBe(true);
    }

    const after = (
      JSON.parse((await pl.cli(['allocations', 'list', '--json'])).stdout) as { allocations: Allocation[] }
    ).allocations;
    expect(
      after
        .filter((a) => a.status === 'approved')
        .map((a) => a.id)
        .sort(),
    ).toEqual(approved.map((a) => a.id).sort());
    expect(after.filter((a) => a.status === 'posted')).toEqual([]);
  });

  it('posting again, or replaying the whole day, adds no journal entry', async () => {
    const before = journalKeys(pl.paths.journal);
    const again = await pl.cli(['post']);
    expect(again.code, again.stderr).toBe(0);
    expect(journalKeys(pl.paths.journal)).toEqual(before);

    // Every unit resends its whole day: all duplicates, so usage and allocations stay put.
    const usageBefore = (await pl.cli(['usage', '--json'])).stdout;
    const replay = await pl.runSim(simArgs);
    expect(replay.code, replay.stderr).toBe(0);
    await pl.waitForDrain(distinctAcked(pl.paths.acked));
    expect((await pl.cli(['consolidate'])).code).toBe(0);
    expect((await pl.cli(['usage', '--json'])).stdout).toBe(usageBefore);
    expect((await pl.cli(['allocations', 'approve', '--all', '--yes'])).code).toBe(0);
    expect((await pl.cli(['post'])).code).toBe(0);
    expect(journalKeys(pl.paths.journal)).toEqual(before);
  });
});
