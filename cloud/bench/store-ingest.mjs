#!/usr/bin/env node
// The cloud's SQLite store alone, in this process: readings/s that ingestBatch stores (one
// fsynced transaction per batch), beside raw better-sqlite3 inserts of the same rows into the
// same schema in one transaction per batch. No HTTP, no parsing: the store's own cost.
// Usage: node cloud/bench/store-ingest.mjs [--readings 100000] [--batch 500] [--units 500]
//        [--reps 3] [--json file]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchArgs, tempDir } from '@ironledger/testkit';
import Database from 'better-sqlite3';

// Options first: --help answers without loading the cloud's build.
const { values } = benchArgs(import.meta.url, {
  readings: { type: 'string', default: '100000' },
  batch: { type: 'string', default: '500' },
  units: { type: 'string', default: '500' },
  reps: { type: 'string', default: '3' },
  json: { type: 'string' },
});
const here = path.dirname(fileURLToPath(import.meta.url));
// CLOUD_DIST: another build of the cloud (an A/B comparison on the same machine).
const dist = process.env.CLOUD_DIST ?? path.resolve(here, '..', 'dist');
const { SqliteStore } = await import(path.join(dist, 'store/sqlite/sqlite-store.js'));
const { MIGRATIONS } = await import(path.join(dist, 'store/sqlite/migrations.js'));

const total = Number(values.readings);
const batchSize = Number(values.batch);
const unitCount = Number(values.units);

/** Batches shaped like a gateway's: each reading of a different unit, in time order. */
function batches(tag) {
  const t0 = Date.UTC(2026, 10, 1);
  const out = [];
  for (let i = 0; i < total; i += batchSize) {
    const readings = [];
    for (let j = i; j < Math.min(total, i + batchSize); j++) {
      const unit = j % unitCount;
      const step = Math.floor(j / unitCount);
      const ts = new Date(t0 + step * 10_000).toISOString();
      const reading = {
        v: 1,
        unitId: `U${String(unit).padStart(5, '0')}`,
        seq: step,
        ts,
        engineHours: 1000 + step / 360,
        engineOn: true,
        receivedAt: ts,
      };
      const text = JSON.stringify(reading);
      readings.push({ reading, content: text, holdReason: null, flaggedConflict: false, body: text });
    }
    out.push({
      gatewayId: 'gw',
      batchId: `${tag}-${i}`,
      siteId: 'S',
      storedAt: new Date().toISOString(),
      readings,
    });
  }
  return out;
}

/** CPU µs (user + system) per reading since `c0`: steadier than wall time on a shared machine. */
let lastCpuUs = Number.NaN;
const cpuUsPerReading = (c0) => {
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / total;
};

async function store() {
  const dir = tempDir('store-bench-');
  const s = new SqliteStore(path.join(dir, 'cloud.db'));
  const bs = batches('s');
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (const b of bs) await s.ingestBatch(b);
  const rate = (total * 1000) / (performance.now() - t0);
  lastCpuUs = cpuUsPerReading(c0);
  s.close?.();
  fs.rmSync(dir, { recursive: true, force: true });
  return rate;
}

function raw() {
  const dir = tempDir('store-bench-');
  const db = new Database(path.join(dir, 'raw.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('wal_autocheckpoint = 16384'); // as the store
  for (const m of MIGRATIONS) db.exec(m);
  const ins = db.prepare(`INSERT INTO readings (unit_id, ts, ts_ms, content, body, engine_hours, site_id,
    gateway_id, batch_id, received_at, stored_at, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'ok')`);
  const one = db.transaction((b) => {
    for (const { reading: r, content } of b.readings)
      ins.run(
        r.unitId,
        r.ts,
        Date.parse(r.ts),
        content,
        content,
        r.engineHours,
        'S',
        'gw',
        b.batchId,
        r.receivedAt,
        b.storedAt,
      );
  });
  const bs = batches('r');
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (const b of bs) one(b);
  const rate = (total * 1000) / (performance.now() - t0);
  lastCpuUs = cpuUsPerReading(c0);
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return rate;
}

const rows = [];
for (let r = 0; r < Number(values.reps); r++) {
  const store_ = await store();
  const storeCpuUs = lastCpuUs;
  const raw_ = raw();
  rows.push({ store: store_, raw: raw_, storeCpuUs, rawCpuUs: lastCpuUs });
}
const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const s = med(rows.map((r) => r.store));
const w = med(rows.map((r) => r.raw));
if (values.json) fs.writeFileSync(values.json, JSON.stringify(rows));
console.log(
  `\nSQLite store ingest, ${total} readings in batches of ${batchSize}, ${unitCount} units, medians of ${rows.length}\n`,
);
const sc = med(rows.map((r) => r.storeCpuUs));
const wc = med(rows.map((r) => r.rawCpuUs));
console.log(
  '| store.ingestBatch (readings/s) | raw insert (readings/s) | ratio | store CPU µs/reading | raw CPU µs/reading | CPU ratio raw ÷ store |',
);
console.log('| --- | --- | --- | --- | --- | --- |');
console.log(
  `| ${Math.round(s)} | ${Math.round(w)} | ${(s / w).toFixed(2)} | ${sc.toFixed(1)} | ${wc.toFixed(1)} | ${(wc / sc).toFixed(2)} |`,
);
