#!/usr/bin/env node
// Bytes per buffered reading: fills a buffer file (the agent's SqliteBuffer, synchronous=FULL)
// with N readings shaped like live traffic (1000 units, every field the firmware sends,
// 100 readings per commit as the ingest groups them), then reports the live bytes
// (pages less free pages) and the file size after a checkpoint, divided by N. Also reports
// the time the fill took and how long one forwarding pass (nextBatch + ack) takes.
// Usage: node edge/bench/buffer-bytes.mjs [--readings 200000] [--units 1000] [--dist edge/dist]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { benchArgs } from '@ironledger/testkit';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const { values } = benchArgs(import.meta.url, {
  readings: { type: 'string', default: '200000' },
  units: { type: 'string', default: '1000' },
  dist: { type: 'string', default: path.join(HERE, '..', 'dist') },
  json: { type: 'boolean', default: false },
});
const total = Number(values.readings);
const units = Number(values.units);
const { SqliteBuffer } = await import(
  pathToFileURL(path.join(path.resolve(values.dist), 'buffer', 'sqlite-buffer.js')).href
);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edge-bytes-'));
const file = path.join(dir, 'edge.db');
const b = new SqliteBuffer({ path: file, gatewayId: 'gw-bench', diskBudgetBytes: 64 * 1024 ** 3 });
const t0 = Date.parse('2026-11-23T08:00:00.000Z');
const GROUP = 100;
const cpu0 = process.cpuUsage();
let items = [];
for (let i = 0; i < total; i++) {
  const u = i % units;
  const seq = Math.floor(i / units);
  const tsMs = t0 + seq * 10_000 + u;
  items.push({
    kind: 'reading',
    reading: {
      v: 1,
      unitId: `U${String(u).padStart(5, '0')}`,
      seq,
      ts: new Date(tsMs).toISOString(),
      engineHours: 1000 + seq / 3600,
      idleHours: 200 + seq / 14400,
      engineOn: true,
      position: { lat: 51.5 + (seq % 100) / 1e5, lon: -0.12 },
      speedKmh: 3.5,
      fuelUsedL: 8000 + seq / 100,
      receivedAt: new Date(tsMs + 180).toISOString(),
      source: 'telemetry',
    },
  });
  if (items.length === GROUP) {
    b.append(items);
    items = [];
  }
}
if (items.length) b.append(items);
const fillCpu = process.cpuUsage(cpu0);
const used = b.usedBytes();
b.checkpoint?.();
const fileBytes = fs.statSync(file).size;
const cpu1 = process.cpuUsage();
let sent = 0;
for (;;) {
  const batch = b.nextBatch({ maxReadings: 1000, maxAgeMs: 0, nowMs: Date.now(), force: true });
  if (!batch) break;
  sent += batch.readings.length;
  b.ack(batch.batchId, Date.now());
}
const drainCpu = process.cpuUsage(cpu1);
b.close();
fs.rmSync(dir, { recursive: true, force: true });
const out = {
  readings: total,
  usedBytes: used,
  bytesPerReading: +(used / total).toFixed(1),
  fileBytesPerReading: +(fileBytes / total).toFixed(1),
  fillCpuUsPerReading: +((fillCpu.user + fillCpu.system) / total).toFixed(2),
  drainCpuUsPerReading: +((drainCpu.user + drainCpu.system) / sent).toFixed(2),
};
console.log(values.json ? JSON.stringify(out) : out);
