// Shared by the benchmarks: start the built agent as a real process with a config of ours.
import { fork, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
// EDGE_MAIN: another build of the agent's main.js (an A/B comparison on the same machine).
export const EDGE_MAIN = process.env.EDGE_MAIN ?? path.join(HERE, '..', 'dist', 'main.js');

// The node flags the edge runs with in production: the systemd unit's NODE_OPTIONS (the V8 heap
// bound), so RSS figures are the deployed ones. EDGE_NODE_ARGS replaces them ('' for Node's
// defaults, or `--cpu-prof …` for a profile).
const UNIT = fs.readFileSync(path.join(HERE, '..', '..', 'deploy', 'ironledger-edge.service'), 'utf8');
export const DEPLOYED_NODE_ARGS = /^Environment="NODE_OPTIONS=([^"]*)"$/m.exec(UNIT)?.[1] ?? '';
export const EDGE_NODE_ARGS = (process.env.EDGE_NODE_ARGS ?? DEPLOYED_NODE_ARGS).split(' ').filter(Boolean);
// The unit's other quoted settings of the process environment (MALLOC_ARENA_MAX), so memory is
// measured as deployed; EDGE_NODE_ARGS given means Node's defaults for these too.
export const DEPLOYED_ENV = Object.fromEntries(
  process.env.EDGE_NODE_ARGS === undefined
    ? [...UNIT.matchAll(/^Environment="([A-Z_]+)=([^"]*)"$/gm)]
        .filter((m) => m[1] !== 'NODE_OPTIONS')
        .map((m) => [m[1], m[2]])
    : [],
);
/** The environment of an edge process the benches start. */
export const edgeEnv = () => ({ ...process.env, ...DEPLOYED_ENV });

export function tmp(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export async function startEdge(dir, overrides = {}) {
  const cfg = {
    gatewayId: 'gw-bench',
    mqtt: { mode: 'embedded', host: '127.0.0.1', port: 0 },
    auth: { mode: 'open' },
    buffer: { path: path.join(dir, 'edge.db'), diskBudgetMb: 16384, synchronous: 'FULL' },
    // No cloud: the outbox only fills (back-off long, so forwarding costs nothing).
    cloud: {
      url: 'http://127.0.0.1:9',
      token: 'bench',
      heartbeatIntervalMs: 3_600_000,
      backoff: { baseMs: 3_600_000, capMs: 3_600_000 },
    },
    http: { host: '127.0.0.1', port: 0 },
    log: { level: 'info' },
    ...overrides,
  };
  for (const k of ['buffer', 'mqtt', 'cloud'])
    if (overrides[k])
      cfg[k] = { ...cfg[k], ...overrides[k], ...(k === 'buffer' ? { path: path.join(dir, 'edge.db') } : {}) };
  const file = path.join(dir, 'edge.json');
  fs.writeFileSync(file, JSON.stringify(cfg));
  const child = spawn(process.execPath, [...EDGE_NODE_ARGS, EDGE_MAIN, '--config', file], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: edgeEnv(),
  });
  // Lines are read until `ready`; after it the edge's log is read and dropped, so that a long
  // run costs this process nothing per line (the edge logs a line per batch it forwards).
  let out = '';
  const ready = await new Promise((resolve, reject) => {
    const onData = (d) => {
      out += d;
      const line = out.split('\n').find((l) => l.includes('"event":"ready"'));
      if (!line) return;
      child.stdout.off('data', onData).resume();
      out = '';
      resolve(JSON.parse(line));
    };
    child.stdout.setEncoding('utf8').on('data', onData);
    child.once('exit', (c) => reject(new Error(`edge exited ${c}: ${out}`)));
  });
  return {
    child,
    ready,
    pid: child.pid,
    metrics: () => fetch(`http://127.0.0.1:${ready.httpPort}/metrics`).then((r) => r.text()),
  };
}

// Mosquitto as the reference broker: QoS 1, in memory (persistence off), anonymous, localhost.
export async function startMosquitto(dir) {
  const { createServer } = await import('node:net');
  const port = await new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
  const conf = path.join(dir, 'mosquitto.conf');
  fs.writeFileSync(
    conf,
    [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', 'log_type error', ''].join(
      '\n',
    ),
  );
  const child = spawn(mosquittoPath() ?? 'mosquitto', ['-c', conf], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const { connect } = await import('node:net');
  for (let i = 0; ; i++) {
    const ok = await new Promise((r) => {
      const c = connect(port, '127.0.0.1', () => {
        c.end();
        r(true);
      }).on('error', () => r(false));
    });
    if (ok) break;
    if (i > 100) throw new Error('mosquitto did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, ready: { mqttPort: port }, pid: child.pid, metrics: null };
}

/** Mosquitto's path, or null when it is not installed. */
export function mosquittoPath() {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin'])
    if (dir && fs.existsSync(path.join(dir, 'mosquitto'))) return path.join(dir, 'mosquitto');
  return null;
}

/** The reference broker: Mosquitto when installed, else a bare in-memory aedes process. */
export async function startReference(dir) {
  if (mosquittoPath()) return { ...(await startMosquitto(dir)), name: 'mosquitto (in memory)' };
  const child = spawn(process.execPath, [path.join(HERE, 'aedes-broker.mjs')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  const ready = await new Promise((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (d) => {
      out += d;
      const line = out.split('\n').find((l) => l.includes('"event":"ready"'));
      if (line) resolve(JSON.parse(line));
    });
    child.once('exit', (c) => reject(new Error(`aedes broker exited ${c}: ${out}`)));
  });
  return { child, ready, pid: child.pid, metrics: null, name: 'aedes (in memory; no mosquitto here)' };
}

/** CPU seconds (user + system, all threads) a process has used so far. */
export function cpuS(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks of 10 ms
}

export function rssMb(pid) {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(s)[1]) / 1024;
}

/**
 * RSS split into anonymous memory (heap, SQLite's cache, buffers), file-backed pages (the Node
 * binary and native addons, shared and reclaimable by the kernel) and shared memory (SQLite's
 * WAL index, the `-shm` file mapped by every connection).
 */
export function rssSplitMb(pid) {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? Number.NaN);
  return {
    total: kb('VmRSS') / 1024,
    anon: kb('RssAnon') / 1024,
    file: kb('RssFile') / 1024,
    shmem: kb('RssShmem') / 1024,
  };
}

export function metric(text, name) {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ').pop()) : NaN;
}

export function fleet(opts) {
  const child = fork(path.join(HERE, 'fleet.mjs'), [JSON.stringify(opts)], { stdio: 'inherit' });
  let last = { acked: 0, connected: 0, done: 0, refused: 0 };
  child.on('message', (m) => (last = m));
  return { child, stats: () => last, go: () => child.send('go'), stop: () => child.kill('SIGKILL') };
}

export function table(rows) {
  // Every column any row has (a row without one shows '-').
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const w = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c] ?? '-').length)));
  const line = (vals) => `| ${vals.map((v, i) => String(v ?? '-').padStart(w[i])).join(' | ')} |`;
  console.log(line(cols));
  console.log(`|${w.map((n) => '-'.repeat(n + 2)).join('|')}|`);
  for (const r of rows) console.log(line(cols.map((c) => r[c])));
}
