#!/usr/bin/env node
// Ingest benchmark: QoS 1 readings/s the edge commits and acknowledges (group commit),
// from 1000 units over real TCP to the real agent process, per SQLite synchronous level.
// Usage: node edge/bench/ingest.mjs [--units 1000] [--window 10] [--seconds 10] [--sync FULL,NORMAL]
import { parseArgs } from 'node:util';
import { fleet, metric, rssMb, startEdge, table, tmp } from './common.mjs';

const { values } = parseArgs({
  options: {
    units: { type: 'string', default: '1000' },
    window: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '10' },
    sync: { type: 'string', default: 'FULL,NORMAL' },
  },
});
const units = Number(values.units);
const window = Number(values.window);
const seconds = Number(values.seconds);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const rows = [];
for (const synchronous of values.sync.split(',')) {
  const dir = tmp('edge-bench-');
  const edge = await startEdge(dir, { buffer: { synchronous } });
  const f = fleet({ port: edge.ready.mqttPort, units, window, perUnit: 1e9 });
  while (f.stats().connected < units) await sleep(100);
  f.go();
  await sleep(2000); // warm-up
  const m0 = await edge.metrics();
  const a0 = f.stats().acked;
  const t0 = performance.now();
  let peakRss = 0;
  const end = t0 + seconds * 1000;
  while (performance.now() < end) {
    peakRss = Math.max(peakRss, rssMb(edge.pid));
    await sleep(250);
  }
  const a1 = f.stats().acked;
  const t1 = performance.now();
  const m1 = await edge.metrics();
  const groups =
    metric(m1, 'ironledger_edge_group_commit_size_count') -
    metric(m0, 'ironledger_edge_group_commit_size_count');
  const msgs =
    metric(m1, 'ironledger_edge_group_commit_size_sum') - metric(m0, 'ironledger_edge_group_commit_size_sum');
  const commitS =
    metric(m1, 'ironledger_edge_group_commit_seconds_sum') -
    metric(m0, 'ironledger_edge_group_commit_seconds_sum');
  rows.push({
    synchronous,
    units,
    'in flight/unit': window,
    'acked readings': a1 - a0,
    seconds: ((t1 - t0) / 1000).toFixed(1),
    'readings/s': Math.round(((a1 - a0) * 1000) / (t1 - t0)),
    'commits/s': Math.round((groups * 1000) / (t1 - t0)),
    'avg group': Math.round(msgs / groups),
    'ms/commit': ((commitS * 1000) / groups).toFixed(2),
    'edge RSS MB': Math.round(peakRss),
  });
  f.stop();
  edge.child.kill('SIGTERM');
  await new Promise((r) => edge.child.once('exit', r));
}
console.log(
  `\nedge ingest, QoS 1, PUBACK after commit (node ${process.version}, ${(await import('node:os')).cpus().length} cores)\n`,
);
table(rows);
