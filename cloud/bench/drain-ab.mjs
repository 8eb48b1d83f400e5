#!/usr/bin/env node
// Drain A/B: the real edge agent draining a backlog into the real cloud (SQLite), for several
// builds or settings, interleaved in one run (variant A, B, A, B, …) so that the machine's load
// falls on all alike. The backlog is written once, straight into a buffer file (1000 units, one
// reading per unit at a time, as real traffic fills it), and copied for every run; each run gets
// a fresh cloud database. Prints readings/s per run, medians, and CPU seconds of edge and cloud.
//
// Usage: node cloud/bench/drain-ab.mjs [--readings 200000] [--reps 3] [--rtt-ms 0]
//          [--variants '[{"name":"base","edge":"<dir of main.js>","cloud":"<cloud dist>"},
//                        {"name":"new","edgeCloud":{"maxInFlight":2},"cloudHttp":{"maxIngestsPerGateway":2}}]']
// `edge`/`cloud` default to this checkout's builds; `edgeCloud` merges into the edge's `cloud`
// config, `cloudHttp` into the cloud's `http` config, `cloudStore` into its `store` config. CLOUD_NODE_ARGS / EDGE_NODE_ARGS pass
// node flags (e.g. "--cpu-prof --cpu-prof-dir=/tmp/p"). `--rtt-ms` puts a relay between edge
// and cloud that holds every chunk for half of it each way, as a site's uplink would.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchArgs, freePort, spawnCommand, spawnNode } from '@ironledger/testkit';
import Database from 'better-sqlite3';
import { cpuS, EDGE_NODE_ARGS, edgeEnv } from '../../edge/bench/common.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const { values } = benchArgs(import.meta.url, {
  readings: { type: 'string', default: '200000' },
  reps: { type: 'string', default: '3' },
  units: { type: 'string', default: '1000' },
  'rtt-ms': { type: 'string', default: '0' },
  variants: { type: 'string', default: '[{"name":"this build"}]' },
});
const total = Number(values.readings);
const unitCount = Number(values.units);
const variants = JSON.parse(values.variants);
const TOKEN = 'drain-ab-token';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const { hashToken } = await import(path.join(root, 'cloud', 'dist', 'http', 'auth.js'));
const { SqliteBuffer } = await import(path.join(root, 'edge', 'dist', 'buffer', 'sqlite-buffer.js'));

const rttMs = Number(values['rtt-ms']);

/**
 * A TCP relay to `target` (host:port URL) that delays each chunk by half of `rttMs` in each
 * direction, in order (timers of one duration fire in the order they were set).
 */
