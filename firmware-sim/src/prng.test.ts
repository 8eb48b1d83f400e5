import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Prng } from './prng.js';

describe('Prng', () => {
  it('gives the same stream for the same (seed, label) and a different one otherwise', () => {
    const a = new Prng(1, 'x');
    const b = new Prng('1', 'x');
    const c = new Prng(1, 'y');
    const sa = Array.from({ length: 8 }, () => a.nextU32());
    expect(Array.from({ length: 8 }, () => b.nextU32())).toEqual(sa);
    expect(Array.from({ length: 8 }, () => c.nextU32())).not.toEqual(sa);
  });

  it('pins the first outputs, so a change of generator cannot slip through unnoticed', () => {
    const p = new Prng(1, 'pin');
    expect([p.nextU32(), p.nextU32(), p.nextU32()]).toEqual([3528142824, 1833143785, 933055191]);
  });

  it('keeps int() within bounds, inclusive', () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.integer({ min: -1000, max: 1000 }),
        fc.integer({ min: 0, max: 1000 }),
        (seed, lo, span) => {
          const p = new Prng(seed);
          for (let i = 0; i < 20; i++) {
            const v = p.int(lo, lo + span);
            if (v < lo || v > lo + span || !Number.isInteger(v)) return false;
          }
          return true;
        },
      ),
    );
  });

  it('is roughly uniform', () => {
    const p = new Prng('uniform');
    const buckets = new Array(10).fill(0) as number[];
    for (let i = 0; i < 100_000; i++) buckets[Math.floor(p.next() * 10)]!++;
    for (const b of buckets) expect(Math.abs(b - 10_000)).toBeLessThan(500);
  });

  it('forks independent streams', () => {
    const p = new Prng(5, 'root');
    const f1 = p.fork('a');
    p.next();
    const f2 = new Prng(5, 'root').fork('a');
    expect(f1.nextU32()).toBe(f2.nextU32());
  });
});
