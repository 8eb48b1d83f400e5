import { readingToAemp } from '@ironledger/contracts';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeMessage } from './index.js';

const now = Date.parse('2026-11-23T08:20:00.000Z');
const good = {
  v: 1,
  unitId: 'EXC-0042',
  seq: 1,
  ts: '2026-11-23T08:15:00Z',
  engineHours: 4521.35,
  idleHours: 1203.1,
};
const topic = (u: string, k = 'telemetry') => `ironledger/v1/units/${u}/${k}`;
const buf = (o: unknown) => Buffer.from(JSON.stringify(o));

describe('decoders', () => {
  it('canonical JSON → forwarded reading with receive time and source', () => {
    const r = decodeMessage(topic('EXC-0042'), buf(good), now);
    expect(r).toEqual({
      ok: true,
      reading: {
        ...good,
        ts: '2026-11-23T08:15:00.000Z',
        receivedAt: '2026-11-23T08:20:00.000Z',
        source: 'telemetry',
      },
    });
  });

  it('AEMP 2.0 snapshot → the same canonical reading', () => {
    const aemp = readingToAemp({ ...good, ts: '2026-11-23T08:15:00.000Z' });
    const r = decodeMessage(topic('EXC-0042', 'aemp'), buf(aemp), now);
    expect(r.ok && r.reading).toMatchObject({
      unitId: 'EXC-0042',
      engineHours: 4521.35,
      idleHours: 1203.1,
      source: 'aemp',
    });
  });

  it('flags an impossible clock, keeps the reading', () => {
    const r = decodeMessage(topic('EXC-0042'), buf({ ...good, ts: '1970-01-01T00:00:00Z' }), now);
    expect(r.ok && r.reading.flags).toEqual(['clock_invalid']);
    const ahead = decodeMessage(topic('EXC-0042'), buf({ ...good, ts: '2026-11-23T09:00:00Z' }), now);
    expect(ahead.ok && ahead.reading.flags).toEqual(['clock_invalid']);
  });

  it('quarantines with a reason: bad JSON, schema, unit mismatch, wrong topic, oversize', () => {
    const reason = (t: string, p: Buffer) => {
      const r = decodeMessage(t, p, now);
      return r.ok ? 'ok' : r.reason;
    };
    expect(reason(topic('EXC-0042'), Buffer.from('{nope'))).toMatch(/^json:/);
    expect(reason(topic('EXC-0042'), buf({ ...good, engineHours: -1 }))).toMatch(/^schema: engineHours/);
    expect(reason(topic('EXC-0043'), buf(good))).toMatch(/^unit_mismatch/);
    expect(reason('other/topic', buf(good))).toMatch(/^topic:/);
    expect(reason(topic('EXC-0042'), Buffer.alloc(70_000, 32))).toMatch(/^payload_too_large/);
    expect(reason(topic('EXC-0042', 'aemp'), buf({ Version: '2' }))).toMatch(/^aemp:/);
  });

  it('never throws, whatever the bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.string(), (bytes, t) => {
        const r = decodeMessage(t, Buffer.from(bytes), now);
        return typeof r.ok === 'boolean';
      }),
    );
  });
});
