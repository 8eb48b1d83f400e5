/**
 * Authentication failures per source address: slowed and logged in aggregate.
 *
 * - Slowing: the first `freeFailures` failures of a source within `windowMs` are answered at
 *   once; each further one waits twice as long as the one before (`baseDelayMs`, capped at
 *   `maxDelayMs`), so guessing tokens from one address costs time, while a person with a
 *   mistyped token is not slowed at all.
 * - Logging: one `auth.failures` line per source per `summaryIntervalMs` with counts by kind,
 *   at most `maxLinesPerInterval` lines (the rest summed in one more line): a flood of bad
 *   requests writes a bounded number of log lines, never one per request.
 * - Memory: at most `maxSources` sources are tracked; beyond that, new sources share one
 *   bucket (`other`), which is slowed like a single source.
 * Counted in `ironledger_cloud_auth_failures_total{kind}` and `..._auth_delayed_total`.
 */
import type { Logger } from '@ironledger/logger';
import client from 'prom-client';

export interface AuthFailureOptions {
  freeFailures: number;
  baseDelayMs: number;
  maxDelayMs: number;
  windowMs: number;
  summaryIntervalMs: number;
  maxLinesPerInterval: number;
  maxSources: number;
}

export const AUTH_FAILURE_DEFAULTS: AuthFailureOptions = {
  freeFailures: 5,
  baseDelayMs: 250, // 0.25 s
  maxDelayMs: 10_000, // 10 s
  windowMs: 60_000, // 1 min
  summaryIntervalMs: 10_000, // 10 s
  maxLinesPerInterval: 20,
  maxSources: 10_000,
};

interface SourceState {
  failures: number;
  windowStartMs: number;
  counts: Map<string, number>;
  sample: Record<string, unknown> | undefined;
}

export class AuthFailures {
  private readonly sources = new Map<string, SourceState>();
  private readonly opts: AuthFailureOptions;
  private readonly timer: NodeJS.Timeout;
  readonly failuresTotal: client.Counter<'kind'>;
  readonly delayedTotal: client.Counter;

  constructor(
    private readonly log: Logger,
    registry: client.Registry,
    opts: Partial<AuthFailureOptions> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.opts = { ...AUTH_FAILURE_DEFAULTS, ...opts };
    this.failuresTotal = new client.Counter({
      name: 'ironledger_cloud_auth_failures_total',
      help: 'Requests refused for a missing, unknown or insufficient token, by kind (code)',
      labelNames: ['kind'],
      registers: [registry],
    });
    this.delayedTotal = new client.Counter({
      name: 'ironledger_cloud_auth_delayed_total',
      help: 'Authentication failures whose answer was delayed (repeated failures from one source)',
      registers: [registry],
    });
    this.timer = setInterval(() => this.flush(), this.opts.summaryIntervalMs);
    this.timer.unref();
  }

  /** Records one failure; returns how long its answer should wait (ms). */
  fail(source: string, kind: string, sample?: Record<string, unknown>): number {
    this.failuresTotal.inc({ kind });
    const now = this.now();
    let s = this.sources.get(source);
    if (!s) {
      const key = this.sources.size >= this.opts.maxSources ? 'other' : source;
      s = this.sources.get(key);
      if (!s) {
        s = { failures: 0, windowStartMs: now, counts: new Map(), sample };
        this.sources.set(key, s);
      }
    }
    if (now - s.windowStartMs > this.opts.windowMs) {
      s.failures = 0;
      s.windowStartMs = now;
    }
    s.failures++;
    s.counts.set(kind, (s.counts.get(kind) ?? 0) + 1);
    s.sample ??= sample;
    const over = s.failures - this.opts.freeFailures;
    if (over <= 0) return 0;
    this.delayedTotal.inc();
    return Math.min(this.opts.maxDelayMs, this.opts.baseDelayMs * 2 ** Math.min(over - 1, 20));
  }

  /** Writes the summary lines of the interval and forgets quiet sources. */
  flush(): void {
    let lines = 0;
    let restSources = 0;
    let restFailures = 0;
    const now = this.now();
    for (const [source, s] of this.sources) {
      const total = [...s.counts.values()].reduce((a, b) => a + b, 0);
      if (total > 0) {
        if (lines < this.opts.maxLinesPerInterval) {
          lines++;
          this.log.warn(
            {
              event: 'auth.failures',
              source,
              failures: total,
              byKind: Object.fromEntries(s.counts),
              sample: s.sample,
              intervalMs: this.opts.summaryIntervalMs,
            },
            'authentication failures from one source in the last interval',
          );
        } else {
          restSources++;
          restFailures += total;
        }
      }
      s.counts.clear();
      s.sample = undefined;
      if (now - s.windowStartMs > this.opts.windowMs) this.sources.delete(source);
    }
    if (restSources > 0)
      this.log.warn(
        { event: 'auth.failures', source: '(more sources)', sources: restSources, failures: restFailures },
        'authentication failures from further sources in the last interval',
      );
  }

  close(): void {
    clearInterval(this.timer);
    this.flush();
  }
}
