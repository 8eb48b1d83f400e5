// (4) Unit → cloud latency at 50 % of the edge's ingest maximum (the 50-publisher figure of
// the ingest scenario in this run, else --rate-less default 20k/s): 1000 paced units publish into
// the real edge, which forwards to the real cloud (SQLite) while it ingests. Latency of a
// reading = the cloud's stored_at (set when its batch is accepted) − the reading's ts (set by
// the unit when it publishes, same clock). The backlog at the start and end of the window
// says whether the rate is sustained.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { fleet, metric, startEdge, tmp } from '../../../edge/bench/common.mjs';
import { GATEWAY_TOKEN, median, percentile, sleep, startCloud, unitIds } from '../lib.mjs';

export const title = 'unit → cloud latency at 50 % of the edge maximum';

const UNITS = 1000;

export async function measure(ctx) {
  const max = ctx.shared.edgeMaxRates?.length ? median(ctx.shared.edgeMaxRates) : 20_000;
  const rate = Math.max(100, Math.round(max / 2));
  const dir = tmp('bench-latency-');
  const cloud = await startCloud(dir, { units: unitIds(UNITS) });
  const edge = await startEdge(dir, {
    buffer: { synchronous: 'FULL' },
    cloud: {
      url: cloud.url,
      token: GATEWAY_TOKEN,
      heartbeatIntervalMs: 3_600_000,
      backoff: { baseMs: 100, capMs: 500 },
    },
  });
  let f = null;
  try {
    f = fleet({ port: edge.ready.mqttPort, units: UNITS, window: 1, perUnit: 1e9, rate });
    while (f.stats().connected < UNITS) await sleep(50);
    f.go();
    await sleep(ctx.sizes.warmS * 1000);
    const depth = async () => metric(await edge.metrics(), 'ironledger_edge_queue_depth');
    const d0 = await depth();
    const a0 = f.stats().acked;
    const from = Date.now();
    await sleep(ctx.sizes.latencyS * 1000);
    const to = Date.now();
    const d1 = await depth();
    const a1 = f.stats().acked;
    f.stop();
    f = null;
    // Let the edge deliver what the window published (bounded), then read the cloud's store.
    const t = performance.now();
    while ((await depth()) > 0 && performance.now() - t < ctx.sizes.drainCapS * 1000) await sleep(200);
    await cloud.proc.stop(10_000);
    const db = new Database(path.join(dir, 'cloud.db'), { readonly: true });
    const lat = db
      .prepare('SELECT stored_at AS s, ts_ms AS t FROM readings WHERE ts_ms >= ? AND ts_ms < ?')
      .all(from, to)
      .map((r) => Date.parse(r.s) - r.t);
    db.close();
    const ingested = ((a1 - a0) * 1000) / (to - from);
    const common = {
      unit: 'ms',
      note: `offered ${rate.toLocaleString('en-US')}/s, acked ${Math.round(ingested).toLocaleString('en-US')}/s, backlog ${d0} → ${d1}, ${lat.length} readings`,
    };
    return [
      {
        figure: 'unit → cloud latency p50 at 50 % of edge max',
        value: percentile(lat, 50),
        reference: 'target p99 < 2000 ms',
        refValue: 2000,
        ...common,
      },
      {
        figure: 'unit → cloud latency p99 at 50 % of edge max',
        value: percentile(lat, 99),
        reference: 'target p99 < 2000 ms',
        refValue: 2000,
        ...common,
      },
      {
        figure: 'edge backlog growth during the window',
        value: ((d1 - d0) * 1000) / (to - from),
        unit: 'readings/s',
        reference: 'offered rate (flat = 0)',
        refValue: rate,
      },
    ];
  } finally {
    f?.stop();
    edge.child.kill('SIGTERM');
    await new Promise((r) => edge.child.once('exit', r));
    await cloud.proc.stop(10_000).catch(() => cloud.proc.kill9());
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
