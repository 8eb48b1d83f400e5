/**
 * Fuzz: whatever a unit sends, the decoders return a reading or a quarantine reason — they
 * never throw, and what they accept is a valid Contract 2 element. Random bytes, random JSON,
 * and valid readings with one field mutated, on canonical and AEMP topics.
 */
import { ForwardedReadingSchema } from '@ironledger/contracts';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeMessage } from './index.js';

const now = Date.parse('2026-11-23T08:20:00.000Z');
const topicArb = fc.oneof(
  fc.constantFrom(
    'ironledger/v1/units/EXC-1/telemetry',
    'ironledger/v1/units/EXC-1/aemp',
    'ironledger/v1/units/EXC-1/status',
    'ironledger/v1/units//telemetry',
    'ironledger/v1/units/EXC-1/telemetry/extra',
    '$SYS/x',
    '',
  ),
  fc.string({ maxLength: 80 }),
  fc.string({ maxLength: 20 }).map((u) => `ironledger/v1/units/${u}/telemetry`),
);
const valid = {
  v: 1,
  unitId: 'EXC-1',
  seq: 7,
  ts: '2026-11-23T08:15:00.000Z',
  engineHours: 4521.35,
  idleHours: 1203.1,
  engineOn: true,
  position: { lat: 51.5, lon: -0.12 },
};
const mutated = fc
  .tuple(fc.constantFrom(...Object.keys(valid), '__proto__', 'constructor', 'extra'), fc.anything())
  .map(([k, v]) => JSON.stringify({ ...valid, [k]: v }));
const payloadArb = fc.oneof(
  fc.uint8Array({ maxLength: 2048 }).map((a) => Buffer.from(a)),
  fc.json({ maxDepth: 4 }).map((s) => Buffer.from(s)),
  mutated.map((s) => Buffer.from(s)),
  fc.string({ maxLength: 300 }).map((s) => Buffer.from(s)),
  fc.integer({ min: 60 * 1024, max: 200 * 1024 }).map((n) => Buffer.alloc(n, 0x7b)),
);

describe('decoders under fuzz', () => {
  it('never throw; an accepted message is a valid forwarded reading for the topic’s unit', () => {
    fc.assert(
      fc.property(topicArb, payloadArb, (topic, payload) => {
        const r = decodeMessage(topic, payload, now);
        if (r.ok) {
          expect(ForwardedReadingSchema.safeParse(r.reading).success).toBe(true);
          expect(topic).toContain(`/units/${r.reading.unitId}/`);
        } else {
          expect(typeof r.reason).toBe('string');
          expect(r.reason.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 1500, seed: 13 },
    );
  });
});
