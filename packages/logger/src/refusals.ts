/**
 * Refusals per source address (bad credentials, foreign client ids, ACL denials, garbage),
 * logged in aggregate, with repeated authentication failures slowed. The cloud's HTTP server
 * and the edge's MQTT broker both use it, each with its own event names and metrics.
 *
 * - Logging: one summary line per source per `summaryIntervalMs` with counts by kind and one
 *   sample; at most `maxLinesPerInterval` lines, the rest summed in one more. A flood of bad
 *   requests writes a bounded number of lines, never one per refusal. With `logFirstAtOnce`,
 *   the first refusal of each kind from a quiet source is logged at once (so one mistake is
 *   visible without waiting for the interval) and only the further ones are summarised.
 * - Slowing: a source's first `freeFailures` slowing refusals within `windowMs` are answered
 *   at once; each further one waits twice as long as the one before (`baseDelayMs` …
 *   `maxDelayMs`). A unit with a wrong secret retrying every second is not slowed; a guesser
 *   is.
 * - Memory: at most `maxSources` sources; beyond that new ones share the bucket `other`, which
 *   is slowed like a single source. A source quiet for a whole window is forgotten.
 */
import type { Logger } from './index.js';

export interface RefusalLimits {
  freeFailures: number;
  baseDelayMs: number;
  maxDelayMs: number;
  windowMs: number;
  summaryIntervalMs: number;
  maxLinesPerInterval: number;
  maxSources: number;
}

export const REFUSAL_LIMIT_DEFAULTS: RefusalLimits = {
  freeFailures: 5,
  baseDelayMs: 250, // 0.25 s
  maxDelayMs: 10_000, // 10 s
  windowMs: 60_000, // 1 min
  summaryIntervalMs: 10_000, // 10 s
  maxLinesPerInterval: 20,
  maxSources: 10_000,
};

export interface RefusalLogOptions<K extends string> {
  /** `event` of the summary lines, e.g. `mqtt.denials`. */
  event: string;
  /** Field holding a source's count in a summary line, e.g. `refusals`. */
  countField: string;
  /** Message of a summary line about one source, and of the line summing the rest. */
  message: string;
  restMessage: string;
  /** Kinds that count towards slowing a source down. */
  slows(kind: K): boolean;
  /** Event of the line logged at once for a source's first refusal of a kind; none: summaries only. */
  firstAtOnceEvent?: (kind: K) => string;
  /** Called for every slowed answer (for a counter). */
  onDelayed?: () => void;
  limits?: Partial<RefusalLimits>;
  now?: () => number;
}

interface SourceState<K> {
  failures: number;
  windowStartMs: number;
  counts: Map<K, number>;
  sample: Record<string, unknown> | undefined;
  /** Kinds whose first refusal was logged at once; cleared when the source goes quiet. */
  loggedKinds: Set<K>;
}

export class RefusalLog<K extends string> {
  private readonly sources = new Map<string, SourceState<K>>();
  private readonly limits: RefusalLimits;
  private readonly now: () => number;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly log: Logger,
    private readonly opts: RefusalLogOptions<K>,
  ) {
    this.limits = { ...REFUSAL_LIMIT_DEFAULTS, ...opts.limits };
    this.now = opts.now ?? Date.now;
    this.timer = setInterval(() => this.flush(), this.limits.summaryIntervalMs);
    this.timer.unref();
  }

  /** Records one refusal from `source`; returns how long its answer should wait (ms). */
  record(source: string, kind: K, sample: Record<string, unknown> = {}): number {
    const now = this.now();
    let key = source;
    let s = this.sources.get(source);
    if (!s) {
      key = this.sources.size >= this.limits.maxSources ? 'other' : source;
      s = this.sources.get(key);
      if (!s) {
        s = { failures: 0, windowStartMs: now, counts: new Map(), sample: undefined, loggedKinds: new Set() };
        this.sources.set(key, s);
      }
    }
    if (now - s.windowStartMs > this.limits.windowMs) {
      s.failures = 0;
      s.windowStartMs = now;
    }
    if (this.opts.firstAtOnceEvent && !s.loggedKinds.has(kind)) {
      s.loggedKinds.add(kind);
      this.log.warn({ event: this.opts.firstAtOnceEvent(kind), source: key, ...sample }, `refused: ${kind}`);
    } else {
      s.counts.set(kind, (s.counts.get(kind) ?? 0) + 1);
      s.sample ??= { kind, ...sample };
    }
    if (!this.opts.slows(kind)) return 0;
    s.failures++;
    const over = s.failures - this.limits.freeFailures;
    if (over <= 0) return 0;
    this.opts.onDelayed?.();
    return Math.min(this.limits.maxDelayMs, this.limits.baseDelayMs * 2 ** Math.min(over - 1, 20));
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
        if (lines < this.limits.maxLinesPerInterval) {
          lines++;
          this.log.warn(
            {
              event: this.opts.event,
              source,
              [this.opts.countField]: total,
              byKind: Object.fromEntries(s.counts),
              sample: s.sample,
              intervalMs: this.limits.summaryIntervalMs,
            },
            this.opts.message,
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
      if (total === 0 && now - s.windowStartMs > this.limits.windowMs) this.sources.delete(source);
    }
    if (restSources > 0)
      this.log.warn(
        {
          event: this.opts.event,
          source: '(more sources)',
          sources: restSources,
          [this.opts.countField]: rest,
        },
        this.opts.restMessage,
      );
  }

  /** Sources tracked now (bounded by `maxSources` + 1). */
  get trackedSources(): number {
    return this.sources.size;
  }

  close(): void {
    clearInterval(this.timer);
    this.flush();
  }
}