async function delayingRelay(target) {
  const { hostname, port } = new URL(target);
  const half = rttMs / 2;
  const server = net.createServer((down) => {
    const up = net.connect(Number(port), hostname);
    const pass = (from, to) => {
      from.on('data', (chunk) => setTimeout(() => to.writable && to.write(chunk), half));
      from.on('end', () => setTimeout(() => to.end(), half));
      from.on('error', () => to.destroy());
      from.on('close', () => setTimeout(() => to.destroy(), half));
    };
    pass(down, up);
    pass(up, down);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => server.close() };
}

/** The backlog, once: `total` readings of `unitCount` units, one per unit per 10 s. */
function fill(dir) {
  const file = path.join(dir, 'edge.db');
  const b = new SqliteBuffer({ path: file, gatewayId: 'gw-bench', diskBudgetBytes: 64 * 1024 ** 3 });
  const t0 = Date.now() - Math.ceil(total / unitCount) * 10_000 - 60_000;
  for (let i = 0; i < total; i += unitCount) {
    const items = [];
    for (let j = i; j < Math.min(total, i + unitCount); j++) {
      const step = Math.floor(j / unitCount);
      const ts = new Date(t0 + step * 10_000).toISOString();
      items.push({
        kind: 'reading',
        reading: {
          v: 1,
          unitId: `U${String(j % unitCount).padStart(5, '0')}`,
          seq: step,
          ts,
          engineHours: 1000 + step / 360,
          idleHours: 100 + step / 720,
          engineOn: true,
          position: { lat: 51.5 + (j % 7) / 1000, lon: -0.12 },
          speedKmh: 3,
          fuelUsedL: 5000 + step / 10,
          receivedAt: ts,
        },
      });
    }
    b.append(items);
  }
  b.close();
  return file;
}

async function startCloud(dir, distDir, httpOver, storeOver) {
  const bin = path.join(distDir, 'main.js');
  const config = {
    http: { port: 0, host: '127.0.0.1', maxConcurrentIngests: 16, ...httpOver },
    store: { path: path.join(dir, 'cloud.db'), ...storeOver },
    gateways: [{ gatewayId: 'gw-bench', tokenHash: hashToken(TOKEN), siteId: 'S' }],
    sites: [{ siteId: 'S', timeZone: 'UTC', defaultProjectId: 'P', geofences: [] }],
    projects: [{ projectId: 'P', name: 'Bench' }],
    units: Array.from({ length: unitCount }, (_, i) => ({
      unitId: `U${String(i).padStart(5, '0')}`,
      equipmentClass: 'excavator',
    })),
    consolidation: { cron: '' },
    posting: { journalPath: path.join(dir, 'journal.jsonl') },
    log: { level: 'info' },
  };
  const file = path.join(dir, 'cloud.json');
  fs.writeFileSync(file, JSON.stringify(config));
  const m = spawnNode(bin, ['migrate', '--config', file]);
  if ((await m.exited) !== 0) throw new Error(`cloud migrate failed: ${m.stderr()}`);
  const nodeArgs = (process.env.CLOUD_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const proc = spawnCommand(process.execPath, [...nodeArgs, bin, '--config', file], { name: 'cloud' });
  const ready = await proc.waitForEvent('ready', {}, 60_000);
  return { proc, url: ready.url };
}

async function startEdge(dir, mainJs, cloudUrl, cloudOver) {
  const cfg = {
    gatewayId: 'gw-bench',
    mqtt: { mode: 'embedded', host: '127.0.0.1', port: 0 },
    auth: { mode: 'open' },
    buffer: { path: path.join(dir, 'edge.db'), diskBudgetMb: 65536, synchronous: 'FULL' },
    cloud: {
      url: cloudUrl,
      token: TOKEN,
      heartbeatIntervalMs: 3_600_000,
      backoff: { baseMs: 100, capMs: 500 },
      ...cloudOver,
    },
    http: { host: '127.0.0.1', port: await freePort() },
    log: { level: 'warn' },
  };
  const file = path.join(dir, 'edge.json');
  fs.writeFileSync(file, JSON.stringify(cfg));
  const nodeArgs = EDGE_NODE_ARGS;
  const started = performance.now();
  const child = spawn(process.execPath, [...nodeArgs, mainJs, '--config', file], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: edgeEnv(),
  });
  const metricsUrl = `http://127.0.0.1:${cfg.http.port}/metrics`;
  return { child, started, metricsUrl };
}

/**
 * Readings the cloud has stored so far: the highest row id of its fresh database, read off the
 * end of the primary key by a read-only connection of this process (the cloud's own /metrics
 * costs it a render per poll).
 */
function storedCounter(dbFile) {
  let db = null;
  const count = () => {
    db ??= new Database(dbFile, { readonly: true, fileMustExist: true });
    return Number(db.prepare('SELECT coalesce(max(id), 0) FROM readings').pluck().get());
  };
  count.close = () => db?.close();
  return count;
}

async function run(v, backlogFile) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'drain-ab-'));
  fs.copyFileSync(backlogFile, path.join(dir, 'edge.db'));
  const cloud = await startCloud(
    dir,
    v.cloud ? path.resolve(v.cloud) : path.join(root, 'cloud', 'dist'),
    { ...v.cloudHttp },
    { ...v.cloudStore },
  );
  const mainJs = v.edge
    ? path.join(path.resolve(v.edge), 'main.js')
    : path.join(root, 'edge', 'dist', 'main.js');
  const relay = rttMs > 0 ? await delayingRelay(cloud.url) : null;
  const edge = await startEdge(dir, mainJs, relay?.url ?? cloud.url, v.edgeCloud ?? {});
  try {
    // Timed by the readings the cloud has stored, polled every 20 ms, from the first batch it
    // stores to the last: the edge's start-up and its backlog gauge (refreshed once a second)
    // stay out of the figure.
    const stored = storedCounter(path.join(dir, 'cloud.db'));
    let first = null;
    for (;;) {
      const n = stored();
      if (n > 0 && first === null) first = { n, at: performance.now() };
      if (n >= total) break;
      if (performance.now() - edge.started > 600_000) throw new Error('drain did not finish in 10 min');
      await sleep(20);
    }
    const s = (performance.now() - first.at) / 1000;
    stored.close();
    return {
      rate: (total - first.n) / s,
      seconds: s,
      edgeCpuS: cpuS(edge.child.pid),
      cloudCpuS: cpuS(cloud.proc.child.pid),
    };
  } finally {
    edge.child.kill('SIGTERM');
    await new Promise((r) => edge.child.once('exit', r));
    await cloud.proc.stop(10_000).catch(() => cloud.proc.kill9());
    relay?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const fillDir = fs.mkdtempSync(path.join(os.tmpdir(), 'drain-ab-fill-'));
const backlog = fill(fillDir);
console.log(
  `backlog of ${total} readings written; ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)}`,
);
const results = variants.map(() => []);
try {
  for (let r = 0; r < Number(values.reps); r++) {
    for (let i = 0; i < variants.length; i++) {
      const res = await run(variants[i], backlog);
      results[i].push(res);
      console.log(
        `rep ${r + 1} ${variants[i].name}: ${Math.round(res.rate)} readings/s (${res.seconds.toFixed(1)} s; CPU edge ${res.edgeCpuS.toFixed(1)} s, cloud ${res.cloudCpuS.toFixed(1)} s)`,
      );
    }
  }
} finally {
  fs.rmSync(fillDir, { recursive: true, force: true });
}
const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
console.log(
  `\nDrain of ${total} readings (${unitCount} units)${rttMs > 0 ? `, ${rttMs} ms round trip to the cloud` : ''}, medians of ${values.reps}, interleaved\n`,
);
console.log('| variant | readings/s | spread | edge CPU s | cloud CPU s | ratio to first |');
console.log('| --- | --- | --- | --- | --- | --- |');
const first = med(results[0].map((x) => x.rate));
variants.forEach((v, i) => {
  const rates = results[i].map((x) => x.rate);
  console.log(
    `| ${v.name} | ${Math.round(med(rates))} | ${Math.round(Math.min(...rates))}–${Math.round(Math.max(...rates))} | ${med(results[i].map((x) => x.edgeCpuS)).toFixed(1)} | ${med(results[i].map((x) => x.cloudCpuS)).toFixed(1)} | ${(med(rates) / first).toFixed(2)} |`,
  );
});
