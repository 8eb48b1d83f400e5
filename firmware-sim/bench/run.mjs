#!/usr/bin/env node
// Benchmark of the simulated fleet against an embedded aedes broker (in this process, over
// a real TCP socket on 127.0.0.1): spawns the built `ironledger-sim` with the given
// arguments (default: 500 units, one day, as fast as possible) and prints a table.
//
//   node firmware-sim/bench/run.mjs [-- sim args…]
//   npm run bench -w @ironledger/firmware-sim
import { spawn } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Aedes } from 'aedes';

const here = path.dirname(fileURLToPath(import.meta.url));
const bin = path.join(here, '..', 'dist', 'main.js');
const extra = process.argv.slice(2).filter((a) => a !== '--');
const args = extra.length > 0 ? extra : ['--units', '500', '--days', '1', '--as-fast-as-possible'];

const broker = await Aedes.createBroker();
let received = 0;
broker.on('publish', (packet, client) => {
  if (client && packet.topic.endsWith('/telemetry')) received++;
});
const server = net.createServer(broker.handle);
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address();

const started = Date.now();
const child = spawn(
  process.execPath,
  [bin, '--broker', `mqtt://127.0.0.1:${port}`, '--log-level', 'warn', ...args],
  {
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
let out = '';
child.stdout.setEncoding('utf8').on('data', (d) => {
  out += d;
});
const code = await new Promise((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
const wallMs = Date.now() - started;
server.close();
await new Promise((resolve) => broker.close(resolve));

const line = out.split('\n').find((l) => l.includes('"sim.summary"'));
if (!line) {
  process.stderr.write(`no summary (exit ${code})\n${out}`);
  process.exit(1);
}
const s = JSON.parse(line);
const rows = [
  ['command', `ironledger-sim ${args.join(' ')}`],
  ['machine', `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}`],
  ['broker', `aedes (embedded, same machine), port ${port}`],
  ['units', s.units],
  ['published', s.published],
  ['acknowledged', s.acknowledged],
  ['failed', s.failed],
  ['broker saw (telemetry)', received],
  ['readings/s', s.readingsPerSecond],
  ['sim duration', `${(s.durationMs / 1000).toFixed(1)} s`],
  ['wall time incl. start-up', `${(wallMs / 1000).toFixed(1)} s`],
  ['PUBACK latency p50/p95/p99', `${s.ackLatencyMs.p50} / ${s.ackLatencyMs.p95} / ${s.ackLatencyMs.p99} ms`],
  ['exit code', code],
];
const w = Math.max(...rows.map(([k]) => k.length));
process.stdout.write(`${rows.map(([k, v]) => `${String(k).padEnd(w)}  ${v}`).join('\n')}\n`);
process.exit(code === 0 ? 0 : 1);
