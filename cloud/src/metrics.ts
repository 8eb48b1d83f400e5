/**
 * Prometheus metrics, one registry per running cloud (in-process tests start several).
 * Names: ironledger_cloud_*; counters end in _total; durations in seconds.
 */
import client from 'prom-client';

export interface Metrics {
  registry: client.Registry;
  batches: client.Counter<'outcome'>;
  readings: client.Counter<'outcome'>;
  rejected: client.Counter<'reason'>;
  httpRequests: client.Counter<'route' | 'method' | 'status'>;
  httpDuration: client.Histogram<'route'>;
  ingestDuration: client.Histogram;
  consolidationRuns: client.Counter<'outcome'>;
  consolidationDuration: client.Histogram;
  consolidationLag: client.Gauge;
  ingestsInFlight: client.Gauge;
}

export function createMetrics(opts: { lagSeconds: () => Promise<number> }): Metrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'ironledger_cloud_' });
  const r = [registry];
  return {
    registry,
    batches: new client.Counter({
      name: 'ironledger_cloud_batches_total',
      help: 'Batches answered, by outcome (stored, replayed, rejected)',
      labelNames: ['outcome'],
      registers: r,
    }),
    readings: new client.Counter({
      name: 'ironledger_cloud_readings_total',
      help: 'Readings received in stored batches, by outcome (accepted, duplicate, conflict, held)',
      labelNames: ['outcome'],
      registers: r,
    }),
    rejected: new client.Counter({
      name: 'ironledger_cloud_rejected_total',
      help: 'Requests to /v1/batches rejected, by reason (code)',
      labelNames: ['reason'],
      registers: r,
    }),
    httpRequests: new client.Counter({
      name: 'ironledger_cloud_http_requests_total',
      help: 'HTTP requests by route pattern, method and status',
      labelNames: ['route', 'method', 'status'],
      registers: r,
    }),
    httpDuration: new client.Histogram({
      name: 'ironledger_cloud_http_request_duration_seconds',
      help: 'HTTP request duration by route pattern',
      labelNames: ['route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: r,
    }),
    ingestDuration: new client.Histogram({
      name: 'ironledger_cloud_ingest_commit_seconds',
      help: 'Time to validate and commit one batch',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: r,
    }),
    consolidationRuns: new client.Counter({
      name: 'ironledger_cloud_consolidation_runs_total',
      help: 'Consolidation runs by outcome (ok, failed)',
      labelNames: ['outcome'],
      registers: r,
    }),
    consolidationDuration: new client.Histogram({
      name: 'ironledger_cloud_consolidation_seconds',
      help: 'Duration of one consolidation run',
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60],
      registers: r,
    }),
    consolidationLag: new client.Gauge({
      name: 'ironledger_cloud_consolidation_lag_seconds',
      help: 'Age of the oldest stored reading change not yet consolidated (0 when none)',
      registers: r,
      async collect() {
        this.set(await opts.lagSeconds());
      },
    }),
    ingestsInFlight: new client.Gauge({
      name: 'ironledger_cloud_ingests_in_flight',
      help: 'Batch requests being read or committed right now',
      registers: r,
    }),
  };
}
