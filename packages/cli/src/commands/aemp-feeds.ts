/** The AEMP feeds part of `ironledger status`: one line per feed the cloud polls. */
import { type AempFeedStatus, AempFeedsResponseSchema } from '@ironledger/contracts';
import type { Palette } from '../format/colour.js';
import { formatAgo, formatInstant } from '../format/time.js';

interface Api {
  get(path: string, schema: typeof AempFeedsResponseSchema): Promise<{ data: { feeds: AempFeedStatus[] } }>;
}

/** The cloud's feeds; none from a cloud that predates them (404) or serves none. */
export async function fetchFeeds(api: Api): Promise<AempFeedStatus[]> {
  try {
    return (await api.get('/v1/aemp/feeds', AempFeedsResponseSchema)).data.feeds;
  } catch {
    return [];
  }
}

/** `feed-cat  iso  polled 2m ago ok  next in 13m  quota 48  errors 0  up to 2026-11-02 17:55:00Z  unmatched 1` */
export function feedLines(feeds: AempFeedStatus[], now: Date, c: Palette): string[] {
  if (feeds.length === 0) return [];
  const out = [c.bold(`AEMP FEEDS (${feeds.length})`)];
  for (const f of feeds) {
    const outcome = f.lastPollOutcome ?? 'not yet';
    const state =
      f.lastPollOutcome === 'failed'
        ? c.red(outcome)
        : f.lastPollOutcome === 'ok'
          ? c.green(outcome)
          : c.yellow(outcome);
    const errors =
      f.errors > 0
        ? c.red(`errors ${f.errors}${f.lastError ? ` (${f.lastError.code}: ${f.lastError.message})` : ''}`)
        : 'errors 0';
    out.push(
      `  ${f.feedId}  ${f.dialect}  polled ${formatAgo(f.lastPollAt, now)} ${state}  next ${formatAgo(f.nextPollAt, now)}  quota ${f.quotaLeft ?? '-'}  ${errors}  up to ${formatInstant(f.cursorTs)}  unmatched ${f.unmatched.length}${f.state === 'rate_limited' ? c.yellow('  waiting for quota') : ''}`,
    );
  }
  out.push('');
  return out;
}
