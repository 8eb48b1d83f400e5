import { describe, expect, it } from 'vitest';
import { AempSnapshotSchema, aempToReading, readingToAemp } from './aemp.js';
import { BatchSchema } from './batch.js';
import { ForwardedReadingSchema, isInvalidClock, ReadingSchema } from './reading.js';
import { parseUnitTopic, unitTopic } from './topics.js';
import { FORWARDED_READING_KEYS, READING_KEYS, readingContent } from './wire.js';

const reading = {
  v: 1,
  unitId: 'EXC-0042',
  seq: 18231,
  ts: '2026-11-23T08:15:00Z',
  engineHours: 4521.35,
  idleHours: 1203.1,
  engineOn: true,
  position: { lat: 51.5007, lon: -0.1246 },
  speedKmh: 0,
  fuelUsedL: 88123.4,
};

describe('canonical reading', () => {
  it('normalises ts so one instant written two ways is one identity', () => {
    const a = ReadingSchema.parse(reading);
    const b = ReadingSchema.parse({ ...reading, ts: '2026-11-23T09:15:00.000+01:00' });
    expect(a.ts).toBe('2026-11-23T08:15:00.000Z');
    expect(readingContent(a)).toBe(readingContent(b));
  });

  it('names the field that fails', () => {
    const r = ReadingSchema.safeParse({ ...reading, engineHours: -1 });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(['engineHours']);
    expect(ReadingSchema.safeParse({ ...reading, ts: 'yesterday' }).error?.issues[0]?.path).toEqual(['ts']);
    expect(ReadingSchema.safeParse({ ...reading, unitId: 'a/b' }).success).toBe(false);
  });

  it('flags clocks before 2000 or ahead of the receiver', () => {
    const now = Date.parse('2026-11-23T08:00:00Z');
    expect(isInvalidClock('1970-01-01T00:00:10.000Z', now)).toBe(true);
    expect(isInvalidClock('2026-11-23T08:04:00.000Z', now)).toBe(false);
    expect(isInvalidClock('2026-11-23T08:06:00.000Z', now)).toBe(true);
  });
});

describe('AEMP 2.0 snapshot', () => {
  it('maps to the same canonical reading it was rendered from', () => {
    const r = ReadingSchema.parse({ ...reading, odometerKm: 120.5 });
    const snap = AempSnapshotSchema.parse(JSON.parse(JSON.stringify(readingToAemp(r))));
    // AEMP 2.0 has no speed element: everything else survives the round trip.
    expect(aempToReading(snap)).toEqual({ ...r, speedKmh: undefined });
  });

  it('converts gallons and miles', () => {
    const snap = AempSnapshotSchema.parse({
      EquipmentHeader: { EquipmentID: 'DOZ-1' },
      CumulativeOperatingHours: { datetime: '2026-11-23T08:00:00Z', Hour: 10 },
      FuelUsed: { datetime: '2026-11-23T08:00:00Z', FuelUnits: 'gallon', FuelConsumed: 1 },
      Distance: { datetime: '2026-11-23T08:00:00Z', OdometerUnits: 'mile', Odometer: 1 },
    });
    const r = aempToReading(snap);
    expect(r.fuelUsedL).toBeCloseTo(3.785411784, 9);
    expect(r.odometerKm).toBeCloseTo(1.609344, 9);
    expect(r.ts).toBe('2026-11-23T08:00:00.000Z');
  });
});

describe('topics and batches', () => {
  it('round-trips unit topics and refuses anything else', () => {
    expect(parseUnitTopic(unitTopic('EXC-0042', 'telemetry'))).toEqual({
      unitId: 'EXC-0042',
      kind: 'telemetry',
    });
    expect(parseUnitTopic('ironledger/v1/units/+/telemetry')).toBeNull();
    expect(parseUnitTopic('ironledger/v1/units/A/telemetry/extra')).toBeNull();
    expect(parseUnitTopic('other/topic')).toBeNull();
  });

  it('requires the receive time on forwarded readings', () => {
    const ok = BatchSchema.safeParse({
      gatewayId: 'gw-1',
      batchId: 'b-1',
      readings: [{ ...reading, receivedAt: '2026-11-23T08:15:01Z' }],
    });
    expect(ok.success).toBe(true);
    const bad = BatchSchema.safeParse({ gatewayId: 'gw-1', batchId: 'b-1', readings: [reading] });
    expect(bad.error?.issues[0]?.path).toEqual(['readings', 0, 'receivedAt']);
  });
});

describe('key orders', () => {
  it('READING_KEYS and FORWARDED_READING_KEYS are the schemas’ own keys, in their order', () => {
    expect(READING_KEYS).toEqual(Object.keys(ReadingSchema.shape));
    expect(FORWARDED_READING_KEYS).toEqual(Object.keys(ForwardedReadingSchema.shape));
  });
});
