/**
 * Fuzz: the cloud's batch parser answers any body with a batch or a 400 problem naming the
 * field — never another error (which would be a 500 with a stack trace).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HttpProblem } from '../http/problem.js';
import { parseBatch } from './parse-batch.js';

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
