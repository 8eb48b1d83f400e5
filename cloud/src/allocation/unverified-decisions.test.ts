import { describe, expect, it } from 'vitest';
import type { AllocationRecord } from '../domain/types.js';
import {
  BILL_UNVERIFIED_ACTION,
  decideBillUnverified,
  repriceWithDecision,
  UnverifiedDecisions,
} from './unverified-decisions.js';

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

describe('repricing with a decision', () => {
  const rate = {
    rateId: 'R-EXC',
    equipmentClass: 'excavator',
    workingRateMinor: 10_000,
    idleRateMinor: 2_000,
    currency: 'EUR',
    effectiveFrom: '2020-01-01',
  };
  const unit = { unitId: 'EXC-1', equipmentClass: 'excavator' };
  const record = (over: Partial<AllocationRecord> = {}): AllocationRecord =>
    ({
      id: '7',
      version: 3,
      key: 'IL-EXC-1-P-A-20261103-1',
      kind: 'normal',
      adjusts: null,
      seq: 1,
      unitId: 'EXC-1',
      projectId: 'P-A',
      siteId: 'S',
      day: '2026-11-03',
      status: 'pending',
      engineHours: 2,
      idleHours: 0.5,
      workingHours: 1.5,
      rateId: 'R-EXC',
      workingRateMinor: 10_000,
      idleRateMinor: 2_000,
      currency: 'EUR',
      amountMinor: 16_000,
      holdReason: null,
      evidence: {
        readings: 3,
        anomalies: [],
        meterFrom: 0.3,
        meterTo: 2.3,
        billing: { unverifiedHours: 0.3, statusHours: { working: 1.5, idle: 0.5, standby: 0, offHours: 0 } },
      },
      ...over,
    }) as unknown as AllocationRecord;
  const decided = (a: AllocationRecord) => {
    const d = decideBillUnverified(a, { ...req(0.3), expectedVersion: a.version });
    if (!d.ok) throw new Error(d.detail);
    return d;
  };

  it('prices the hours as working time, at the version decided on, with the decision audited', () => {
    const a = record();
    const r = repriceWithDecision(a, unit, [rate], decided(a), '2026-11-04T09:00:00.000Z');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.change).toMatchObject({
      id: '7',
      expect: { version: 3, status: 'pending' },
      patch: { amountMinor: 16_000 + 3_000, currency: 'EUR' },
      audit: [{ actor: 'finance-approver', action: BILL_UNVERIFIED_ACTION, target: 'EXC-1|P-A|2026-11-03' }],
    });
  });

  it('refuses an older version, and leaves posted allocations and adjustments to consolidation', () => {
    const a = record();
    expect(decideBillUnverified(a, { ...req(0.3), expectedVersion: 2 })).toMatchObject({
      ok: false,
      status: 409,
    });
    for (const over of [{ status: 'posted' }, { kind: 'adjustment' }] as const) {
      const b = record(over as Partial<AllocationRecord>);
      expect(repriceWithDecision(b, unit, [rate], decided(b), 'now')).toMatchObject({ ok: false });
    }
  });
});
