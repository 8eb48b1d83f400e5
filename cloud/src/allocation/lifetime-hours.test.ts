import type { Anomaly } from '@ironledger/contracts';
import { describe, expect, it } from 'vitest';
import { lifetimeHours } from './lifetime-hours.js';

const reset = (ts: string, before: number, after: number, unitId = 'EXC-1'): Anomaly => ({
  unitId,
  kind: 'meter_reset',
  ts,
  detail: `engineHours went back from ${before} to ${after}: a new meter`,
  before,
  after,
});

describe('lifetime meter hours', () => {
  it('is the current meter plus the last reading of every meter it replaced, up to the reading', () => {
    const anomalies: Anomaly[] = [
      reset('2026-11-03T10:00:00.000Z', 1000.9, 0.3),
      { ...reset('2026-11-04T09:00:00.000Z', 5, 80), kind: 'meter_jump' },
      reset('2026-11-05T10:00:00.000Z', 40.2, 0.1),
      reset('2026-11-05T10:00:00.000Z', 7777, 0.1, 'EXC-2'),
      // The idle meter went back with the engine meter: not an hour meter of its own.
      { ...reset('2026-11-05T10:00:00.000Z', 12.1, 0.01), detail: 'idleHours went back from 12.1 to 0.01' },
      reset('2026-11-09T10:00:00.000Z', 60, 0),
    ];
    expect(lifetimeHours('EXC-1', { ts: '2026-11-06T12:00:00.000Z', engineHours: 12.5 }, anomalies)).toEqual({
      unitId: 'EXC-1',
      asOf: '2026-11-06T12:00:00.000Z',
      meterHours: 12.5,
      replacedHours: 1041.1,
      lifetimeHours: 1053.6,
      replacements: [
        { ts: '2026-11-03T10:00:00.000Z', replacedMeterHours: 1000.9, newMeterHours: 0.3 },
        { ts: '2026-11-05T10:00:00.000Z', replacedMeterHours: 40.2, newMeterHours: 0.1 },
      ],
    });
  });

  it('is the meter itself when it was never replaced', () => {
    expect(
      lifetimeHours('EXC-1', { ts: '2026-11-02T12:00:00.000Z', engineHours: 3000.25 }, []),
    ).toMatchObject({
      meterHours: 3000.25,
      replacedHours: 0,
      lifetimeHours: 3000.25,
      replacements: [],
    });
  });
});
