/**
 * When and how long to wait before retrying an Odoo call. Pure: the caller supplies the
 * random source, so tests are exact.
 *
 * - Only ODOO_TRANSIENT errors are retried.
 * - A call that may change data (create, write, unlink, action_post…) is retried only when
 *   the request surely did not reach Odoo (connection refused, DNS failure, connect
 *   timeout) or Odoo turned it away before doing anything (429, 503). After a timeout or a
 *   dropped connection the create may have been committed; the poster resolves that by
 *   looking the record up by `ref` before creating again (DESIGN.md, invariant 4).
 * - Delay: exponential back-off `baseMs × 2^attempt`, capped at `maxMs`, with "equal
 *   jitter" (between half and all of it); a server's Retry-After wins when it is longer,
 *   capped at `maxRetryAfterMs`.
 */
import type { IronLedgerError } from '@ironledger/errors';

export interface RetryPolicy {
  retries: number; // attempts after the first
  baseMs: number;
  maxMs: number;
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  retries: 4,
  baseMs: 250, // 0.25 s
  maxMs: 10 * 1000, // 10 s
  maxRetryAfterMs: 60 * 1000, // 60 s
};

/** Statuses where Odoo (or its proxy) refused the request before running it. */
const REFUSED_STATUSES = new Set([429, 503]);

export function isRetryable(err: IronLedgerError, mutating: boolean): boolean {
  if (err.code !== 'ODOO_TRANSIENT') return false;
  if (!mutating) return true;
  const d = err.details ?? {};
  if (d.notSent === true) return true;
  return typeof d.status === 'number' && REFUSED_STATUSES.has(d.status);
}

/** Delay before retry number `attempt` (0-based), or null when no retry should happen. */
export function retryDelayMs(
  err: IronLedgerError,
  attempt: number,
  mutating: boolean,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number | null {
  if (attempt >= policy.retries || !isRetryable(err, mutating)) return null;
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** attempt);
  const jittered = exp / 2 + (random() * exp) / 2;
  const retryAfter = err.details?.retryAfterMs;
  if (typeof retryAfter === 'number' && retryAfter > jittered)
    return Math.min(retryAfter, policy.maxRetryAfterMs);
  return Math.round(jittered);
}

/** Retry-After (delta-seconds or an HTTP date) → ms, or undefined. */
export function parseRetryAfter(
  value: string | string[] | undefined,
  now: number = Date.now(),
): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '') return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}
