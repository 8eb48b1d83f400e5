import { describe, expect, it } from 'vitest';
import { BILL_UNVERIFIED_ACTION, decideBillUnverified, UnverifiedDecisions } from './unverified-decisions.js';

const alloc = (unverifiedHours: number, status = 'pending') => ({
  key: 'IL-EXC-1-P-A-20261103-1',
  unitId: 'EXC-1',
  projectId: 'P-A',
  day: '2026-11-03',
  status,
  evidence: { billing: { unverifiedHours } },
});
const req = (expectedHours: number) => ({
  key: 'IL-EXC-1-P-A-20261103-1',
  expectedHours,
  reason: 'workshop log',
  actor: 'finance-approver',
  now: '2026-11-04T09:00:00.000Z',
});

describe('billing unverified hours', () => {
  it('decides on exactly the hours the approver saw, and audits them', () => {
    const d = decideBillUnverified(alloc(0.3), req(0.3));
    expect(d).toEqual({
      ok: true,
      decision: {
        hours: 0.3,
        by: 'finance-approver',
        at: '2026-11-04T09:00:00.000Z',
        reason: 'workshop log',
      },
      audit: {
        action: BILL_UNVERIFIED_ACTION,
        target: 'EXC-1|P-A|2026-11-03',
        detail: JSON.stringify({ key: 'IL-EXC-1-P-A-20261103-1', hours: 0.3, reason: 'workshop log' }),
      },
    });
  });
  it('refuses when the hours changed since, when there are none, and for settled allocations', () => {
    expect(decideBillUnverified(alloc(0.5), req(0.3))).toMatchObject({ ok: false, status: 409 });
    expect(decideBillUnverified(alloc(0), req(0.3))).toMatchObject({ ok: false, status: 409 });
    expect(decideBillUnverified(alloc(0.3, 'rejected'), req(0.3))).toMatchObject({ ok: false, status: 409 });
    expect(decideBillUnverified(null, req(0.3))).toMatchObject({ ok: false, status: 404 });
  });
  it('replays decisions from the audit log, the latest per figure, ignoring malformed ones', () => {
    const d = new UnverifiedDecisions().load([
      {
        at: '2026-11-04T10:00:00Z',
        actor: 'b',
        action: BILL_UNVERIFIED_ACTION,
        target: 'U|P|D',
        detail: '{"hours":0.2,"reason":"later"}',
      },
      {
        at: '2026-11-04T09:00:00Z',
        actor: 'a',
        action: BILL_UNVERIFIED_ACTION,
        target: 'U|P|D',
        detail: '{"hours":0.1}',
      },
      {
        at: '2026-11-04T11:00:00Z',
        actor: 'c',
        action: BILL_UNVERIFIED_ACTION,
        target: 'U|P|E',
        detail: 'not json',
      },
      {
        at: '2026-11-04T11:00:00Z',
        actor: 'c',
        action: 'allocation.approve',
        target: 'U|P|F',
        detail: '{"hours":9}',
      },
    ]);
    expect(d.get({ unitId: 'U', projectId: 'P', day: 'D' })).toEqual({
      hours: 0.2,
      by: 'b',
      at: '2026-11-04T10:00:00Z',
      reason: 'later',
    });
    expect(d.get({ unitId: 'U', projectId: 'P', day: 'E' })).toBeUndefined();
    expect(d.get({ unitId: 'U', projectId: 'P', day: 'F' })).toBeUndefined();
  });
});
