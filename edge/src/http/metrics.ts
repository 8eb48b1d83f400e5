/**
 * The agent's Prometheus metrics, on a registry of its own (several agents may share a
 * process in tests). Backlog gauges are read from the buffer when scraped.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export interface BacklogSource {
  queuedReadings: number;
  oldestUnsentAgeS: number | null;
  parkedBatches: number;
  quarantined: number;
  heldReadings: number;
  usedBytes: number;
  budgetBytes: number;
  diskBudgetExceeded: boolean;
  brokerClients: number;
}

export class EdgeMetrics {
  readonly registry = new Registry();
  readonly received: Counter<'source'>;
  readonly stored: Counter<'outcome'>;
  readonly duplicates: Counter;
  readonly conflicts: Counter;
  readonly quarantined: Counter<'reason'>;
  readonly refused: Counter<'reason'>;
  readonly groupCommitSize: Histogram;
  readonly groupCommitSeconds: Histogram;
  readonly forwardLatency: Histogram<'outcome'>;
  readonly batches: Counter<'outcome'>;
  readonly forwardedReadings: Counter;
  readonly heartbeats: Counter<'outcome'>;
  readonly quarantineEvicted: Counter;
  readonly authFailures: Counter<'kind'>;
  readonly authDelayed: Counter;
  readonly forwarderRestarts: Counter;
  readonly forwarderThreadRunning: Gauge;

  constructor(backlog: () => BacklogSource, opts: { defaultMetrics?: boolean } = {}) {
    const r = this.registry;
    const p = 'ironledger_edge_';
    if (opts.defaultMetrics) collectDefaultMetrics({ register: r, prefix: p });
    this.received = new Counter({
      name: `${p}messages_received_total`,
      help: 'MQTT messages received, by topic kind',
      labelNames: ['source'],
      registers: [r],
    });
    this.stored = new Counter({
      name: `${p}readings_stored_total`,
      help: 'Readings committed to the buffer (first versions and conflicting versions)',
      labelNames: ['outcome'],
      registers: [r],
    });
    this.duplicates = new Counter({
      name: `${p}readings_duplicate_total`,
      help: 'Readings whose identity and content were already stored',
      registers: [r],
    });
    this.conflicts = new Counter({
      name: `${p}readings_conflict_total`,
      help: 'Readings with a stored identity but different content (kept, flagged)',
      registers: [r],
    });
    this.quarantined = new Counter({
      name: `${p}messages_quarantined_total`,
      help: 'Messages quarantined, by reason kind',
      labelNames: ['reason'],
      registers: [r],
    });
    this.refused = new Counter({
      name: `${p}publishes_refused_total`,
      help: 'Publishes refused without PUBACK, by reason',
      labelNames: ['reason'],
      registers: [r],
    });
    this.groupCommitSize = new Histogram({
      name: `${p}group_commit_size`,
      help: 'Messages per buffer transaction',
      buckets: [1, 4, 16, 64, 256, 1024, 4096],
      registers: [r],
    });
    this.groupCommitSeconds = new Histogram({
      name: `${p}group_commit_seconds`,
      help: 'Buffer transaction time (commit included)',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
      registers: [r],
    });
    this.forwardLatency = new Histogram({
      name: `${p}forward_latency_seconds`,
      help: 'Batch request round trip to the cloud',
      labelNames: ['outcome'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [r],
    });
    this.batches = new Counter({
      name: `${p}batches_total`,
      help: 'Batch attempts by outcome (sent, retry, split, parked, auth)',
      labelNames: ['outcome'],
      registers: [r],
    });
    this.forwardedReadings = new Counter({
      name: `${p}readings_forwarded_total`,
      help: 'Readings the cloud acknowledged (2xx)',
      registers: [r],
    });
    this.heartbeats = new Counter({
      name: `${p}heartbeats_total`,
      help: 'Heartbeats by outcome',
      labelNames: ['outcome'],
      registers: [r],
    });
    this.quarantineEvicted = new Counter({
      name: `${p}quarantine_evicted_total`,
      help: 'Quarantined messages evicted, oldest first, to keep the quarantine within maxEntries',
      registers: [r],
    });
    this.authFailures = new Counter({
      name: `${p}auth_failures_total`,
      help: 'MQTT connections refused (bad credentials, foreign client id) and ACL denials, by kind',
      labelNames: ['kind'],
      registers: [r],
    });
    this.authDelayed = new Counter({
      name: `${p}auth_delayed_total`,
      help: 'Authentication failures whose answer was delayed (repeated failures from one source)',
      registers: [r],
    });
    this.forwarderRestarts = new Counter({
      name: `${p}forwarder_thread_restarts_total`,
      help: 'Times the forwarder thread stopped unexpectedly and was started again',
      registers: [r],
    });
    this.forwarderThreadRunning = new Gauge({
      name: `${p}forwarder_thread_running`,
      help: '1 while the forwarder thread runs; 0 when it has ended with nothing to send, or the forwarder runs on the main thread',
      registers: [r],
    });
    const gauge = (name: string, help: string, read: (b: BacklogSource) => number) =>
      new Gauge({
        name: `${p}${name}`,
        help,
        registers: [r],
        collect() {
          this.set(read(backlog()));
        },
      });
    gauge('queue_depth', 'Readings stored and not yet acknowledged by the cloud', (b) => b.queuedReadings);
    gauge(
      'oldest_unsent_age_seconds',
      'Age of the oldest unsent reading (0 when none)',
      (b) => b.oldestUnsentAgeS ?? 0,
    );
    gauge('parked_batches', 'Batches the cloud refused in a way retrying cannot fix', (b) => b.parkedBatches);
    gauge('quarantine_size', 'Quarantined messages not replayed', (b) => b.quarantined);
    gauge('held_readings', 'Unsent readings flagged clock_invalid', (b) => b.heldReadings);
    gauge('buffer_used_bytes', 'Live bytes in the buffer file', (b) => b.usedBytes);
    gauge('buffer_budget_bytes', 'Configured disk budget', (b) => b.budgetBytes);
    gauge('disk_budget_exceeded', '1 while new readings are refused for lack of disk budget', (b) =>
      b.diskBudgetExceeded ? 1 : 0,
    );
    gauge('broker_clients', 'Connected MQTT clients (embedded broker)', (b) => b.brokerClients);
  }
}

/** Short, bounded label for a quarantine reason (`schema: engineHours: ...` → `schema`). */
export function reasonKind(reason: string): string {
  const k = reason.split(':')[0] ?? 'other';
  return /^[a-z_]{1,32}$/.test(k) ? k : 'other';
}
