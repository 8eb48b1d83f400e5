/**
 * Fuzz: the cloud's batch parser answers any body with a batch or a 400 problem naming the
 * field — never another error (which would be a 500 with a stack trace). The hand-written fast
 * path for canonical batches accepts nothing BatchSchema refuses and returns what it returns.
 */
import { BatchSchema } from '@ironledger/contracts';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { HttpProblem } from '../http/problem.js';
import { fastBatch, parseBatch, splitBatch } from './parse-batch.js';

const reading = {
  v: 1,
  unitId: 'EXC-1',
  ts: '2026-06-01T08:00:00Z',
  engineHours: 100,
  receivedAt: '2026-06-01T08:00:01Z',
};
const batch = { gatewayId: 'gw1', batchId: 'b-1', readings: [reading] };
const mutatedReading = fc
  .tuple(fc.constantFrom(...Object.keys(reading), 'flags', 'position', '__proto__'), fc.anything())
  .map(([k, v]) => JSON.stringify({ ...batch, readings: [{ ...reading, [k]: v }] }));
const mutatedBatch = fc
  .tuple(fc.constantFrom('gatewayId', 'batchId', 'readings', 'extra'), fc.anything())
  .map(([k, v]) => JSON.stringify({ ...batch, [k]: v }));
const body = fc.oneof(
  fc.uint8Array({ maxLength: 4096 }).map((a) => Buffer.from(a)),
  fc.json({ maxDepth: 5 }).map((s) => Buffer.from(s)),
  mutatedReading.map((s) => Buffer.from(s)),
  mutatedBatch.map((s) => Buffer.from(s)),
  fc.string({ maxLength: 500 }).map((s) => Buffer.from(s)),
);

describe('parseBatch under fuzz', () => {
  it('returns a batch or throws a 400 HttpProblem, nothing else', () => {
    fc.assert(
      fc.property(body, (b) => {
        try {
          const parsed = parseBatch(b);
          expect(Array.isArray(parsed.readings)).toBe(true);
        } catch (e) {
          expect(e).toBeInstanceOf(HttpProblem);
          expect((e as HttpProblem).status).toBe(400);
        }
      }),
      { numRuns: 1500, seed: 13 },
    );
  });
});

describe('fastBatch: the hand-written check of a canonical batch', () => {
  const instant = fc
    .date({
      min: new Date('1990-01-01T00:00:00Z'),
      max: new Date('2100-01-01T00:00:00Z'),
      noInvalidDate: true,
    })
    .map((d) => d.toISOString());
  const anyValue = fc.oneof(fc.anything(), instant, fc.double(), fc.constant(null));
  /** Mostly a valid value, now and then anything at all: both sides of every check get hit. */
  const mostly = <T>(valid: fc.Arbitrary<T>, nearMiss: fc.Arbitrary<unknown> = anyValue) =>
    fc.oneof(
      { arbitrary: valid, weight: 30 },
      { arbitrary: nearMiss, weight: 1 },
      { arbitrary: anyValue, weight: 1 },
    );
  const meterValue = mostly(fc.double({ min: 0, max: 1e9, noNaN: true }), fc.double({ min: -1, max: 0 }));
  const generated = fc.record(
    {
      v: mostly(fc.constant(1)),
      unitId: mostly(
        fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/),
        fc.stringMatching(/^[A-Za-z0-9_.-]{60,70}$/),
      ),
      seq: mostly(fc.nat(), fc.oneof(fc.integer(), fc.double())),
      ts: fc.oneof(
        instant,
        instant,
        instant,
        fc.constantFrom('2026-02-30T00:00:00.000Z', '2026-06-01T24:00:00.000Z', '2026-06-01T08:00:00Z'),
        anyValue,
      ),
      engineHours: meterValue,
      idleHours: meterValue,
      engineOn: mostly(fc.boolean()),
      position: mostly(
        fc.record({ lat: fc.double({ min: -90, max: 90 }), lon: fc.double({ min: -180, max: 180 }) }),
        fc.record({ lat: fc.double({ min: -100, max: 100 }), lon: fc.double({ min: -200, max: 200 }) }),
      ),
      speedKmh: meterValue,
      fuelUsedL: meterValue,
      odometerKm: meterValue,
      receivedAt: mostly(instant),
      source: mostly(fc.constantFrom('telemetry', 'aemp'), fc.constant('other')),
      flags: mostly(fc.subarray(['clock_invalid', 'conflict']), fc.array(fc.string())),
      extra: fc.oneof({ arbitrary: fc.constant(undefined), weight: 8 }, { arbitrary: anyValue, weight: 1 }),
    },
    { requiredKeys: ['v', 'unitId', 'ts', 'engineHours', 'receivedAt'] },
  );

  it('accepts only what BatchSchema accepts, and returns exactly what it returns', () => {
    let fastTaken = 0;
    fc.assert(
      fc.property(generated, mostly(fc.constant('gw1'), fc.string()), (r, gatewayId) => {
        // Through JSON, as a body arrives: what JSON cannot carry never reaches either parser.
        const json = JSON.parse(JSON.stringify({ gatewayId, batchId: 'b-1', readings: [r] })) as unknown;
        const fast = fastBatch(json);
        const zod = BatchSchema.safeParse(json);
        if (fast) {
          fastTaken++;
          expect(zod.success).toBe(true);
          expect(JSON.stringify(fast)).toBe(JSON.stringify(zod.data));
        }
      }),
      { numRuns: 5000, seed: 7 },
    );
    // Both branches were exercised: many canonical batches took the fast path, many did not.
    expect(fastTaken).toBeGreaterThan(200);
    expect(fastTaken).toBeLessThan(4800);
  });

  it('takes a batch as a gateway sends it without zod', () => {
    const spy = vi.spyOn(BatchSchema, 'safeParse');
    try {
      const full = {
        ...reading,
        ts: '2026-06-01T08:00:00.000Z',
        receivedAt: '2026-06-01T08:00:01.000Z',
        seq: 3,
        idleHours: 10,
        engineOn: true,
        position: { lat: 51.5, lon: -0.12 },
        speedKmh: 0,
        fuelUsedL: 88,
        odometerKm: 12,
        source: 'telemetry',
        flags: ['conflict'],
      };
      const parsed = parseBatch(Buffer.from(JSON.stringify({ ...batch, readings: [full, full] })));
      expect(parsed.readings).toHaveLength(2);
      expect(parsed.readings[0]).toEqual(full);
      expect(spy).not.toHaveBeenCalled();
      // Not canonical (ts without milliseconds): zod decides, and normalises it.
      expect(parseBatch(Buffer.from(JSON.stringify(batch))).readings[0]!.ts).toBe('2026-06-01T08:00:00.000Z');
      expect(spy).toHaveBeenCalledTimes(1);
    } finally {
      spy.mockRestore();
    }
  });
});

