/**
 * Letting held readings and conflicts into usage with the real `ironledger` binary against a
 * real cloud fed with gzip batches: a 1970-stamped reading released at a rebased ts adds its
 * meter delta to usage; a conflict resolved by keeping the second version changes usage by the
 * difference between the versions; refusals are exit 1 with the server's reason; every
 * decision is in the audit trail. Also `allocations reopen`.
 */
import {
  AllocationsResponseSchema,
  AuditResponseSchema,
  ConflictSchema,
  ConflictsResponseSchema,
  HeldReadingsResponseSchema,
  HeldReleaseResponseSchema,
  UsageResponseSchema,
} from '@ironledger/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CloudHarness,
  lastMonth,
  startCloud,
  workingDay,
  YARD,
} from '../packages/cli/test-support/cloud-harness.js';

let cloud: CloudHarness;
const DAY = lastMonth().days[2]!;
const json = (s: string) => JSON.parse(s) as unknown;

/** Consolidates, then the unit's engine hours on DAY as `ironledger usage --json` reports them. */
async function usageOf(unitId: string): Promise<number> {
  const c = await cloud.cli(['consolidate'], { as: 'approver' });
  expect(c.code, c.stderr).toBe(0);
  const r = await cloud.cli(['usage', '--unit', unitId, '--from', DAY, '--to', DAY, '--json'], {
    as: 'viewer',
  });
  expect(r.code, r.stderr).toBe(0);
  return UsageResponseSchema.parse(json(r.stdout)).rows.reduce((t, x) => t + x.engineHours, 0);
}

beforeAll(async () => {
  cloud = await startCloud();
});
afterAll(async () => {
  await cloud?.stop();
});

describe('held release', () => {
  it('a 1970 reading released at a rebased ts adds its meter delta to usage', async () => {
    const day = workingDay('EXC-0042', DAY, { engineHours: 1000, idleHours: 200 }, YARD);
    // 07:00 → 16:00: 9 h. Then, after a power cycle and before a GPS fix, the unit stamps 1970.
    await cloud.postBatch('b-exc', day.readings);
    await cloud.postBatch('b-exc-1970', [
      {
        v: 1,
        unitId: 'EXC-0042',
        ts: '1970-01-01T00:00:05.000Z',
        engineHours: day.end.engineHours + 0.75,
        position: YARD,
      },
    ]);
    expect(await usageOf('EXC-0042')).toBeCloseTo(9, 6);

    const table = await cloud.cli(['held', '--unit', 'EXC-0042'], { as: 'viewer' });
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/ID\s+UNIT\s+TS\s+STATUS/);
    const list = await cloud.cli(['held', '--unit', 'EXC-0042', '--json'], { as: 'viewer' });
    const [h] = HeldReadingsResponseSchema.parse(json(list.stdout)).readings;
    expect(h).toMatchObject({ status: 'held', ts: '1970-01-01T00:00:05.000Z' });
    expect(table.stdout).toMatch(new RegExp(`${h!.id}\\s+EXC-0042\\s+1970-01-01 00:00:05Z\\s+held`));

    // Refusals: a viewer (403), a ts that already has a reading (409), a 1970 ts as-is (422).
    const viewer = await cloud.cli(['held', 'release', h!.id, '--as-is', '--reason', 'x'], { as: 'viewer' });
    expect(viewer.code).toBe(1);
    expect(viewer.stderr).toContain('forbidden (403): this needs a token with the approver role');
    const taken = await cloud.cli(
      ['held', 'release', h!.id, '--rebase-ts', `${DAY}T16:00:00Z`, '--reason', 'wrong slot'],
      { as: 'approver' },
    );
    expect(taken.code).toBe(1);
    expect(taken.stderr).toMatch(/409 READING_IDENTITY_TAKEN.*EXC-0042 already has reading/);
    const asIs = await cloud.cli(['held', 'release', h!.id, '--as-is', '--reason', 'x'], { as: 'approver' });
    expect(asIs.code).toBe(1);
    expect(asIs.stderr).toContain('READING_TS_INVALID');

    const r = await cloud.cli(
      [
        'held',
        'release',
        h!.id,
        '--rebase-ts',
        `${DAY}T16:45:00Z`,
        '--reason',
        'no GPS fix yet; gateway receive time',
        '--json',
      ],
      { as: 'approver' },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(HeldReleaseResponseSchema.parse(json(r.stdout))).toMatchObject({
      ts: `${DAY}T16:45:00.000Z`,
      reportedTs: '1970-01-01T00:00:05.000Z',
      rebased: true,
      releasedBy: 'finance-approver',
    });
    expect(await usageOf('EXC-0042')).toBeCloseTo(9.75, 6);
    expect((await cloud.cli(['held', '--unit', 'EXC-0042'], { as: 'viewer' })).stdout).toBe(
      'no held readings\n',
    );
    // Released once: again is refused, and the figure stays.
    const again = await cloud.cli(
      ['held', 'release', h!.id, '--rebase-ts', `${DAY}T16:50:00Z`, '--reason', 'x'],
      { as: 'approver' },
    );
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('READING_NOT_HELD');

    const audit = await cloud.cli(['audit', '--action', 'reading.release', '--json'], { as: 'viewer' });
    const entries = AuditResponseSchema.parse(json(audit.stdout)).entries;
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      actor: 'finance-approver',
      target: 'EXC-0042@1970-01-01T00:00:05.000Z',
    });
    expect(entries[0]!.detail).toContain('no GPS fix yet; gateway receive time');
  });
});

