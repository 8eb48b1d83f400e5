import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type BackoffPolicy, backoffDelayMs, decide, parseRetryAfterMs } from './retry-policy.js';

const policy: BackoffPolicy = { baseMs: 100, capMs: 10_000, maxRetryAfterMs: 60_000 };
const now = Date.parse('2026-11-23T08:00:00.000Z');

describe('retry policy', () => {
  it('full jitter stays within [0, min(cap, base·2^n))', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 100 }),
        fc.double({ min: 0, max: 0.999999, noNaN: true }),
        (n, r) => {
          const d = backoffDelayMs(n, policy, () => r);
          return d >= 0 && d < Math.min(policy.capMs, policy.baseMs * 2 ** n) + 1 && d <= policy.capMs;
        },
      ),
    );
    expect(backoffDelayMs(3, policy, () => 0.5)).toBe(400);
    expect(backoffDelayMs(40, policy, () => 0.999)).toBe(9990);
  });

  it('2xx is done; 413 splits (parks a single reading)', () => {
    expect(decide({ status: 200, readings: 10 }, 0, policy, Math.random, now)).toEqual({ action: 'done' });
    expect(decide({ status: 413, readings: 10 }, 0, policy, Math.random, now).action).toBe('split');
    expect(decide({ status: 413, readings: 1 }, 0, policy, Math.random, now).action).toBe('park');
  });

  it('honours Retry-After (seconds or HTTP-date) on 429/503, clamped', () => {
    expect(decide({ status: 503, retryAfter: '7', readings: 5 }, 0, policy, () => 0, now)).toMatchObject({
      action: 'retry',
      delayMs: 7000,
      honouredRetryAfter: true,
    });
    const date = new Date(now + 12_000).toUTCString();
    expect(decide({ status: 429, retryAfter: date, readings: 5 }, 0, policy, () => 0, now)).toMatchObject({
      delayMs: 12_000,
    });
    expect(decide({ status: 429, retryAfter: '99999', readings: 5 }, 0, policy, () => 0, now)).toMatchObject({
      delayMs: 60_000,
    });
    expect(parseRetryAfterMs('soon', now)).toBeNull();
  });

  it('5xx and network errors back off; 401/403/404 retry as configuration errors; other 4xx isolate, then park', () => {
    expect(decide({ status: 502, readings: 5 }, 2, policy, () => 0.5, now)).toMatchObject({
      action: 'retry',
      delayMs: 200,
    });
    expect(decide({ error: 'ECONNREFUSED: connect', readings: 5 }, 0, policy, () => 0.5, now).action).toBe(
      'retry',
    );
    for (const s of [401, 403, 404])
      expect(decide({ status: s, readings: 5 }, 0, policy, () => 0.5, now).action).toBe('auth');
    for (const s of [400, 409, 422]) {
      // Halved until the refused reading is alone, without shrinking later batches…
      expect(decide({ status: s, readings: 5 }, 0, policy, () => 0.5, now)).toMatchObject({
        action: 'split',
        shrink: false,
      });
      // …and only that reading is parked.
      expect(decide({ status: s, readings: 1 }, 0, policy, () => 0.5, now).action).toBe('park');
    }
  });
});
