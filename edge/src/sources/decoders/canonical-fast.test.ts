import { ReadingSchema } from '@ironledger/contracts';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeCanonical } from './canonical.js';
import { fastReading } from './canonical-fast.js';
import { zodReason } from './decode-result.js';

const UNIT = 'EXC-0042';

/** The decoder as it was before the fast path: the schema alone. */
function schemaOnly(value: unknown, topicUnitId: string) {
  const parsed = ReadingSchema.safeParse(value);
  if (!parsed.success) return { ok: false, reason: zodReason('schema', parsed.error.issues) };
  if (parsed.data.unitId !== topicUnitId)
    return {
      ok: false,
      reason: `unit_mismatch: payload unitId ${parsed.data.unitId} is not the topic's ${topicUnitId}`,
    };
  return { ok: true, reading: parsed.data };
}

const isoMs = fc
  .date({ min: new Date('1990-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true })
  .map((d) => d.toISOString());
/** Mostly values a unit sends, sometimes something the schema refuses. */
const meter = fc.oneof(
  { weight: 6, arbitrary: fc.double({ min: 0, max: 1e7, noNaN: true }) },
  { weight: 1, arbitrary: fc.constantFrom(-1, -0.001, -0, 0, null, '12', true, 1e308) },
);
const ts = fc.oneof(
  { weight: 6, arbitrary: isoMs },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '2026-11-23T08:15:00Z',
      '2026-11-23T09:15:00.000+01:00',
      '2026-02-30T00:00:00.000Z',
      '2026-02-29T00:00:00.000Z',
      '2028-02-29T00:00:00.000Z',
      '2026-01-01T24:00:00.000Z',
      '2026-13-01T00:00:00.000Z',
      '0000-01-01T00:00:00.000Z',
      '+010000-01-01T00:00:00.000Z',
      '2026-11-23 08:15:00.000Z',
      'yesterday',
      '',
    ),
  },
  { weight: 1, arbitrary: fc.oneof(fc.string(), fc.integer(), fc.constant(null)) },
);
const position = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      lat: fc.double({ min: -90, max: 90, noNaN: true }),
      lon: fc.double({ min: -180, max: 180, noNaN: true }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      { lat: 91, lon: 0 },
      { lat: 0, lon: -180.5 },
      { lat: 0 },
      { lat: 1, lon: 2, alt: 3 },
      { lon: 2, lat: 1 },
      [1, 2],
      null,
      'here',
    ),
  },
);
const fields = {
  v: fc.oneof(
    { weight: 9, arbitrary: fc.constant(1) },
    { weight: 1, arbitrary: fc.constantFrom(2, '1', null) },
  ),
  unitId: fc.oneof(
    { weight: 9, arbitrary: fc.constant(UNIT) },
    { weight: 1, arbitrary: fc.constantFrom('EXC-0043', 'a/b', '', 'exc-0042', 42) },
  ),
  seq: fc.oneof(
    { weight: 6, arbitrary: fc.nat() },
    { weight: 1, arbitrary: fc.constantFrom(-1, 1.5, 2 ** 60, Number.MAX_SAFE_INTEGER, null, '7') },
  ),
  ts,
  engineHours: meter,
  idleHours: meter,
  engineOn: fc.oneof(
    { weight: 6, arbitrary: fc.boolean() },
    { weight: 1, arbitrary: fc.constantFrom(0, 'yes', null) },
  ),
  position,
  speedKmh: meter,
  fuelUsedL: meter,
  odometerKm: meter,
};
/** Mostly the required fields and some optional ones; sometimes any subset at all. */
const reading = fc.oneof(
  { weight: 4, arbitrary: fc.record(fields, { requiredKeys: ['v', 'unitId', 'ts', 'engineHours'] }) },
  { weight: 1, arbitrary: fc.record(fields, { requiredKeys: [] }) },
);
/** Fields the schema does not know (it strips them). */
const unknownFields = fc.oneof(
  { weight: 4, arbitrary: fc.constant({}) },
  { weight: 1, arbitrary: fc.record({ extra: fc.constantFrom('x', 1, null) }) },
  { weight: 1, arbitrary: fc.record({ receivedAt: isoMs }) },
);
/** JSON text as a unit would send it: the fields in any order. */
const payload = fc.tuple(reading, unknownFields, fc.nat()).map(([r, more, seed]) => {
  const entries = Object.entries({ ...r, ...more });
  // Half as the firmware writes it (the schema's order), half shuffled.
  if (seed % 2 === 0) return JSON.stringify(Object.fromEntries(entries));
  for (let i = entries.length - 1; i > 0; i--) {
    const j = (seed + i * 7919) % (i + 1);
    [entries[i], entries[j]] = [entries[j]!, entries[i]!];
  }
  return JSON.stringify(Object.fromEntries(entries));
});

describe('canonical reading fast path', () => {
  it('agrees with ReadingSchema: same reading (key order included) or the same reason', () => {
    let fast = 0;
    fc.assert(
      fc.property(payload, (text) => {
        const expected = schemaOnly(JSON.parse(text), UNIT);
        const f = fastReading(JSON.parse(text), UNIT);
        if (f) {
          fast++;
          // Accepting is a promise that the schema accepts with the very same output.
          expect(expected.ok).toBe(true);
          expect(JSON.stringify(f)).toBe(JSON.stringify(expected.reading));
        }
        const got = decodeCanonical(Buffer.from(text), UNIT);
        expect(JSON.stringify(got)).toBe(JSON.stringify(expected));
      }),
      { numRuns: 5000 },
    );
    // The generator must exercise the fast path, not only the fallback.
    expect(fast, `fast path taken ${fast} times`).toBeGreaterThan(100);
  });

  it('takes the fast path for the reading a unit sends', () => {
    const r = {
      v: 1,
      unitId: UNIT,
      seq: 18231,
      ts: '2026-11-23T08:15:00.000Z',
      engineHours: 4521.35,
      idleHours: 1203.1,
      engineOn: true,
      position: { lat: 51.5007, lon: -0.1246 },
      speedKmh: 0,
      fuelUsedL: 88123.4,
    };
    expect(fastReading(JSON.parse(JSON.stringify(r)), UNIT)).toEqual(r);
    // Fields out of the schema's order come back in its order (the stored body is this JSON).
    const head = `"v":1,"unitId":"${UNIT}"`;
    const late = `{${head},"ts":"${r.ts}","engineHours":1,"seq":2}`;
    expect(JSON.stringify(fastReading(JSON.parse(late), UNIT))).toBe(
      `{${head},"seq":2,"ts":"${r.ts}","engineHours":1}`,
    );
    const lonFirst = `{${head},"ts":"${r.ts}","engineHours":1,"position":{"lon":2,"lat":1}}`;
    expect(JSON.stringify(fastReading(JSON.parse(lonFirst), UNIT))).toBe(
      `{${head},"ts":"${r.ts}","engineHours":1,"position":{"lat":1,"lon":2}}`,
    );
    expect(fastReading({ ...r, ts: '2026-11-23T08:15:00Z' }, UNIT)).toBeUndefined();
    expect(fastReading({ ...r, unitId: 'EXC-0043' }, UNIT)).toBeUndefined();
    expect(fastReading({ ...r, note: 'x' }, UNIT)).toBeUndefined();
    expect(fastReading(JSON.parse('{"__proto__":{"x":1},"v":1}'), UNIT)).toBeUndefined();
  });
});
