/**
 * Billing a reset's unverified hours in one step (README "Billing rules"): the approver's
 * decision, audited, is a compare-and-set at the allocation's version the approver saw, and
 * leaves the allocation priced with the hours, without waiting for a consolidation run.
 */
import { EvidenceResponseSchema } from '@ironledger/contracts';
import { removeDir } from '@ironledger/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { batch, startTestCloud, type TestCloud, TOKENS } from '../../testing/harness.js';

const DAY = '2026-11-03'; // London on GMT
const KEY = `IL-EXC-1-P-LDN-${DAY.replaceAll('-', '')}-1`;

let t: TestCloud;
beforeEach(async () => {
  t = await startTestCloud();
  // 0.9 h proven on the old meter; the ECU is swapped before 10:00 and the new meter starts at
  // 0.3 h (unverified); 1.7 h proven on the new one.
  const at = (hhmm: string) => `${DAY}T${hhmm}:00.000Z`;
  const b = batch([
    ['EXC-1', at('08:00'), 1000, 100],
    ['EXC-1', at('09:00'), 1000.9, 100.1],
    ['EXC-1', at('10:00'), 0.3, 0.03],
    ['EXC-1', at('11:00'), 1.2, 0.13],
    ['EXC-1', at('12:00'), 2, 0.2],
  ]);
  expect((await t.postBatch(b)).status).toBe(200);
  expect((await t.api('POST', '/v1/consolidate', {}, TOKENS.approver)).status).toBe(200);
});
afterEach(async () => {
  await t.stop();
  removeDir(t.dir);
});

async function evidence() {
  const r = await t.api('GET', `/v1/evidence/${KEY}`, undefined, TOKENS.viewer);
  expect(r.status, JSON.stringify(r.json)).toBe(200);
  return EvidenceResponseSchema.parse(r.json);
}
const bill = (expectedHours: number, expectedVersion?: number) =>
  t.api(
    'POST',
    `/v1/evidence/${KEY}/bill-unverified`,
    { expectedHours, expectedVersion, reason: 'workshop log WO-118' },
    TOKENS.approver,
  );
const decisions = async () =>
  (await t.api('GET', '/v1/audit?action=allocation.bill_unverified', undefined, TOKENS.admin)).json
    .entries as unknown[];

describe('bill-unverified', () => {
  it('prices the hours in the same step, even while another replica holds the unit’s consolidation', async () => {
    const before = await evidence();
    expect(before.billing?.unverifiedHours).toBeCloseTo(0.3, 9);
    expect(before.status).toBe('pending');
    // Another replica has claimed the unit's consolidation (and may hold it for its lease).
    const now = Date.now();
    await t.cloud.store.markDirty('EXC-1', Date.parse(`${DAY}T00:00:00Z`), new Date(now).toISOString());
    const claimed = await t.cloud.store.claimDirtyUnit({ owner: 'replica-b', nowMs: now, leaseMs: 600_000 });
    expect(claimed?.unitId).toBe('EXC-1');

    const r = await bill(0.3, before.version);
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    // 0.3 h more working time at 100.00 EUR an hour: 30.00 more, in the answer and in the store.
    expect(r.json.allocation).toMatchObject({
      key: KEY,
      status: 'pending',
      amountMinor: before.amountMinor + 3000,
      version: before.version + 1,
    });
    const after = await evidence();
    expect(after.amountMinor).toBe(before.amountMinor + 3000);
    expect(after.billing?.unverifiedBilledHours).toBeCloseTo(0.3, 9);
    expect(after.billing?.lines.find((l) => l.status === 'working')?.note).toMatch(
      /0\.3 h unverified, billed by alex/,
    );
    expect(after.unverifiedDecision).toMatchObject({ by: 'alex', reason: 'workshop log WO-118' });
    expect(await decisions()).toEqual([
      expect.objectContaining({ actor: 'alex', target: `EXC-1|P-LDN|${DAY}` }),
    ]);

    // Consolidation, once it runs, prices the same: nothing changes.
    await t.cloud.store.releaseDirtyUnit('EXC-1', 'replica-b');
    expect((await t.api('POST', '/v1/consolidate', {}, TOKENS.approver)).status).toBe(200);
    const later = await evidence();
    expect({ amount: later.amountMinor, version: later.version }).toEqual({
      amount: after.amountMinor,
      version: after.version,
    });
  });

  it('refuses a decision made on an older version, and records nothing', async () => {
    const before = await evidence();
    const r = await bill(0.3, before.version - 1 || before.version + 1);
    expect(r.status).toBe(409);
    expect(r.json.detail).toMatch(/changed since you looked/);
    expect(await decisions()).toEqual([]);
    expect((await evidence()).amountMinor).toBe(before.amountMinor);
  });

  it('puts an approved allocation back to pending with the new amount, audited', async () => {
    const before = await evidence();
    const approve = await t.api('POST', '/v1/allocations/approve', { ids: [before.id] }, TOKENS.approver);
    expect(approve.status, JSON.stringify(approve.json)).toBe(200);
    const approved = await evidence();
    expect(approved.status).toBe('approved');
    expect(await t.cloud.store.dirtyUnits()).toEqual([]);
    const r = await bill(0.3, approved.version);
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    expect(r.json.allocation).toMatchObject({
      status: 'pending',
      approvedBy: null,
      amountMinor: before.amountMinor + 3000,
    });
    // The unit is left dirty, so a run that loaded the decisions before this one reprices it.
    expect((await t.cloud.store.dirtyUnits()).map((d) => d.unitId)).toEqual(['EXC-1']);
    const reopen = (await t.api('GET', '/v1/audit?action=allocation.reopen', undefined, TOKENS.admin)).json
      .entries;
    expect(reopen).toEqual([expect.objectContaining({ actor: 'alex', target: KEY })]);
  });
});
