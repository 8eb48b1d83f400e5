#!/usr/bin/env node
// Consolidation in this process, on the real cloud (SQLite, site zone Europe/Berlin): units ×
// days of 5-minute readings stored through the store's own ingest (no HTTP), then a full run
// (every unit marked whole) and an incremental run after one hour per unit. For each: wall
// time, this process's CPU time, and the longest the event loop was held (what a batch POSTed
// meanwhile would wait at most per turn). `--cpu-prof` on node profiles it.
// Usage: node cloud/bench/consolidation.mjs [--units 200] [--days 30] [--reps 1] [--db file]
//   --db: keep the loaded database in this file and reuse it when it exists (loading 1.73 M
//   readings takes minutes; a copy is consolidated, so every run starts from the same state).
//   CLOUD_DIST=<build dir> runs another build of the cloud (A/B on the same machine).
import fs from 'node:fs';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { benchArgs, tempDir } from '@ironledger/testkit';

// Options first: --help answers without loading the cloud's build.
const { values } = benchArgs(import.meta.url, {
  units: { type: 'string', default: '200' },
  days: { type: 'string', default: '30' },
  reps: { type: 'string', default: '1' },
  db: { type: 'string' },
});
const here = path.dirname(fileURLToPath(import.meta.url));
const dist = process.env.CLOUD_DIST ?? path.resolve(here, '..', 'dist');
const { startCloud } = await import(path.join(dist, 'app.js'));
const { parseCloudConfig } = await import(path.join(dist, 'config.js'));
const { SqliteStore } = await import(path.join(dist, 'store/sqlite/sqlite-store.js'));

const unitCount = Number(values.units);
const days = Number(values.days);
const STEP_MS = 5 * 60_000;
const units = Array.from({ length: unitCount }, (_, i) => `C${String(i).padStart(4, '0')}`);
const t0 = Date.UTC(2026, 9, 1);

/** The bench scenario's reading (scripts/bench/scenarios/consolidation.mjs): 10 h a day on. */
function reading(unitId, i) {
  const tsMs = t0 + i * STEP_MS;
  const hour = new Date(tsMs).getUTCHours();
  const day = Math.floor(i / 288);
  const onSteps = day * 120 + Math.max(0, Math.min(120, (i % 288) - 72));
  const ts = new Date(tsMs).toISOString();
  return {
    v: 1,
    unitId,
    seq: i,
    ts,
    engineHours: 1000 + (onSteps * 5) / 60,
    idleHours: 100 + (onSteps * 1) / 60,
    engineOn: hour >= 6 && hour < 16,
    receivedAt: ts,
  };
}

let batchNo = 0;
const runTag = `${process.pid}-${Date.now()}`;
async function load(store, fromStep, toStep) {
  let readings = [];
  const flush = async () => {
    if (!readings.length) return;
    await store.ingestBatch({
      gatewayId: 'gw-bench',
      batchId: `b-${runTag}-${batchNo++}`,
      siteId: 'S',
      storedAt: new Date().toISOString(),
      readings,
    });
    readings = [];
  };
  for (let i = fromStep; i < toStep; i++)
    for (const u of units) {
      const r = reading(u, i);
      const text = JSON.stringify(r);
      readings.push({ reading: r, content: text, holdReason: null, flaggedConflict: false, body: text });
      if (readings.length === 1000) await flush();
    }
  await flush();
}

function config(dbPath, dir) {
  return parseCloudConfig({
    http: { port: 0, host: '127.0.0.1' },
    store: { path: dbPath },
    gateways: [{ gatewayId: 'gw-bench', tokenHash: `sha256:${'0'.repeat(64)}`, siteId: 'S' }],
    sites: [{ siteId: 'S', timeZone: 'Europe/Berlin', defaultProjectId: 'P', geofences: [] }],
    projects: [{ projectId: 'P', name: 'Bench' }],
    units: units.map((unitId) => ({ unitId, equipmentClass: 'excavator' })),
    rates: [
      {
        rateId: 'R',
        equipmentClass: 'excavator',
        workingRateMinor: 10_000,
        idleRateMinor: 2_000,
        currency: 'EUR',
        effectiveFrom: '2020-01-01',
      },
    ],
    consolidation: { cron: '' },
    posting: { journalPath: path.join(dir, 'journal.jsonl') },
    log: { level: 'silent' },
  });
}

/** Runs fn, returning wall s, CPU s of this process and the event loop's longest hold (ms). */
async function timed(fn) {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const c0 = process.cpuUsage();
  const w0 = performance.now();
  const out = await fn();
  const wallS = (performance.now() - w0) / 1000;
  const c = process.cpuUsage(c0);
  h.disable();
  return { out, wallS, cpuS: (c.user + c.system) / 1e6, maxLoopMs: h.max / 1e6 };
}

const dir = tempDir('bench-consolidation-');
const dbPath = path.join(dir, 'cloud.db');
const steps = days * 288;
if (values.db && fs.existsSync(values.db)) {
  fs.copyFileSync(values.db, dbPath);
} else {
  const s = new SqliteStore(dbPath);
  const tl = performance.now();
  await load(s, 0, steps);
  console.error(`loaded ${steps * unitCount} readings in ${((performance.now() - tl) / 1000).toFixed(1)} s`);
  s.close?.();
  if (values.db) fs.copyFileSync(dbPath, values.db);
}

const cloud = await startCloud(config(dbPath, dir), { now: () => t0 + (days + 1) * 86_400_000 });
await cloud.consolidate(); // the first run after the load
const rows = [];
let extra = 0;
for (let r = 0; r < Number(values.reps); r++) {
  for (const u of units) await cloud.store.markDirty(u, 0, new Date().toISOString());
  const full = await timed(() => cloud.consolidate());
  const from = steps + extra;
  extra += 12;
  await load(cloud.store, from, from + 12);
  const inc = await timed(() => cloud.consolidate());
  rows.push({ full, inc });
  console.error(
    `rep ${r}: full ${full.wallS.toFixed(2)} s (CPU ${full.cpuS.toFixed(2)} s, loop held ≤ ${full.maxLoopMs.toFixed(0)} ms, ${full.out.unitsTouched} units); ` +
      `incremental ${inc.wallS.toFixed(3)} s (CPU ${inc.cpuS.toFixed(3)} s, loop held ≤ ${inc.maxLoopMs.toFixed(0)} ms, ${inc.out.unitsTouched} units)`,
  );
}
await cloud.stop();
fs.rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify({ units: unitCount, days, readings: steps * unitCount, dist, rows }));