describe('conflicts', () => {
  it('keeping the second version changes usage by the difference between the versions', async () => {
    const day = workingDay('LDR-0007', DAY, { engineHours: 500, idleHours: 50 }, YARD);
    await cloud.postBatch('b-ldr', day.readings);
    expect(await usageOf('LDR-0007')).toBeCloseTo(9, 6);
    // The unit resends its 16:00 reading with the meter a quarter hour lower.
    const last = day.readings.at(-1)!;
    await cloud.postBatch('b-ldr-resend', [{ ...last, engineHours: last.engineHours - 0.25 }]);
    // Neither version counts while the conflict is open.
    expect(await usageOf('LDR-0007')).toBeCloseTo(8.5, 6);

    const table = await cloud.cli(['conflicts', 'list'], { as: 'viewer' });
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/ID\s+UNIT\s+TS\s+VERSION\s+ENGINE H/);
    expect(table.stdout).toMatch(/LDR-0007\s+\S+ 16:00:00Z\s+first\s+509\s/);
    expect(table.stdout).toMatch(/second\s+508\.75\s/);
    const listed = await cloud.cli(['conflicts', 'list', '--unit', 'LDR-0007', '--json'], { as: 'viewer' });
    const [c] = ConflictsResponseSchema.parse(json(listed.stdout)).conflicts;
    expect(c!.versions.map((v) => v.engineHours)).toEqual([509, 508.75]);
    const held = await cloud.cli(['held', '--unit', 'LDR-0007'], { as: 'viewer' });
    expect(held.stdout).toMatch(new RegExp(`conflict ${c!.id}`));

    const noKeep = await cloud.cli(['conflicts', 'resolve', c!.id, '--reason', 'x'], { as: 'approver' });
    expect(noKeep.code).toBe(2);
    expect(noKeep.stderr).toContain('--keep is required');
    const r = await cloud.cli(
      ['conflicts', 'resolve', c!.id, '--keep', 'second', '--reason', 'resent after meter calibration'],
      { as: 'approver' },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`resolved conflict ${c!.id}`);
    expect(r.stdout).toContain('kept the second version (508.75 h)');
    // 9 h had the first version counted; keeping the second counts 0.25 h less.
    expect(await usageOf('LDR-0007')).toBeCloseTo(9 - 0.25, 6);

    expect((await cloud.cli(['conflicts', 'list'], { as: 'viewer' })).stdout).toBe('no open conflicts\n');
    const resolved = await cloud.cli(['conflicts', 'list', '--status', 'resolved', '--json'], {
      as: 'viewer',
    });
    const [done] = ConflictsResponseSchema.parse(json(resolved.stdout)).conflicts;
    expect(ConflictSchema.parse(done)).toMatchObject({
      id: c!.id,
      resolution: { keep: 'second', by: 'finance-approver', reason: 'resent after meter calibration' },
    });
    expect(done!.versions.map((v) => v.status)).toEqual(['superseded', 'ok']);
    const twice = await cloud.cli(
      ['conflicts', 'resolve', c!.id, '--keep', 'first', '--reason', 'changed my mind'],
      { as: 'approver' },
    );
    expect(twice.code).toBe(1);
    expect(twice.stderr).toContain('CONFLICT_RESOLVED');
  });
});

describe('allocations reopen', () => {
  it('reopens a rejection with a reason; unknown ids make it partial (3) or a failure (1)', async () => {
    const all = await cloud.cli(['allocations', 'list', '--unit', 'EXC-0042', '--json'], { as: 'viewer' });
    const [a] = AllocationsResponseSchema.parse(json(all.stdout)).allocations;
    expect(a).toBeDefined();
    const rej = await cloud.cli(['allocations', 'reject', a!.id, '--reason', 'on a trailer'], {
      as: 'approver',
    });
    expect(rej.code, rej.stderr).toBe(0);
    const r = await cloud.cli(
      ['allocations', 'reopen', a!.id, '--reason', 'trailer log was for another unit'],
      {
        as: 'approver',
      },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('reopened 1 allocation');
    const partial = await cloud.cli(['allocations', 'reopen', a!.id, 'al_nope', '--reason', 'again'], {
      as: 'approver',
    });
    expect(partial.code).toBe(3);
    expect(partial.stdout).toContain('not found: al_nope');
    const none = await cloud.cli(['allocations', 'reopen', 'al_nope', '--reason', 'x', '--json'], {
      as: 'approver',
    });
    expect(none.code).toBe(1);
    expect(json(none.stdout)).toMatchObject({ notFound: ['al_nope'] });
    const after = await cloud.cli(['allocations', 'show', a!.id, '--json'], { as: 'viewer' });
    expect(json(after.stdout)).toMatchObject({ status: 'pending', rejectReason: null });
  });
});
