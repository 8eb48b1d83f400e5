import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AempSnapshotSchema, aempToReading, readingToAemp } from './aemp.js';
import { BatchSchema } from './batch.js';
import {
  ForwardedReadingSchema,
  isInvalidClock,
  NORMAL_INSTANT,
  normalInstantMs,
  parseInstantMs,
  ReadingSchema,
} from './reading.js';
import { parseUnitTopic, TOPIC_KINDS, TOPIC_PREFIX, UNIT_ID_PATTERN, unitTopic } from './topics.js';
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

  it('parses topics as splitting them at every slash would', () => {
    // The definition, the slow way.
    const bySplit = (topic: string) => {
      if (!topic.startsWith(`${TOPIC_PREFIX}/`)) return null;
      const rest = topic.slice(TOPIC_PREFIX.length + 1).split('/');
      if (rest.length !== 2) return null;
      const [unitId, kind] = rest as [string, string];
      if (!UNIT_ID_PATTERN.test(unitId) || !(TOPIC_KINDS as readonly string[]).includes(kind)) return null;
      return { unitId, kind };
    };
    const piece = fc.oneof(
      fc.constantFrom('ironledger', 'v1', 'units', '', 'EXC-0042', 'a.b_c', '+', '#', ...TOPIC_KINDS),
      fc.constantFrom('telemetr', 'telemetryx', 'Telemetry', 'ironledger/v1/units'),
      fc.string({ maxLength: 8 }),
    );
    const topic = fc.oneof(
      fc.array(piece, { maxLength: 7 }).map((p) => p.join('/')),
      fc.tuple(piece, piece).map(([u, k]) => `${TOPIC_PREFIX}/${u}/${k}`),
      fc.tuple(piece, piece, fc.string({ maxLength: 3 })).map(([u, k, x]) => `${TOPIC_PREFIX}${x}${u}/${k}`),
    );
    let ours = 0;
    fc.assert(
      fc.property(topic, (t) => {
        const want = bySplit(t);
        if (want) ours++;
        expect(parseUnitTopic(t)).toEqual(want);
      }),
      { numRuns: 20_000 },
    );
    expect(ours).toBeGreaterThan(300);
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

describe('normalInstantMs', () => {
  /** The definition, the slow way: the pattern, and the string toISOString writes for the ms. */
  const reference = (s: string): number => {
    const ms = Date.parse(s);
    return NORMAL_INSTANT.test(s) && !Number.isNaN(ms) && new Date(ms).toISOString() === s ? ms : Number.NaN;
  };

  it('agrees with the Date round trip on instants of every year and on every one-character change', () => {
    const instants: string[] = [];
    // Instants at odd times of day from year 0 to 9999 (the 4-digit-year ones of 1,200 spread wider).
    for (let i = 0; i < 1200; i++) {
      const ms = Date.UTC(2000, 0, 1) + (i - 600) * 3_045_851 * 100_003 + i * 7919;
      const iso = new Date(ms).toISOString();
      if (iso.length === 24) instants.push(iso);
    }
    instants.push('2024-02-29T23:59:59.999Z', '2000-02-29T00:00:00.000Z', '0000-01-01T00:00:00.000Z');
    let checked = 0;
    for (const iso of instants) {
      expect(normalInstantMs(iso)).toBe(Date.parse(iso));
      for (let at = 0; at < 24; at++)
        for (const c of '0123456789-:.TZ+ ') {
          const s = iso.slice(0, at) + c + iso.slice(at + 1);
          const got = normalInstantMs(s);
          const want = reference(s);
          if (!Object.is(got, want)) expect({ s, got }).toEqual({ s, got: want });
          checked++;
        }
    }
    expect(checked).toBeGreaterThan(300_000);
  });

  it('refuses what is not a real instant in normal form', () => {
    for (const s of [
      '2023-02-29T00:00:00.000Z',
      '1900-02-29T00:00:00.000Z',
      '2024-04-31T00:00:00.000Z',
      '2024-01-01T24:00:00.000Z',
      '2024-01-01T00:60:00.000Z',
      '2024-01-01T00:00:60.000Z',
      '2024-01-01T00:00:00Z',
      '2024-01-01T00:00:00.000+00:00',
      '+012024-01-01T00:00:00.000Z',
      '',
    ])
      expect(normalInstantMs(s)).toBeNaN();
    expect(normalInstantMs(20240101)).toBeNaN();
  });

  it('parseInstantMs reads any form Date.parse reads', () => {
    for (const s of ['2026-11-23T08:15:00Z', '2026-11-23T08:15:00.000Z', '2026-11-23', 'nonsense'])
      expect(parseInstantMs(s)).toEqual(Date.parse(s));
  });
});
