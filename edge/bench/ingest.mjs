#!/usr/bin/env node
// Ingest benchmark: QoS 1 readings/s the edge commits and acknowledges (group commit),
// from 1000 units over real TCP to the real agent process, per SQLite synchronous level.
// `--target mosquitto` runs the same fleet against Mosquitto (QoS 1, nothing stored, no
// subscriber): the reference the edge's figure is compared with.
// Usage: node edge/bench/ingest.mjs [--units 1000] [--window 10] [--seconds 10] [--sync FULL,NORMAL]
//        [--target edge,mosquitto]

import { benchArgs } from '@ironledger/testkit';
import { cpuS, fleet, metric, rssMb, startEdge, startMosquitto, table, tmp } from './common.mjs';

const { values } = benchArgs(import.meta.url, {
  units: { type: 'string', default: '1000' },
  window: { type: 'string', default: '10' },
  seconds: { type: 'string', default: '10' },
  sync: { type: 'string', default: 'FULL,NORMAL' },
  target: { type: 'string', default: 'edge' },
});
const units = Number(values.units);
const window = Number(values.window);
const seconds = Number(values.seconds);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const runs = values.target
  .split(',')
  .flatMap((target) =>
    target === 'edge' ? values.sync.split(',').map((s) => [target, s]) : [[target, '-']],
  );
const rows = [];
for (const [target, synchronous] of runs) {
  const dir = tmp('edge-bench-');
  const edge =
    target === 'mosquitto' ? await startMosquitto(dir) : await startEdge(dir, { buffer: { synchronous } });
  const f = fleet({ port: edge.ready.mqttPort, units, window, perUnit: 1e9 });
  while (f.stats().connected < units) await sleep(100);
  f.go();
  await sleep(2000); // warm-up
  const m0 = edge.metrics ? await edge.metrics() : '';
  const a0 = f.stats().acked;
  const c0 = [cpuS(edge.pid), cpuS(f.child.pid)];
  const t0 = performance.now();
  let peakRss = 0;
  const end = t0 + seconds * 1000;
  while (performance.now() < end) {
    peakRss = Math.max(peakRss, rssMb(edge.pid));
    await sleep(250);
  }
  const a1 = f.stats().acked;
  const c1 = [cpuS(edge.pid), cpuS(f.child.pid)];
  const t1 = performance.now();
  const m1 = edge.metrics ? await edge.metrics() : '';
  const groups =
    metric(m1, 'ironledger_edge_group_commit_size_count') -
    metric(m0, 'ironledger_edge_group_commit_size_count');
  const msgs =
    metric(m1, 'ironledger_edge_group_commit_size_sum') - metric(m0, 'ironledger_edge_group_commit_size_sum');
  const commitS =
    metric(m1, 'ironledger_edge_group_commit_seconds_sum') -
    metric(m0, 'ironledger_edge_group_commit_seconds_sum');
  rows.push({
    target,
    synchronous,
    units,
    'in flight/unit': window,
    'acked readings': a1 - a0,
    seconds: ((t1 - t0) / 1000).toFixed(1),
    'readings/s': Math.round(((a1 - a0) * 1000) / (t1 - t0)),
    'commits/s': edge.metrics ? Math.round((groups * 1000) / (t1 - t0)) : '-',
    'avg group': edge.metrics ? Math.round(msgs / groups) : '-',
    'ms/commit': edge.metrics ? ((commitS * 1000) / groups).toFixed(2) : '-',
    'RSS MB': Math.round(peakRss),
    // Percent of one core: the broker's and the load generator's (which shares the machine).
    'broker CPU %': Math.round(((c1[0] - c0[0]) * 1e5) / (t1 - t0)),
    'fleet CPU %': Math.round(((c1[1] - c0[1]) * 1e5) / (t1 - t0)),
  });
  f.stop();
  edge.child.kill('SIGTERM');
  await new Promise((r) => edge.child.once('exit', r));
}
console.log(
  `\ningest, QoS 1 (edge: PUBACK after commit; mosquitto: nothing stored) (node ${process.version}, ${(await import('node:os')).cpus().length} cores)\n`,
);
table(rows);
