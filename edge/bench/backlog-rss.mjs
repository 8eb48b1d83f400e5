#!/usr/bin/env node
// Memory with a large backlog: the cloud is unreachable while 1000 units publish 1M readings
// (QoS 1) into the real agent; the agent's RSS is sampled as the outbox grows, then while
// it sits on the full backlog answering /v1/status and /metrics. A flat line is the goal:
// the backlog lives in SQLite, not in the heap.
// Usage: node edge/bench/backlog-rss.mjs [--readings 1000000] [--units 1000]
import fs from 'node:fs';
import path from 'node:path';
import { benchArgs } from '@ironledger/testkit';
import { fleet, metric, rssMb, startEdge, table, tmp } from './common.mjs';

const { values } = benchArgs(import.meta.url, {
  readings: { type: 'string', default: '1000000' },
  units: { type: 'string', default: '1000' },
});
const total = Number(values.readings);
const units = Number(values.units);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const dir = tmp('edge-rss-');
const edge = await startEdge(dir, { buffer: { synchronous: 'FULL' } });
const f = fleet({ port: edge.ready.mqttPort, units, window: 10, perUnit: Math.ceil(total / units) });
while (f.stats().connected < units) await sleep(100);
f.go();
const rows = [];
const t0 = performance.now();
let next = 0;
while (f.stats().done < units) {
  const { acked } = f.stats();
  if (acked >= next) {
    rows.push({
      phase: 'filling',
      'acked readings': acked,
      s: ((performance.now() - t0) / 1000).toFixed(0),
      'RSS MB': Math.round(rssMb(edge.pid)),
    });
    next += total / 10;
  }
  await sleep(200);
}
const url = `http://127.0.0.1:${edge.ready.httpPort}`;
for (let i = 0; i < 5; i++) {
  await fetch(`${url}/v1/status`).then((r) => r.json());
  const m = await fetch(`${url}/metrics`).then((r) => r.text());
  rows.push({
    phase: 'holding',
    'acked readings': metric(m, 'ironledger_edge_queue_depth'),
    s: ((performance.now() - t0) / 1000).toFixed(0),
    'RSS MB': Math.round(rssMb(edge.pid)),
    // Where the RSS is: V8's heap (used / reserved) and memory outside it (Buffers, SQLite's
    // allocations are not counted here: RSS less heap total is code, native libraries and malloc).
    'heap used MB': Math.round(metric(m, 'ironledger_edge_nodejs_heap_size_used_bytes') / 1048576),
    'heap total MB': Math.round(metric(m, 'ironledger_edge_nodejs_heap_size_total_bytes') / 1048576),
    'external MB': Math.round(metric(m, 'ironledger_edge_nodejs_external_memory_bytes') / 1048576),
  });
  await sleep(2000);
}
const dbBytes = fs.statSync(path.join(dir, 'edge.db')).size;
f.stop();
edge.child.kill('SIGTERM');
await new Promise((r) => edge.child.once('exit', r));
console.log(
  `\nedge RSS with a growing backlog (cloud unreachable), ${units} units, buffer file ${(dbBytes / 1048576).toFixed(0)} MiB\n`,
);
table(rows);
fs.rmSync(dir, { recursive: true, force: true });
