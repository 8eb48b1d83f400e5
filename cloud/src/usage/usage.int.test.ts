import {
  AllocationsResponseSchema,
  AuditResponseSchema,
  DecisionResponseSchema,
  PostResponseSchema,
  ReportResponseSchema,
  StatusResponseSchema,
  UsageResponseSchema,
} from '@ironledger/contracts';
import { type OdooDouble, startOdooDouble } from '@ironledger/testkit';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { CloudConfigInput } from '../config.js';
import { batch, startTestCloud, type TestCloud, TOKENS } from '../testing/harness.js';

const clouds: TestCloud[] = [];
const doubles: OdooDouble[] = [];
/** A test cloud; `odoo`: posting goes to an Odoo double (a dry run never marks anything posted). */
async function cloud(opts: { odoo?: boolean } = {}): Promise<TestCloud> {
  let posting: Partial<CloudConfigInput> = {};
  if (opts.odoo) {
    const o = await startOdooDouble();
    doubles.push(o);
    o.world.create('project.project', { name: 'London' });
    posting = { posting: { odoo: { url: o.url, db: o.db, login: o.login, apiKey: o.apiKey } } };
  }
  const t = await startTestCloud({ config: posting });
  clouds.push(t);
  return t;
}
afterEach(async () => {
  await Promise.all(clouds.splice(0).map((c) => c.stop()));
  await Promise.all(doubles.splice(0).map((o) => o.stop()));
});

type R = [string, string, number, number?];
/** A day and a half of readings every 30 min for two units, crossing a local midnight. */
function series(): R[] {
  const out: R[] = [];
  const start = Date.parse('2026-06-01T06:00:00Z');
  for (let i = 0; i < 72; i++) {
    const ts = new Date(start + i * 30 * 60_000).toISOString();
    out.push(['EXC-1', ts, 1000 + i * 0.4, 200 + i * 0.1]);
    out.push(['EXC-2', ts, 50 + i * 0.5, 10 + i * 0.2]);
  }
  return out;
}

async function usageOf(t: TestCloud) {
  await t.api('POST', '/v1/consolidate', {}, TOKENS.approver);
  return UsageResponseSchema.parse((await t.api('GET', '/v1/usage', undefined, TOKENS.viewer)).json);
}

describe('usage over HTTP', () => {
  it('shuffled arrival order, in many batches and with duplicates, gives the same usage as sorted', async () => {
    const rs = series();
    const sorted = await cloud();
    await sorted.postBatch(batch(rs));
    const expected = await usageOf(sorted);
    expect(expected.rows.map((r) => r.day)).toContain('2026-06-02');

    const shuffled = fc.sample(fc.shuffledSubarray(rs, { minLength: rs.length, maxLength: rs.length }), {
      seed: 42,
      numRuns: 1,
    })[0]!;
    const other = await cloud();
    for (let i = 0; i < shuffled.length; i += 17) {
      await other.postBatch(batch(shuffled.slice(i, i + 17)));
      if (i % 34 === 0) await other.api('POST', '/v1/consolidate', {}, TOKENS.approver); // consolidate mid-stream
    }
    await other.postBatch(batch(shuffled.slice(0, 40), { gatewayId: 'gw2' }), { token: TOKENS.gw2 }); // duplicates
    expect(await usageOf(other)).toEqual(expected);
  });

  it('a meter reset yields a flagged anomaly and conserved hours', async () => {
    const t = await cloud();
    await t.postBatch(
      batch([
        ['EXC-1', '2026-06-01T08:00:00Z', 5000],
        ['EXC-1', '2026-06-01T10:00:00Z', 5002],
        ['EXC-1', '2026-06-01T11:00:00Z', 0.5],
        ['EXC-1', '2026-06-01T12:00:00Z', 1.5],
      ]),
    );
    const u = await usageOf(t);
    expect(u.rows[0]!.engineHours).toBeCloseTo(2 + 1, 9); // the new meter's 0.5 h are unverified
    expect(u.rows[0]!.anomalies).toBe(1);
    expect(u.anomalies).toEqual([
      expect.objectContaining({ kind: 'meter_reset', before: 5002, after: 0.5, unitId: 'EXC-1' }),
    ]);
  });

  it('splits a DST day correctly (Europe/London, 29 March 2026 has 23 h)', async () => {
    const t = await cloud();
    await t.postBatch(
      batch([
        ['EXC-1', '2026-03-28T23:00:00Z', 0], // 23:00 GMT on the 28th
        ['EXC-1', '2026-03-30T00:00:00Z', 25], // 01:00 BST on the 30th: 25 h of running
      ]),
    );
    const u = await usageOf(t);
    const by = Object.fromEntries(u.rows.map((r) => [r.day, r.engineHours]));
    expect(by['2026-03-28']).toBeCloseTo(1, 9);
    expect(by['2026-03-29']).toBeCloseTo(23, 9);
    expect(by['2026-03-30']).toBeCloseTo(1, 9);
  });

  it('a re-run with no new data changes nothing', async () => {
    const t = await cloud();
    await t.postBatch(batch(series()));
    await usageOf(t);
    const audit = (await t.api('GET', '/v1/audit')).json.entries.length;
    const again = (await t.api('POST', '/v1/consolidate', { all: true }, TOKENS.approver)).json;
    expect(again).toMatchObject({ rowsWritten: 0, allocationsCreated: 0, adjustmentsCreated: 0 });
    expect((await t.api('GET', '/v1/audit')).json.entries.length).toBe(audit);
  });
});

