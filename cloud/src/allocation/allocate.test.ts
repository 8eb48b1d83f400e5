import { describe, expect, it } from 'vitest';
import type { RateCard, UnitInfo, UsageFigure } from '../domain/types.js';
import { allocationKey, priceUsage, rateInForce } from './allocate.js';

const unit: UnitInfo = { unitId: 'EXC-0042', equipmentClass: 'excavator', serialNo: 'CAT0320X42' };

function fig(over: Partial<UsageFigure> = {}): UsageFigure {
  return {
    unitId: 'EXC-0042',
    projectId: 'RIVERSIDE',
    siteId: 'S1',
    day: '2026-11-23',
    engineHours: 8.7,
    idleHours: 1.2,
    workingHours: 7.5,
    distanceKm: null,
    readings: 12,
    anomalies: [],
    meterFrom: 100,
    meterTo: 108.7,
    ...over,
  };
}

const classOld: RateCard = {
  id: 'c-old',
  equipmentClass: 'excavator',
  workingRateMinor: 8000,
  idleRateMinor: 1000,
  currency: 'USD',
  effectiveFrom: '2026-01-01',
};
const classNew: RateCard = {
  id: 'c-new',
  equipmentClass: 'excavator',
  workingRateMinor: 8500,
  idleRateMinor: 1500,
  currency: 'USD',
  effectiveFrom: '2026-11-01',
};
const classFuture: RateCard = {
  id: 'c-fut',
  equipmentClass: 'excavator',
  workingRateMinor: 9900,
  idleRateMinor: 1900,
  currency: 'USD',
  effectiveFrom: '2026-12-01',
};
const unitRate: RateCard = {
  id: 'u-42',
  unitId: 'EXC-0042',
  workingRateMinor: 9000,
  idleRateMinor: 2000,
  currency: 'USD',
  effectiveFrom: '2026-06-01',
};
const loader: RateCard = {
  id: 'l',
  equipmentClass: 'loader',
  workingRateMinor: 1,
  idleRateMinor: 1,
  currency: 'USD',
  effectiveFrom: '2020-01-01',
};

describe('rateInForce', () => {
  it('takes the latest effectiveFrom on or before the day', () => {
    expect(rateInForce(unit, '2026-11-23', [classOld, classNew, classFuture])).toMatchObject({
      ok: true,
      rate: { id: 'c-new' },
    });
    expect(rateInForce(unit, '2026-11-01', [classOld, classNew])).toMatchObject({
      ok: true,
      rate: { id: 'c-new' },
    });
    expect(rateInForce(unit, '2026-10-31', [classOld, classNew])).toMatchObject({
      ok: true,
      rate: { id: 'c-old' },
    });
  });
  it('prefers a unit rate over a newer class rate', () => {
    expect(rateInForce(unit, '2026-11-23', [classNew, unitRate])).toMatchObject({
      ok: true,
      rate: { id: 'u-42' },
    });
    // before the unit rate takes effect, the class rate applies
    expect(rateInForce(unit, '2026-05-01', [classOld, unitRate])).toMatchObject({
      ok: true,
      rate: { id: 'c-old' },
    });
  });
  it('holds when nothing applies or two rates tie', () => {
    const none = rateInForce(unit, '2025-01-01', [classOld, loader]);
    expect(none.ok).toBe(false);
    const tie = rateInForce(unit, '2026-11-23', [classNew, { ...classNew, id: 'c-dup' }]);
    expect(tie).toMatchObject({ ok: false });
    if (!tie.ok) expect(tie.holdReason).toMatch(/ambiguous/);
  });
});

describe('priceUsage', () => {
  it('prices working and idle hours at their rates', () => {
    // 7.5 × 85.00 + 1.2 × 15.00 = 637.50 + 18.00
    expect(priceUsage(fig(), unit, [classNew])).toEqual({
      ok: true,
      rateId: 'c-new',
      workingRateMinor: 8500,
      idleRateMinor: 1500,
      currency: 'USD',
      amountMinor: 65550,
    });
  });
  it('holds a figure with no rate', () => {
    const r = priceUsage(fig(), unit, [loader]);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.holdReason).toContain('no rate in force on 2026-11-23');
  });
  it('prices negative adjustments symmetrically', () => {
    const r = priceUsage(fig({ engineHours: -8.7, idleHours: -1.2, workingHours: -7.5 }), unit, [classNew]);
    expect(r).toMatchObject({ ok: true, amountMinor: -65550 });
  });
});

describe('allocationKey', () => {
  it('is stable and ref-safe', () => {
    expect(allocationKey({ unitId: 'EXC-0042', projectId: 'RIVERSIDE', day: '2026-11-23', seq: 1 })).toBe(
      'IL-EXC-0042-RIVERSIDE-20261123-1',
    );
    expect(allocationKey({ unitId: 'EXC-0042', projectId: 'p x/1', day: '2026-11-23', seq: 2 })).toBe(
      'IL-EXC-0042-p_x_1-20261123-2',
    );
  });
  it('rejects bad parts', () => {
    expect(() => allocationKey({ unitId: 'A', projectId: 'B', day: '23/11/2026', seq: 1 })).toThrow(
      RangeError,
    );
    expect(() => allocationKey({ unitId: 'A', projectId: 'B', day: '2026-11-23', seq: 0 })).toThrow(
      RangeError,
    );
  });
});