describe('splitBatch: a body parsed reading by reading', () => {
  // Texts that look like the cuts, inside strings, keys and nested values.
  const tricky = fc.oneof(
    fc.string(),
    fc.constantFrom('},{"v":', ',"readings":[', ']}', '}', '{"v":1}', '\\', '"', '😀', 'ü'),
  );
  const value = fc.oneof(fc.anything(), tricky, fc.array(fc.record({ v: fc.constant(1), s: tricky })));
  const item = fc.oneof(
    fc.record({ v: fc.constant(1), unitId: tricky, x: value }, { requiredKeys: ['v'] }),
    fc.dictionary(tricky, value, { maxKeys: 3 }),
    value,
  );
  const head = fc.record({ gatewayId: tricky, batchId: tricky, extra: value }, { requiredKeys: [] });
  /** `readings` last, as a gateway writes it (a head with no key gives `{,` — not JSON). */
  const laidOut = fc
    .tuple(head, fc.array(item, { maxLength: 6 }))
    .map(([h, items]) => `${JSON.stringify(h).slice(0, -1)},"readings":${JSON.stringify(items)}}`);
  const text = fc.oneof(
    { arbitrary: laidOut, weight: 4 },
    fc
      .tuple(head, fc.array(item, { maxLength: 6 }))
      .map(([h, items]) => JSON.stringify({ ...h, readings: items }, null, 1)),
    // readings twice: the last one is the batch's
    fc
      .tuple(laidOut, fc.array(item, { maxLength: 3 }))
      .map(([t, first]) => `{"readings":${JSON.stringify(first)},${t.slice(1)}`),
    fc.tuple(laidOut, tricky).map(([t, junk]) => t.replace('},{"v":', junk)),
  );

  it('gives exactly what JSON.parse of the whole text gives, or null', () => {
    let split = 0;
    fc.assert(
      fc.property(text, (t) => {
        const b = Buffer.from(t, 'utf8');
        const texts: string[] = [];
        const pieces = splitBatch(b, texts);
        if (pieces === null) return;
        split++;
        const whole = JSON.parse(b.toString('utf8'));
        expect(pieces).toStrictEqual(whole);
        // Each reading's text as received, which the store keeps as its body.
        expect(texts.map((x) => JSON.parse(x))).toStrictEqual(whole.readings);
      }),
      { numRuns: 3000, seed: 11 },
    );
    expect(split).toBeGreaterThan(300);
  });

  it('takes a gateway body in pieces, and leaves anything else to the whole-text parse', () => {
    const r = { ...reading, ts: '2026-06-01T08:00:00.000Z', receivedAt: '2026-06-01T08:00:01.000Z' };
    const body = Buffer.from(JSON.stringify({ ...batch, readings: [r, { ...r, unitId: 'EXC-2' }, r] }));
    expect(splitBatch(body)).toEqual({ ...batch, readings: [r, { ...r, unitId: 'EXC-2' }, r] });
    expect(splitBatch(Buffer.from(JSON.stringify({ ...batch, readings: [] })))).toBeNull();
    expect(splitBatch(Buffer.from(`${JSON.stringify(batch)} `))).toBeNull();
    expect(
      splitBatch(Buffer.from(JSON.stringify({ ...batch, readings: [r] }).replace('"v":1', '"v" :1'))),
    ).toEqual({
      ...batch,
      readings: [r],
    });
    expect(splitBatch(Buffer.from('{"readings":[{"v":1},{"v":1}'))).toBeNull();
    // A gateway's body: each reading's text comes with it, byte for byte as sent.
    const parsed = parseBatch(body);
    expect(parsed.texts).toEqual([r, { ...r, unitId: 'EXC-2' }, r].map((x) => JSON.stringify(x)));
    // A body the pieces cannot take (pretty-printed) is parsed whole, with no texts.
    expect(
      parseBatch(Buffer.from(JSON.stringify({ ...batch, readings: [r] }, null, 1))).texts,
    ).toBeUndefined();
  });
});