describe('allocation lifecycle over HTTP', () => {
  const allocations = async (t: TestCloud, q = '') =>
    AllocationsResponseSchema.parse(
      (await t.api('GET', `/v1/allocations${q}`, undefined, TOKENS.viewer)).json,
    ).allocations;

  it('pending → recomputed; approved → back to pending (audited); posted → adjustment; locks refuse', async () => {
    const t = await cloud({ odoo: true });
    await t.postBatch(
      batch([
        ['EXC-1', '2026-06-01T08:00:00Z', 100, 10],
        ['EXC-1', '2026-06-01T10:00:00Z', 102, 10.5],
      ]),
    );
    await usageOf(t);
    let [a] = await allocations(t);
    expect(a).toMatchObject({
      status: 'pending',
      engineHours: 2,
      idleHours: 0.5,
      workingHours: 1.5,
      currency: 'EUR',
      amountMinor: 16_000,
    });
    expect(a!.key).toBe('IL-EXC-1-P-LDN-20260601-1');

    // Late reading into a pending day: recomputed in place.
    await t.postBatch(batch([['EXC-1', '2026-06-01T11:00:00Z', 103, 10.5]]));
    await usageOf(t);
    [a] = await allocations(t);
    expect(a).toMatchObject({ status: 'pending', engineHours: 3, amountMinor: 26_000 });

    // Viewer cannot approve; approver can; approving twice is harmless.
    expect((await t.api('POST', '/v1/allocations/approve', { ids: [a!.id] }, TOKENS.viewer)).status).toBe(
      403,
    );
    const d1 = DecisionResponseSchema.parse(
      (await t.api('POST', '/v1/allocations/approve', { ids: [a!.id, '999'] }, TOKENS.approver)).json,
    );
    expect(d1).toEqual({ changed: [a!.id], unchanged: [], refused: [], notFound: ['999'] });
    const d2 = DecisionResponseSchema.parse(
      (await t.api('POST', '/v1/allocations/approve', { ids: [a!.id] }, TOKENS.approver)).json,
    );
    expect(d2.unchanged).toEqual([a!.id]);

    // Late data after approval: back to pending, audited.
    await t.postBatch(batch([['EXC-1', '2026-06-01T12:00:00Z', 104, 10.5]]));
    await usageOf(t);
    [a] = await allocations(t);
    expect(a).toMatchObject({ status: 'pending', engineHours: 4, approvedBy: null });
    const audit = AuditResponseSchema.parse((await t.api('GET', '/v1/audit?action=allocation.reopen')).json);
    expect(audit.entries).toHaveLength(1);

    // Period lock refuses approval; unlock; approve; post (to the Odoo double).
    expect((await t.api('POST', '/v1/periods/2026-06/lock', undefined, TOKENS.approver)).status).toBe(403);
    expect((await t.api('POST', '/v1/periods/2026-06/lock')).json).toMatchObject({
      locked: true,
      changed: true,
    });
    const refused = DecisionResponseSchema.parse(
      (await t.api('POST', '/v1/allocations/approve', { all: true }, TOKENS.approver)).json,
    );
    expect(refused.refused).toEqual([{ id: a!.id, reason: 'period 2026-06 is locked' }]);
    await t.api('POST', '/v1/periods/2026-06/unlock');
    await t.api('POST', '/v1/allocations/approve', { all: true }, TOKENS.approver);
    await t.api('POST', '/v1/periods/2026-06/lock');
    const lockedPost = PostResponseSchema.parse((await t.api('POST', '/v1/post', {}, TOKENS.approver)).json);
    expect(lockedPost.held).toEqual([{ id: a!.id, reason: 'period 2026-06 is locked' }]);
    await t.api('POST', '/v1/periods/2026-06/unlock');
    const posted = PostResponseSchema.parse((await t.api('POST', '/v1/post', {}, TOKENS.approver)).json);
    expect(posted).toMatchObject({ mode: 'odoo', considered: 1 });
    expect(posted.posted.map((p) => p.key)).toEqual([a!.key]);
    [a] = await allocations(t);
    expect(a!.status).toBe('posted');

    // Late data after posting: the posted allocation is untouched; an adjustment appears.
    await t.postBatch(batch([['EXC-1', '2026-06-01T13:00:00Z', 105, 11]]));
    const c = (await t.api('POST', '/v1/consolidate', {}, TOKENS.approver)).json;
    expect(c.adjustmentsCreated).toBe(1);
    const all = await allocations(t);
    expect(all).toHaveLength(2);
    expect(all[0]).toMatchObject({ status: 'posted', engineHours: 4, amountMinor: a!.amountMinor });
    expect(all[1]).toMatchObject({
      kind: 'adjustment',
      adjusts: a!.id,
      status: 'pending',
      key: 'IL-EXC-1-P-LDN-20260601-2',
      engineHours: 1,
      idleHours: 0.5,
      amountMinor: 6_000,
    });
    // Rejection needs a reason and is audited; the report parses.
    expect(
      (await t.api('POST', '/v1/allocations/reject', { ids: [all[1]!.id], reason: ' ' }, TOKENS.approver))
        .status,
    ).toBe(400);
    const rej = DecisionResponseSchema.parse(
      (
        await t.api(
          'POST',
          '/v1/allocations/reject',
          { ids: [all[1]!.id], reason: 'meter fault' },
          TOKENS.approver,
        )
      ).json,
    );
    expect(rej.changed).toEqual([all[1]!.id]);
    // A re-run does not resurrect a rejected, unchanged adjustment.
    expect(
      (await t.api('POST', '/v1/consolidate', { all: true }, TOKENS.approver)).json.adjustmentsCreated,
    ).toBe(0);
    const report = ReportResponseSchema.parse(
      (await t.api('GET', '/v1/report?period=2026-06', undefined, TOKENS.viewer)).json,
    );
    expect(report.costByProject).toEqual([
      {
        projectId: 'P-LDN',
        currency: 'EUR',
        pendingMinor: 0,
        approvedMinor: 0,
        postedMinor: 36_000,
        totalMinor: 36_000,
      },
    ]);
    const status = StatusResponseSchema.parse(
      (await t.api('GET', '/v1/status', undefined, TOKENS.viewer)).json,
    );
    expect(status.pipeline.allocations).toMatchObject({ posted: 1, rejected: 1 });
  });

  it('a rejection stands until an approver reopens it with a reason (audited); then it can be approved', async () => {
    const t = await cloud();
    await t.postBatch(
      batch([
        ['EXC-1', '2026-06-01T08:00:00Z', 100, 10],
        ['EXC-1', '2026-06-01T10:00:00Z', 102, 10.5],
      ]),
    );
    await usageOf(t);
    const [a] = await allocations(t);
    const decide = async (route: string, body: unknown, token: string = TOKENS.approver) =>
      t.api('POST', `/v1/allocations/${route}`, body, token);
    expect((await decide('reject', { ids: [a!.id], reason: 'wrong site' })).status).toBe(200);
    const refused = DecisionResponseSchema.parse((await decide('approve', { ids: [a!.id] })).json);
    expect(refused.refused).toEqual([{ id: a!.id, reason: 'rejected: wrong site' }]);

    expect((await decide('reopen', { ids: [a!.id], reason: '' })).status).toBe(400);
    expect((await decide('reopen', { ids: [a!.id], reason: 'site confirmed' }, TOKENS.viewer)).status).toBe(
      403,
    );
    const reopened = DecisionResponseSchema.parse(
      (await decide('reopen', { ids: [a!.id, '999'], reason: 'site confirmed by the foreman' })).json,
    );
    expect(reopened).toEqual({ changed: [a!.id], unchanged: [], refused: [], notFound: ['999'] });
    expect((await allocations(t))[0]).toMatchObject({
      status: 'pending',
      rejectedBy: null,
      rejectReason: null,
    });
    // Reopening again changes nothing; only a rejection can be reopened.
    expect(
      DecisionResponseSchema.parse((await decide('reopen', { ids: [a!.id], reason: 'x' })).json).unchanged,
    ).toEqual([a!.id]);
    const audit = AuditResponseSchema.parse((await t.api('GET', '/v1/audit?action=allocation.reopen')).json);
    expect(audit.entries).toHaveLength(1);
    expect(audit.entries[0]!.detail).toContain('site confirmed by the foreman');
    expect(audit.entries[0]!.detail).toContain('wrong site');

    expect(DecisionResponseSchema.parse((await decide('approve', { ids: [a!.id] })).json).changed).toEqual([
      a!.id,
    ]);
    const notRejected = DecisionResponseSchema.parse(
      (await decide('reopen', { ids: [a!.id], reason: 'x' })).json,
    );
    expect(notRejected.refused).toEqual([
      { id: a!.id, reason: 'only a rejected allocation can be reopened (approved)' },
    ]);
  });

  it('holds an allocation with no rate and refuses to approve it', async () => {
    const t = await cloud();
    await t.api('POST', '/v1/units', { unitId: 'GEN-1', equipmentClass: 'generator' });
    await t.postBatch(
      batch([
        ['GEN-1', '2026-06-01T08:00:00Z', 1],
        ['GEN-1', '2026-06-01T09:00:00Z', 2],
      ]),
    );
    await usageOf(t);
    const [a] = await allocations(t);
    expect(a).toMatchObject({ status: 'pending', amountMinor: 0 });
    expect(a!.holdReason).toMatch(/no rate/);
    const d = DecisionResponseSchema.parse(
      (await t.api('POST', '/v1/allocations/approve', { ids: [a!.id] }, TOKENS.approver)).json,
    );
    expect(d.refused[0]!.reason).toMatch(/held: no rate/);
    // A rate added later prices it.
    expect(
      (
        await t.api('POST', '/v1/rates', {
          rateId: 'R-GEN',
          equipmentClass: 'generator',
          workingRateMinor: 500,
          idleRateMinor: 100,
          currency: 'EUR',
          effectiveFrom: '2026-01-01',
        })
      ).status,
    ).toBe(201);
    await usageOf(t);
    const [priced] = await allocations(t);
    expect(priced).toMatchObject({ holdReason: null, amountMinor: 500 });
  });
});
