/**
 * Releasing held readings and resolving conflicts over real HTTP against a real store: the
 * usage figure follows the decision, nothing stored is dropped, every decision is audited,
 * and what cannot be done answers problem+json.
 */
import {
  AllocationsResponseSchema,
  AuditResponseSchema,
  ConflictSchema,
  ConflictsResponseSchema,
  HeldReadingsResponseSchema,
  HeldReleaseResponseSchema,
  ProblemSchema,
  UsageResponseSchema,
} from '@ironledger/contracts';
import { startOdooDouble } from '@ironledger/testkit';
import { afterEach, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import { type Answer, batch, startTestCloud, type TestCloud, TOKENS } from '../../testing/harness.js';

let t: TestCloud;
beforeEach(async () => {
  t = await startTestCloud();
});
afterEach(async () => {
  await t.stop();
});

const held = async () => HeldReadingsResponseSchema.parse((await t.api('GET', '/v1/held')).json).readings;
const conflicts = async (q = '') =>
  ConflictsResponseSchema.parse((await t.api('GET', `/v1/conflicts${q}`, undefined, TOKENS.viewer)).json)
    .conflicts;
async function engineHours(): Promise<number> {
  await t.api('POST', '/v1/consolidate', {}, TOKENS.approver);
  const u = UsageResponseSchema.parse((await t.api('GET', '/v1/usage?unit=EXC-1')).json);
  return u.rows.reduce((s, r) => s + r.engineHours, 0);
}
function problem(r: Answer, status: number): string | undefined {
  expect(r.status).toBe(status);
  expect(String(r.headers['content-type'])).toContain('application/problem+json');
  return ProblemSchema.parse(r.json).code;
}
const release = (id: string, body: unknown, token: string = TOKENS.approver) =>
  t.api('POST', `/v1/held/${id}/release`, body, token);
const resolve = (id: string, body: unknown, token: string = TOKENS.approver) =>
  t.api('POST', `/v1/conflicts/${id}/resolve`, body, token);

describe('POST /v1/held/{id}/release', () => {
  beforeEach(async () => {
    await t.postBatch(
      batch([
        ['EXC-1', '2026-06-01T08:00:00Z', 100],
        ['EXC-1', '2026-06-01T09:00:00Z', 101],
        ['EXC-1', '2026-06-01T10:00:00Z', 102],
        // Before its GPS fix the unit stamped 1970: held, 1.5 h of meter not yet in usage.
        ['EXC-1', '1970-01-01T00:00:12Z', 103.5],
      ]),
    );
  });

  it('uses a 1970 reading at its rebased ts: usage grows by its meter delta, audited', async () => {
    expect(await engineHours()).toBeCloseTo(2, 9);
    const [h] = await held();
    expect(h).toMatchObject({ status: 'held', ts: '1970-01-01T00:00:12.000Z', conflictId: null });
    const r = await release(h!.id, { rebaseTs: '2026-06-01T11:30:00+00:00', reason: 'GPS fix came late' });
    expect(r.status).toBe(200);
    expect(HeldReleaseResponseSchema.parse(r.json)).toMatchObject({
      id: h!.id,
      ts: '2026-06-01T11:30:00.000Z',
      reportedTs: '1970-01-01T00:00:12.000Z',
      rebased: true,
      releasedBy: 'alex',
      reason: 'GPS fix came late',
    });
    expect(await held()).toEqual([]);
    expect(await engineHours()).toBeCloseTo(3.5, 9);

    const audit = AuditResponseSchema.parse((await t.api('GET', '/v1/audit?action=reading.release')).json);
    expect(audit.entries).toHaveLength(1);
    expect(audit.entries[0]).toMatchObject({ actor: 'alex', target: 'EXC-1@1970-01-01T00:00:12.000Z' });
    expect(JSON.parse(audit.entries[0]!.detail!)).toMatchObject({
      ts: '2026-06-01T11:30:00.000Z',
      rebased: true,
      reason: 'GPS fix came late',
    });

    // The gateway replaying the original is a duplicate: not held again, usage unchanged.
    const replay = await t.postBatch(batch([['EXC-1', '1970-01-01T00:00:12Z', 103.5]]));
    expect(replay.json).toMatchObject({ accepted: 0, duplicates: 1 });
    expect(await held()).toEqual([]);
    expect(await engineHours()).toBeCloseTo(3.5, 9);

    // Released once is released: a second release is refused.
    expect(problem(await release(h!.id, { asIs: true, reason: 'again' }), 409)).toBe('READING_NOT_HELD');
  });

  it('refuses a rebase onto an existing identity (409) and impossible clocks (422), changing nothing', async () => {
    const [h] = await held();
    expect(problem(await release(h!.id, { rebaseTs: '2026-06-01T09:00:00Z', reason: 'oops' }), 409)).toBe(
      'READING_IDENTITY_TAKEN',
    );
    expect(problem(await release(h!.id, { asIs: true, reason: 'looks fine' }), 422)).toBe(
      'READING_TS_INVALID',
    );
    const future = new Date(Date.now() + 60 * 60_000).toISOString();
    expect(problem(await release(h!.id, { rebaseTs: future, reason: 'x' }), 422)).toBe('READING_TS_INVALID');
    expect(await held()).toHaveLength(1);
    expect((await t.api('GET', '/v1/audit?action=reading.release')).json.entries).toEqual([]);
  });

  it('validates the request and the role', async () => {
    const [h] = await held();
    expect(problem(await release(h!.id, { rebaseTs: '2026-06-01T11:00:00Z' }), 400)).toBe('REQUEST_INVALID');
    expect(
      problem(await release(h!.id, { rebaseTs: '2026-06-01T11:00:00Z', asIs: true, reason: 'x' }), 400),
    ).toBe('REQUEST_INVALID');
    expect(problem(await release(h!.id, { reason: 'x' }), 400)).toBe('REQUEST_INVALID');
    expect(problem(await release(h!.id, { rebaseTs: 'yesterday', reason: 'x' }), 400)).toBe(
      'REQUEST_INVALID',
    );
    expect(problem(await release(h!.id, { asIs: true, reason: 'x' }, TOKENS.viewer), 403)).toBe(
      'AUTH_FORBIDDEN',
    );
    expect(problem(await release('999', { asIs: true, reason: 'x' }), 404)).toBe('NOT_FOUND');
  });

  it('releases as-is a reading the gateway flagged whose ts is possible after all', async () => {
    await t.postBatch(
      batch([['EXC-1', '2026-06-01T11:00:00Z', 103]], { extra: { flags: ['clock_invalid'] } }),
    );
    expect(await engineHours()).toBeCloseTo(2, 9);
    const flagged = (await held()).find((h) => h.ts === '2026-06-01T11:00:00.000Z')!;
    const r = HeldReleaseResponseSchema.parse(
      (await release(flagged.id, { asIs: true, reason: 'gateway clock was off, unit clock fine' })).json,
    );
    expect(r).toMatchObject({ rebased: false, ts: '2026-06-01T11:00:00.000Z' });
    expect(await engineHours()).toBeCloseTo(3, 9);
  });
});

describe('conflicts', () => {
  beforeEach(async () => {
    await t.postBatch(
      batch([
        ['EXC-1', '2026-06-01T08:00:00Z', 100],
        ['EXC-1', '2026-06-01T09:00:00Z', 101],
        ['EXC-1', '2026-06-01T10:00:00Z', 102],
      ]),
    );
    // A second version of 10:00 that says the meter was at 101.75.
    await t.postBatch(batch([['EXC-1', '2026-06-01T10:00:00Z', 101.75]]));
  });

  it('keeping the second version puts it in usage; the first stays stored, superseded', async () => {
    expect(await engineHours()).toBeCloseTo(1, 9); // 08:00 → 09:00; 10:00 is disputed
    const [c] = await conflicts();
    expect(c).toMatchObject({ unitId: 'EXC-1', ts: '2026-06-01T10:00:00.000Z', status: 'open' });
    expect(c!.versions.map((v) => [v.ordinal, v.engineHours, v.status])).toEqual([
      [1, 102, 'conflict'],
      [2, 101.75, 'conflict'],
    ]);
    expect((await held()).map((h) => h.conflictId)).toEqual([c!.id, c!.id]);
    // A conflict version is not released: it is resolved.
    expect(problem(await release(c!.versions[0]!.readingId, { asIs: true, reason: 'x' }), 409)).toBe(
      'READING_IN_CONFLICT',
    );

    const r = await resolve(c!.id, { keep: 'second', reason: 'unit resent after meter calibration' });
    expect(r.status).toBe(200);
    const done = ConflictSchema.parse(r.json);
    expect(done).toMatchObject({
      status: 'resolved',
      resolution: { keep: 'second', readingId: c!.versions[1]!.readingId, by: 'alex' },
    });
    expect(done.versions.map((v) => v.status)).toEqual(['superseded', 'ok']);
    expect(await engineHours()).toBeCloseTo(1.75, 9);
    expect(await held()).toEqual([]);
    expect(await conflicts()).toEqual([]);
    expect((await conflicts('?status=resolved')).map((x) => x.id)).toEqual([c!.id]);
    expect(await t.cloud.store.countReadings()).toBe(4);

    const audit = AuditResponseSchema.parse((await t.api('GET', '/v1/audit?action=conflict.resolve')).json);
    expect(audit.entries).toHaveLength(1);
    expect(JSON.parse(audit.entries[0]!.detail!)).toMatchObject({
      keep: 'second',
      reason: 'unit resent after meter calibration',
    });
    expect(problem(await resolve(c!.id, { keep: 'first', reason: 'changed my mind' }), 409)).toBe(
      'CONFLICT_RESOLVED',
    );

    // A resend of the superseded version is a duplicate and re-opens nothing.
    const resend = await t.postBatch(batch([['EXC-1', '2026-06-01T10:00:00Z', 102]]));
    expect(resend.json).toMatchObject({ accepted: 0, duplicates: 1, conflicts: 0 });
    expect(await conflicts()).toEqual([]);
    // A third, different version opens a new conflict with the kept one.
    await t.postBatch(batch([['EXC-1', '2026-06-01T10:00:00Z', 101.5]]));
    const [again] = await conflicts();
    expect(again!.id).not.toBe(c!.id);
    expect(again!.versions.map((v) => v.engineHours)).toEqual([101.75, 101.5]);
    expect(await engineHours()).toBeCloseTo(1, 9);
    // The old conflict still shows what was decided then.
    const old = (await conflicts('?status=resolved'))[0]!;
    expect(old.versions.map((v) => v.engineHours)).toEqual([102, 101.75]);
  });

  it('a resolution after posting yields an adjustment; the posted allocation is untouched', async () => {
    // Posting needs an Odoo (a dry run never marks anything posted): the same store, with the double.
    const odoo = await startOdooDouble();
    odoo.world.create('project.project', { name: 'London' });
    await t.stop();
    t = await startTestCloud({
      dir: t.dir,
      config: { posting: { odoo: { url: odoo.url, db: odoo.db, login: odoo.login, apiKey: odoo.apiKey } } },
    });
    onTestFinished(() => odoo.stop());
    await engineHours();
    await t.api('POST', '/v1/allocations/approve', { all: true }, TOKENS.approver);
    expect((await t.api('POST', '/v1/post', {}, TOKENS.approver)).status).toBe(200);
    const [c] = await conflicts();
    await resolve(c!.id, { keep: 'first', reason: 'second one was a replay glitch' });
    const run = (await t.api('POST', '/v1/consolidate', {}, TOKENS.approver)).json;
    expect(run.adjustmentsCreated).toBe(1);
    const all = AllocationsResponseSchema.parse((await t.api('GET', '/v1/allocations')).json).allocations;
    expect(all.map((a) => [a.kind, a.status, a.engineHours])).toEqual([
      ['normal', 'posted', 1],
      ['adjustment', 'pending', 1],
    ]);
  });

  it('validates keep, reason, role and id', async () => {
    const [c] = await conflicts();
    expect(problem(await resolve(c!.id, { keep: 'third', reason: 'x' }), 400)).toBe('REQUEST_INVALID');
    expect(problem(await resolve(c!.id, { keep: 'first', reason: '  ' }), 400)).toBe('REQUEST_INVALID');
    expect(problem(await resolve(c!.id, { keep: 'first', reason: 'x' }, TOKENS.viewer), 403)).toBe(
      'AUTH_FORBIDDEN',
    );
    expect(problem(await resolve('404', { keep: 'first', reason: 'x' }), 404)).toBe('NOT_FOUND');
    expect(problem(await t.api('GET', '/v1/conflicts?status=closed'), 400)).toBe('QUERY_INVALID');
  });

  it('a kept version whose own clock is impossible stays held until released', async () => {
    await t.postBatch(batch([['EXC-1', '1970-01-01T00:00:00Z', 103]]));
    await t.postBatch(batch([['EXC-1', '1970-01-01T00:00:00Z', 104]]));
    const c = (await conflicts()).find((x) => x.ts.startsWith('1970'))!;
    const done = ConflictSchema.parse((await resolve(c.id, { keep: 'second', reason: 'newer' })).json);
    expect(done.versions.map((v) => v.status)).toEqual(['superseded', 'held']);
    const h = (await held()).find((x) => x.status === 'held')!;
    expect(h.id).toBe(done.versions[1]!.readingId);
  });
});
