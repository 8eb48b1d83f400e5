/**
 * What the forwarder does after one attempt to send a batch (Contract 2). Pure: status,
 * headers and attempt number in, decision out; randomness and the clock are passed in.
 *
 *  2xx                         done: the readings leave the outbox
 *  413                         split the batch in two and send the halves (park a single reading)
 *  429, 503 with Retry-After   wait what the cloud asked (clamped), then the same batch again
 *  408, 425, 429, 5xx, network exponential back-off with full jitter, capped; same batchId
 *  401, 403, 404, 405          retry with back-off and raise an error: the gateway's token or
 *                              URL is wrong, which a person fixes; parking every batch until
 *                              then would only move the whole backlog aside
 *  other 4xx                   split in halves until the refused reading is alone, and park only
 *                              it: one bad reading (or unit) never parks other units' readings;
 *                              kept, reported, replayable
 */

export interface BackoffPolicy {
  baseMs: number;
  capMs: number;
  maxRetryAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = {
  baseMs: 500, // 0.5 s
  capMs: 5 * 60 * 1000, // 5 min
  maxRetryAfterMs: 60 * 60 * 1000, // 1 h
};

/** Statuses a later attempt of the same request may turn into a 2xx. */
export const RETRYABLE_STATUS = new Set([408, 425, 429, 500, 502, 503, 504]);
/** Statuses that mean the gateway is misconfigured, not the batch. */
export const CONFIG_STATUS = new Set([401, 403, 404, 405]);

export type Attempt =
  | { status: number; retryAfter?: string | null | undefined; readings: number }
  | { error: string; readings: number };

export type Decision =
  | { action: 'done' }
  | { action: 'retry'; delayMs: number; reason: string; honouredRetryAfter: boolean }
  /** `shrink`: the batch was too large (413), so later batches are made smaller too. */
  | { action: 'split'; reason: string; shrink: boolean }
  | { action: 'park'; reason: string }
  | { action: 'auth'; delayMs: number; reason: string };

/** Full jitter (AWS architecture blog, "Exponential Backoff And Jitter"): U(0, min(cap, base·2^n)). */
export function backoffDelayMs(attempt: number, policy: BackoffPolicy, random: () => number): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

/** Retry-After as delta-seconds or HTTP-date (RFC 9110 §10.2.3); null when absent or unreadable. */
export function parseRetryAfterMs(value: string | null | undefined, nowMs: number): number | null {
  if (value === null || value === undefined) return null;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - nowMs);
}

export function decide(
  attempt: Attempt,
  n: number,
  policy: BackoffPolicy,
  random: () => number,
  nowMs: number,
): Decision {
  const jittered = () => backoffDelayMs(n, policy, random);
  if ('error' in attempt) {
    return { action: 'retry', delayMs: jittered(), reason: attempt.error, honouredRetryAfter: false };
  }
  const { status } = attempt;
  if (status >= 200 && status < 300) return { action: 'done' };
  if (status === 413) {
    return attempt.readings > 1
      ? { action: 'split', reason: '413 batch too large', shrink: true }
      : { action: 'park', reason: '413 for a single reading' };
  }
  if (RETRYABLE_STATUS.has(status) || status >= 500) {
    const asked = parseRetryAfterMs(attempt.retryAfter, nowMs);
    if (asked !== null) {
      return {
        action: 'retry',
        delayMs: Math.min(asked, policy.maxRetryAfterMs),
        reason: `${status}`,
        honouredRetryAfter: true,
      };
    }
    return { action: 'retry', delayMs: jittered(), reason: `${status}`, honouredRetryAfter: false };
  }
  if (CONFIG_STATUS.has(status)) return { action: 'auth', delayMs: jittered(), reason: `${status}` };
  return attempt.readings > 1
    ? { action: 'split', reason: `${status}: isolating the refused reading`, shrink: false }
    : { action: 'park', reason: `${status}` };
}
