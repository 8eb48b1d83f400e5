#!/usr/bin/env node
// Decompressing one batch body as the cloud receives it: a gzipped 1000-reading batch (about
// 250 KB of JSON, 24 KB gzipped) fed in 64 KiB network chunks through zlib's streaming gunzip
// with 16 KiB output chunks (Node's default) and 64 KiB (the cloud's), and in one call for
// comparison. Prints the wall time and this process's CPU (libuv's pool included) per batch.
// Usage: node cloud/bench/gunzip.mjs [--batches 400]
import zlib from 'node:zlib';
import { benchArgs } from '@ironledger/testkit';

const { values } = benchArgs(import.meta.url, { batches: { type: 'string', default: '400' } });
const n = Number(values.batches);
const readings = Array.from({ length: 1000 }, (_, i) => ({
  v: 1,
  unitId: `U${String(i % 125).padStart(5, '0')}`,
  seq: i,
  ts: new Date(1.7e12 + i * 1e4).toISOString(),
  engineHours: 1000 + i / 360,
  idleHours: 100 + i / 720,
  engineOn: true,
  position: { lat: 51.5 + (i % 7) / 1000, lon: -0.12 },
  speedKmh: 3,
  fuelUsedL: 5000 + i / 10,
  receivedAt: new Date(1.7e12 + i * 1e4).toISOString(),
}));
const plain = Buffer.from(JSON.stringify({ gatewayId: 'gw', batchId: 'b', readings }));
const gz = zlib.gzipSync(plain);

function streamed(chunkSize) {
  return new Promise((resolve, reject) => {
    const g = zlib.createGunzip({ chunkSize });
    const chunks = [];
    let total = 0;
    g.on('data', (c) => {
      chunks.push(c);
      total += c.length;
    });
    g.on('error', reject);
    g.on('end', () => resolve(Buffer.concat(chunks, total)));
    for (let i = 0; i < gz.length; i += 65536) g.write(gz.subarray(i, i + 65536));
    g.end();
  });
}

const ways = [
  ['streamed, 16 KiB output chunks', () => streamed(16 * 1024)],
  ['streamed, 64 KiB output chunks', () => streamed(64 * 1024)],
  ['gunzipSync, one call', async () => zlib.gunzipSync(gz)],
];
console.log(`one batch: ${plain.length} bytes of JSON, ${gz.length} gzipped; ${n} batches each\n`);
console.log('| way | wall ms per batch | CPU ms per batch |');
console.log('| --- | --- | --- |');
for (const [name, f] of ways) {
  for (let i = 0; i < 50; i++) if (!(await f()).equals(plain)) throw new Error(`${name}: wrong output`);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await f();
  const c = process.cpuUsage(c0);
  console.log(
    `| ${name} | ${((performance.now() - t0) / n).toFixed(3)} | ${((c.user + c.system) / 1000 / n).toFixed(3)} |`,
  );
}
