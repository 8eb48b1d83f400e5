/**
 * Seeded pseudo-random numbers. Every random choice the simulator makes comes from a stream
 * derived from (seed, label), so the same seed and options give the same world, timelines,
 * faults and messages, and adding a unit or switching on a fault does not disturb the
 * streams of other units or other faults.
 *
 * Generator: sfc32 (Small Fast Counting, 128-bit state), seeded through cyrb128. Both are
 * plain 32-bit integer arithmetic, identical on every platform and Node version.
 */

/** cyrb128: a 128-bit hash of a string, as four 32-bit words. */
export function cyrb128(str: string): [number, number, number, number] {
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (let i = 0; i < str.length; i++) {
    const k = str.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}

export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** A stream for `label` under `seed`; equal (seed, label) give equal streams. */
  constructor(
    readonly seed: string | number,
    readonly label = '',
  ) {
    [this.a, this.b, this.c, this.d] = cyrb128(`${seed}\u0000${label}`);
    // Discard the first outputs: sfc32 mixes its state over the first few rounds.
    for (let i = 0; i < 12; i++) this.nextU32();
  }

  /** An independent stream for a sub-purpose (`fork('faults')`). */
  fork(label: string): Prng {
    return new Prng(this.seed, `${this.label}/${label}`);
  }

  nextU32(): number {
    this.a >>>= 0;
    this.b >>>= 0;
    this.c >>>= 0;
    this.d >>>= 0;
    let t = (this.a + this.b) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.d = (this.d + 1) | 0;
    t = (t + this.d) | 0;
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform in [min, max). */
  range(min: number, max: number): number {
    return min + (max - min) * this.next();
  }

  /** Uniform integer in [min, max] (both inclusive). */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return p > 0 && this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** Fisher–Yates shuffle of a copy. */
  shuffle<T>(items: readonly T[]): T[] {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [out[i], out[j]] = [out[j] as T, out[i] as T];
    }
    return out;
  }

  /** Lowercase hex string of `bytes` random bytes (deterministic secrets). */
  hex(bytes: number): string {
    let s = '';
    for (let i = 0; i < bytes; i++) s += (this.nextU32() & 0xff).toString(16).padStart(2, '0');
    return s;
  }
}
