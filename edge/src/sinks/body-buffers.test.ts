import { afterEach, describe, expect, it, vi } from 'vitest';
import { BodyBuffers } from './body-buffers.js';

const reading = (i: number, unitId = `EXC-${i % 7}`) => ({
  v: 1,
  unitId,
  ts: new Date(Date.UTC(2026, 10, 3, 8, 0, i)).toISOString(),
  engineHours: 1234.5 + i / 360,
  position: { lat: 47.3769, lon: 8.5417 },
});

function pieces(rs: unknown[]) {
  return {
    head: '{"gatewayId":"gw-1","batchId":"b:u0-3","readings":[',
    items: rs.map((r) => JSON.stringify(r)),
    tail: ']}',
  };
}

describe('BodyBuffers', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('writes exactly the UTF-8 of the whole JSON text, whatever the characters', () => {
    const pool = new BodyBuffers(4);
    const rs = [reading(1), reading(2, 'Bagger-Zürich'), reading(3, '掘削機-😀'), reading(4)];
    const body = pool.write(pieces(rs));
    const whole = `{"gatewayId":"gw-1","batchId":"b:u0-3","readings":${JSON.stringify(rs)}}`;
    expect(body.equals(Buffer.from(whole, 'utf8'))).toBe(true);
    expect(JSON.parse(body.toString('utf8')).readings).toEqual(rs);
  });

  it('grows a kept buffer that is too small and reuses a released one', () => {
    const pool = new BodyBuffers(4);
    const small = pool.write(pieces([reading(1)]));
    pool.release(small);
    const many = Array.from({ length: 2000 }, (_, i) => reading(i, i % 3 === 0 ? 'Kran-Ü' : `EXC-${i}`));
    const big = pool.write(pieces(many));
    expect(JSON.parse(big.toString('utf8')).readings).toEqual(many);
    pool.release(big);
    const again = pool.write(pieces(many.slice(0, 10)));
    expect(again.buffer).toBe(big.buffer);
    expect(JSON.parse(again.toString('utf8')).readings).toEqual(many.slice(0, 10));
  });

  it('never hands out a buffer in use twice: bodies written before their release stay intact', () => {
    const pool = new BodyBuffers(4);
    const a = pool.write(pieces([reading(1), reading(2)]));
    const b = pool.write(pieces([reading(3)]));
    expect(b.buffer).not.toBe(a.buffer);
    pool.release(b);
    const c = pool.write(pieces([reading(4), reading(5), reading(6)]));
    expect(JSON.parse(a.toString('utf8')).readings).toEqual([reading(1), reading(2)]);
    expect(JSON.parse(c.toString('utf8')).readings).toEqual([reading(4), reading(5), reading(6)]);
  });

  it('keeps at most `keep` buffers, and none once idle', () => {
    vi.useFakeTimers();
    const pool = new BodyBuffers(1, 1000);
    const a = pool.write(pieces([reading(1)]));
    const b = pool.write(pieces([reading(2)]));
    pool.release(a);
    pool.release(b);
    const c = pool.write(pieces([reading(3)]));
    const d = pool.write(pieces([reading(4)]));
    expect([c.buffer, d.buffer].filter((x) => x === a.buffer || x === b.buffer)).toHaveLength(1);
    pool.release(c);
    vi.advanceTimersByTime(999);
    const f = pool.write(pieces([reading(5)]));
    expect(f.buffer).toBe(c.buffer);
    pool.release(f); // used at 999 ms: kept until 1999 ms
    vi.advanceTimersByTime(999);
    pool.release(pool.write(pieces([reading(6)])));
    vi.advanceTimersByTime(1000);
    expect(pool.write(pieces([reading(7)])).buffer).not.toBe(c.buffer);
  });
});
