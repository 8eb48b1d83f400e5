/**
 * Lifetime meter hours (Vista EM: current + replaced readings) in an allocation's evidence and
 * the unit's usage: a unit whose ECU was swapped keeps its lifetime hours.
 */
import { EvidenceResponseSchema, UsageResponseSchema } from '@ironledger/contracts';
import { removeDir } from '@ironledger/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batch, startTestCloud, type TestCloud, TOKENS } from '../../testing/harness.js';

const DAY1 = '2026-11-03';
const DAY2 = '2026-11-04';
const at = (day: string, hhmm: string) => `${day}T${hhmm}:00.000Z`;

let t: TestCloud;
beforeAll(async () => {
  t = await startTestCloud();
  // Day 1: the old meter reads 1000 → 1000.9, then the new one starts at 0.3 and reaches 2.0.
  // Day 2: the new meter goes on to 6.0.
  const b = batch([
    ['EXC-1', at(DAY1, '08:00'), 1000, 100],
    ['EXC-1', at(DAY1, '09:00'), 1000.9, 100.1],
    ['EXC-1', at(DAY1, '10:00'), 0.3, 0.03],
    ['EXC-1', at(DAY1, '12:00'), 2, 0.2],
    ['EXC-1', at(DAY2, '08:00'), 2, 0.2],
    ['EXC-1', at(DAY2, '12:00'), 6, 0.6],
    ['EXC-2', at(DAY2, '08:00'), 500, 50],
    ['EXC-2', at(DAY2, '12:00'), 503, 50.5],
  ]);
  expect((await t.postBatch(b)).status).toBe(200);
  expect((await t.api('POST', '/v1/consolidate', {}, TOKENS.approver)).status).toBe(200);
});
afterAll(async () => {
  await t.stop();
  removeDir(t.dir);
});

const evidence = async (day: string) => {
  const r = await t.api(
    'GET',
    `/v1/evidence/IL-EXC-1-P-LDN-${day.replaceAll('-', '')}-1`,
    undefined,
    TOKENS.viewer,
  );
  expect(r.status, JSON.stringify(r.json)).toBe(200);
  return EvidenceResponseSchema.parse(r.json);
};

describe('lifetime meter hours', () => {
  it("are in each allocation's evidence, as of its last reading", async () => {
    // Day 1 rests on day 2's first reading too (the overnight interval ends there).
    expect((await evidence(DAY1)).lifetime).toEqual({
      unitId: 'EXC-1',
      asOf: at(DAY2, '08:00'),
      meterHours: 2,
      replacedHours: 1000.9,
      lifetimeHours: 1002.9,
      replacements: [{ ts: at(DAY1, '10:00'), replacedMeterHours: 1000.9, newMeterHours: 0.3 }],
    });
    expect((await evidence(DAY2)).lifetime).toMatchObject({ meterHours: 6, lifetimeHours: 1006.9 });
  });

  it("are in the unit's usage, as of its latest reading; a unit never reset is its meter", async () => {
    const r = await t.api('GET', `/v1/usage?from=${DAY1}&to=${DAY2}`, undefined, TOKENS.viewer);
    expect(r.status).toBe(200);
    const usage = UsageResponseSchema.parse(r.json);
    expect(usage.lifetime).toEqual([
      expect.objectContaining({ unitId: 'EXC-1', asOf: at(DAY2, '12:00'), lifetimeHours: 1006.9 }),
      expect.objectContaining({ unitId: 'EXC-2', meterHours: 503, replacedHours: 0, lifetimeHours: 503 }),
    ]);
  });
});
