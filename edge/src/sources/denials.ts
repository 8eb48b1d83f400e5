/**
 * Refusals on the MQTT side (bad credentials, a foreign client id, ACL denials, quarantined
 * messages), per source address: logged in aggregate, and authentication failures slowed.
 *
 * - Logging: one `mqtt.denials` line per source per `summaryIntervalMs` with counts by kind and
 *   one sample; at most `maxLinesPerInterval` lines, the rest summed in one more. A SUBSCRIBE
 *   naming 10 000 topics, or a flood of garbage, writes a bounded number of lines, never one
 *   per refusal. The first refusal of each kind from a quiet source is logged at once, so a
 *   single mistake is visible without waiting for the interval.
 * - Slowing: a source's first `freeFailures` authentication failures within `windowMs` are
 *   answered at once; each further one waits twice as long as the one before
 *   (`baseDelayMs` … `maxDelayMs`). A unit with a wrong secret retrying every second is not
 *   slowed; a password guesser is.
 * - Memory: at most `maxSources` sources; beyond that new ones share the bucket `other`.
 */
import type { Logger } from '@ironledger/logger';
import type { EdgeMetrics } from '../http/metrics.js';

export type DenialKind = 'auth_failed' | 'client_id_refused' | 'acl_denied' | 'quarantined' | 'too_large';

export interface DenialOptions {
  freeFailures: number;
  baseDelayMs: number;
  maxDelayMs: number;
  windowMs: number;
  summaryIntervalMs: number;
  maxLinesPerInterval: number;
  maxSources: number;
}

export const DENIAL_DEFAULTS: DenialOptions = {
  freeFailures: 5,
  baseDelayMs: 250, // 0.25 s
  maxDelayMs: 10_000, // 10 s
  windowMs: 60_000, // 1 min
  summaryIntervalMs: 10_000, // 10 s
  maxLinesPerInterval: 20,
  maxSources: 10_000,
};

interface SourceState {
  authFailures: number;
  windowStartMs: number;
  counts: Map<DenialKind, number>;
  sample: Record<string, unknown> | undefined;
  /** Kinds whose first refusal was logged at once; cleared when the source goes quiet. */
  loggedKinds: Set<DenialKind>;
}

export class Denials {
  private readonly sources = new Map<string, SourceState>();
  private readonly opts: DenialOptions;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly log: Logger,
    private readonly metrics: EdgeMetrics,
    opts: Partial<DenialOptions> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.opts = { ...DENIAL_DEFAULTS, ...opts };
    this.timer = setInterval(() => this.flush(), this.opts.summaryIntervalMs);
    this.timer.unref();
  }

  /**
   * Records one refusal from `source`; returns how long its answer should wait (ms), non-zero
   * only for repeated authentication failures.
   */
  record(source: string, kind: DenialKind, sample: Record<string, unknown>): number {
    if (kind !== 'quarantined') this.metrics.authFailures.inc({ kind });
    const now = this.now();
    let s = this.sources.get(source);
    let key = source;
    if (!s) {
      key = this.sources.size >= this.opts.maxSources ? 'other' : source;
      s = this.sources.get(key);
      if (!s) {
        s = {
          authFailures: 0,
          windowStartMs: now,
          counts: new Map(),
          sample: undefined,
          loggedKinds: new Set(),
        };
        this.sources.set(key, s);
      }
    }
    if (now - s.windowStartMs > this.opts.windowMs) {
      s.authFailures = 0;
      s.windowStartMs = now;
    }
    if (!s.loggedKinds.has(kind)) {
      s.loggedKinds.add(kind);
      this.log.warn({ event: `mqtt.${kind}`, source: key, ...sample }, `refused: ${kind}`);
    } else {
      s.counts.set(kind, (s.counts.get(kind) ?? 0) + 1);
      s.sample ??= { kind, ...sample };
    }
    if (kind !== 'auth_failed' && kind !== 'client_id_refused') return 0;
    s.authFailures++;
    const over = s.authFailures - this.opts.freeFailures;
    if (over <= 0) return 0;
    this.metrics.authDelayed.inc();
    return Math.min(this.opts.maxDelayMs, this.opts.baseDelayMs * 2 ** Math.min(over - 1, 20));
  }

  /** Writes the interval's summary lines; forgets sources quiet for a whole window. */
  flush(): void {
    let lines = 0;
    let restSources = 0;
    let rest = 0;
    const now = this.now();
    for (const [source, s] of this.sources) {
      let total = 0;
      for (const n of s.counts.values()) total += n;
      if (total > 0) {
        if (lines < this.opts.maxLinesPerInterval) {
          lines++;
          this.log.warn(
            {
              event: 'mqtt.denials',
              source,
              refusals: total,
              byKind: Object.fromEntries(s.counts),
              sample: s.sample,
              intervalMs: this.opts.summaryIntervalMs,
            },
            'refusals from one source in the last interval',
          );
        } else {
          restSources++;
          rest += total;
        }
      }
      s.counts.clear();
      s.sample = undefined;
      // A source still active keeps being summarised; a quiet one is logged at once again.
      if (total === 0) s.loggedKinds.clear();
      if (total === 0 && now - s.windowStartMs > this.opts.windowMs) this.sources.delete(source);
    }
    if (restSources > 0)
      this.log.warn(
        { event: 'mqtt.denials', source: '(more sources)', sources: restSources, refusals: rest },
        'refusals from further sources in the last interval',
      );
  }

  close(): void {
    clearInterval(this.timer);
    this.flush();
  }
}
