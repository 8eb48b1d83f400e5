/**
 * Contractor pricing in the allocation lifecycle: a day with no engine hours still becomes an
 * allocation when the card charges its standby or off-hours, or when a reset left unverified
 * hours for an approver to decide on; with a working/idle card a standing day stays empty.
 */
import { type Rate, RateSchema, type Unit } from '@ironledger/contracts';
import { describe, expect, it } from 'vitest';
import { planAllocations } from '../domain/allocation-lifecycle.js';
import type { ConsolidatedFigure } from '../usage/consolidate.js';
import { allocationKey, priceFigure } from './allocate.js';

const unit: Unit = { unitId: 'EXC-1', equipmentClass: 'excavator' };
const contractor: Rate = RateSchema.parse({
  rateId: 'C',
  equipmentClass: 'excavator',
  workingRateMinor: 0,
  idleRateMinor: 0,
  owningRateMinor: 4000,
  operatingRateMinor: 6000,
  currency: 'USD',
  effectiveFrom: '2026-01-01',
});
const legacy: Rate = RateSchema.parse({
  rateId: 'L',
  equipmentClass: 'excavator',
  workingRateMinor: 9500,
  idleRateMinor: 2500,
  currency: 'USD',
  effectiveFrom: '2026-01-01',
});

function standing(unverifiedHours = 0): ConsolidatedFigure {
  return {
    unitId: 'EXC-1',
    projectId: 'P-A',
    siteId: 'S',
    day: '2026-11-04',
    engineHours: 0,
    idleHours: 0,
    workingHours: 0,
    distanceKm: null,
    readings: 97,
    anomalies: [],
    meterFrom: 100,
    meterTo: 100,
    billing: {
      statusHours: { working: 0, idle: 0, standby: 10, offHours: 14 },
      unverifiedHours,
      inferredHours: 0,
      gaps: [],
      readings: [],
      readingsSha256: null as unknown as string,
    },
  };
}

const plan = (fig: ConsolidatedFigure, rates: Rate[]) =>
  planAllocations({
    unitId: 'EXC-1',
    unit,
    figures: [fig],
    existing: [],
    rates,
    now: '2026-11-05T00:00:00.000Z',
    pricing: { price: (f, u) => priceFigure(f, u, rates), key: allocationKey },
  });

describe('allocations of days without engine hours', () => {
  it('allocates a standing day a contractor card charges: standby capped at 8 h, off-hours', () => {
    const p = plan(standing(), [contractor]);
    // 8 × 32.00 + 14 × 20.00
    expect(p.create).toEqual([expect.objectContaining({ amountMinor: 53600, engineHours: 0, rateId: 'C' })]);
    expect(p.create[0]!.evidence).toMatchObject({
      billing: { model: 'contractor', statusHours: { standby: 10, offHours: 14 } },
    });
  });
  it('leaves a standing day alone under a working/idle card', () => {
    expect(plan(standing(), [legacy]).create).toEqual([]);
  });
  it('allocates a day whose only hours are unverified, at nothing until an approver decides', () => {
    const p = plan(standing(0.3), [legacy]);
    expect(p.create).toEqual([expect.objectContaining({ amountMinor: 0 })]);
    expect(p.create[0]!.evidence).toMatchObject({
      billing: { unverifiedHours: 0.3, unverifiedBilledHours: 0 },
    });
  });
});
