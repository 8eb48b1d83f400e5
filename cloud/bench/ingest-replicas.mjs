#!/usr/bin/env node
// Cloud ingest benchmark: readings/s that real `ironledger-cloud` processes store and
// acknowledge (POST /v1/batches, gzip, 200 = committed), with 1 and 3 replicas, on SQLite and
// on PostgreSQL, each beside the raw insert ceiling of its database measured in the same run
// (the same rows in the same schema, inserted as fast as the driver allows, no HTTP, no
// validation). Prints a markdown table; the ratio says how much of the ceiling the cloud keeps.
//
// Usage: node cloud/bench/ingest-replicas.mjs [--readings 60000] [--batch 1000] [--in-flight 4]
//        [--senders 6] [--replicas 1,3] [--stores sqlite,postgres] [--warmup 10000] [--json results.json]
// --senders takes a list (1,4,16: gateways posting at once, each with its own gateway id and
// token); each gateway keeps --in-flight requests open, as the edge does (its defaults:
// cloud.batchSize 1000, cloud.maxInFlight 4); --json writes the rows as JSON. Each cloud run
// first stores --warmup readings the same way, untimed (the JIT warms up, the connections open),
// then times --readings more, later ones per unit, as a gateway's next batches would be. The
// raw ceiling of a row is the mean of the ceilings measured right before and right after its
// cloud run.
// PostgreSQL: IRONLEDGER_TEST_PG_URL (default postgres://root:root@127.0.0.1:5432/postgres);
// each run uses a throwaway database it drops afterwards.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { benchArgs, createTempPgDatabase, spawnCommand, spawnNode, tempDir } from '@ironledger/testkit';
import Database from 'better-sqlite3';
import pg from 'pg';
import { request } from 'undici';

// Options first: --help answers without loading the cloud's build.
const { values } = benchArgs(import.meta.url, {
  readings: { type: 'string', default: '60000' },
  batch: { type: 'string', default: '1000' },
  'in-flight': { type: 'string', default: '4' },
  senders: { type: 'string', default: '6' },
  replicas: { type: 'string', default: '1,3' },
  stores: { type: 'string', default: 'sqlite,postgres' },
  units: { type: 'string', default: '100' },
  warmup: { type: 'string', default: '10000' },
  json: { type: 'string' },
});
const here = path.dirname(fileURLToPath(import.meta.url));
// CLOUD_DIST: another build of the cloud (A/B on the same machine); CLOUD_NODE_ARGS: node flags
// for the cloud processes, e.g. "--cpu-prof --cpu-prof-dir=/tmp/p".
const dist = process.env.CLOUD_DIST ?? path.resolve(here, '..', 'dist');
const nodeArgs = (process.env.CLOUD_NODE_ARGS ?? '').split(' ').filter(Boolean);
const { MIGRATIONS } = await import(path.join(dist, 'store/sqlite/migrations.js'));
const { migratePostgres } = await import(path.join(dist, 'store/postgres/migrations.js'));
const { hashToken } = await import(path.join(dist, 'http/auth.js'));
const CLOUD_BIN = path.join(dist, 'main.js');

const total = Number(values.readings);
const batchSize = Number(values.batch);
const inFlight = Number(values['in-flight']);
const senderCounts = values.senders.split(',').map(Number);
let senders = senderCounts[0];
const unitCount = Number(values.units);
const warmup = Number(values.warmup);
const replicaCounts = values.replicas.split(',').map(Number);
const stores = values.stores.split(',');
const TOKEN = 'bench-gateway-token';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Readings of `unitCount` units, one a minute each, from a fixed day; distinct identities. */
function readingsFor(n, offset = 0) {
  const t0 = Date.UTC(2026, 10, 23, 0, 0);
  const out = [];
  for (let i = offset; i < offset + n; i++) {
    const unit = i % unitCount;
    const minute = Math.floor(i / unitCount);
    const ts = new Date(t0 + minute * 60_000).toISOString();
    out.push({
      v: 1,
      unitId: `BENCH-${String(unit).padStart(4, '0')}`,
      seq: minute,
      ts,
      engineHours: 1000 + minute / 60,
      idleHours: 100 + minute / 240,
      engineOn: true,
      receivedAt: ts,
    });
  }
  return out;
}

/** Gateway k of the run (each concurrent sender is a gateway of its own, with its own token). */
const gatewayOf = (k) => `gw-bench-${k}`;
const tokenOf = (k) => `${TOKEN}-${k}`;

/**
 * The batches each gateway sends: a unit reports through one gateway, as on a site (unit u
 * through gateway u mod senders), so concurrent gateways never carry the same unit. By default
 * the measured readings, which follow the warm-up's for each unit; `n` and `offset` pick others.
 */
function batchesPerGateway(tag, n = total, offset = warmup) {
  const own = Array.from({ length: senders }, () => []);
  for (const r of readingsFor(n, offset)) own[Number(r.unitId.slice(6)) % senders].push(r);
  return own.map((readings, k) => {
    const out = [];
    for (let i = 0; i < readings.length; i += batchSize)
      out.push({
        gatewayId: gatewayOf(k),
        batchId: `${tag}-${k}-${i / batchSize}`,
        readings: readings.slice(i, i + batchSize),
      });
    return out;
  });
}

/** All batches, the gateways' in turn (for the raw ceilings). */
function batches(tag) {
  const per = batchesPerGateway(tag);
  const out = [];
  for (let i = 0; out.length < per.reduce((n, b) => n + b.length, 0); i++)
    for (const b of per) if (i < b.length) out.push(b[i]);
  return out;
}

// ---- raw ceilings -------------------------------------------------------------------------

const COLS =
  'unit_id, ts, ts_ms, content, body, engine_hours, idle_hours, odometer_km, lat, lon, site_id, gateway_id, batch_id, received_at, stored_at, status';

function rowOf(r, batchId) {
  const body = JSON.stringify(r);
  return [
    r.unitId,
    r.ts,
    Date.parse(r.ts),
    body,
    body,
    r.engineHours,
    r.idleHours,
    null,
    null,
    null,
    null,
    'gw',
    batchId,
    r.receivedAt,
    r.receivedAt,
    'ok',
  ];
}

/** CPU µs per reading of the last SQLite ceiling measurement (this process, user + system). */
let lastCeilingCpuUs = Number.NaN;

/** CPU seconds (user + system) of a process, from /proc. */
function cpuS(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

function sqliteCeiling() {
  const dir = tempDir('cloud-bench-');
  const db = new Database(path.join(dir, 'raw.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL'); // as the store: a commit is fsynced
  db.pragma('wal_autocheckpoint = 16384'); // as the store
  for (const m of MIGRATIONS) db.exec(m);
  const ins = db.prepare(
    `INSERT INTO readings (${COLS}) VALUES (${COLS.split(',')
      .map(() => '?')
      .join(', ')})`,
  );
  const bs = batches('raw');
  const one = db.transaction((b) => {
    for (const r of b.readings) ins.run(...rowOf(r, b.batchId));
  });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (const b of bs) one(b);
  const s = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  lastCeilingCpuUs = (cpu.user + cpu.system) / total;
  db.close();
  return total / s;
}

async function pgCeiling() {
  const db = await createTempPgDatabase({ prefix: 'ironledger_bench' });
  try {
    const setup = new pg.Client({ connectionString: db.url });
    await setup.connect();
    await migratePostgres(setup);
    await setup.end();
    const bs = batches('raw');
    let next = 0;
    const worker = async () => {
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      for (let i = next++; i < bs.length; i = next++) {
        const rows = bs[i].readings.map((r) => rowOf(r, bs[i].batchId));
        const cols = COLS.split(',').map((_, j) => rows.map((row) => row[j]));
        const types = [
          'text',
          'text',
          'bigint',
          'text',
          'text',
          'float8',
          'float8',
          'float8',
          'float8',
          'float8',
          'text',
          'text',
          'text',
          'text',
          'text',
          'text',
        ];
        await c.query('BEGIN');
        await c.query(
          `INSERT INTO readings (${COLS}) SELECT x1, x2, x3, x4, x5::jsonb, x6, x7, x8, x9, x10, x11, x12, x13, x14, x15, x16
           FROM unnest(${types.map((t, j) => `$${j + 1}::${t}[]`).join(', ')}) AS x(${types.map((_, j) => `x${j + 1}`).join(', ')})`,
          cols,
        );
        await c.query('COMMIT');
      }
      await c.end();
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: senders }, worker));
    return total / ((performance.now() - t0) / 1000);
  } finally {
    await db.drop();
  }
}

// ---- the cloud ----------------------------------------------------------------------------

function writeConfig(dir, store) {
  const units = Array.from({ length: unitCount }, (_, i) => ({
    unitId: `BENCH-${String(i).padStart(4, '0')}`,
    equipmentClass: 'excavator',
  }));
  const config = {
    http: { port: 0, maxConcurrentIngests: 16 },
    store,
    gateways: Array.from({ length: Math.max(...senderCounts) }, (_, k) => ({
      gatewayId: gatewayOf(k),
      tokenHash: hashToken(tokenOf(k)),
      siteId: 'S',
    })),
    sites: [{ siteId: 'S', timeZone: 'UTC', defaultProjectId: 'P', geofences: [] }],
    projects: [{ projectId: 'P', name: 'Bench' }],
    units,
    consolidation: { cron: '' },
    posting: { journalPath: path.join(dir, 'journal.jsonl') },
    log: { level: 'info' },
  };
  const file = path.join(dir, 'cloud.json');
  fs.writeFileSync(file, JSON.stringify(config));
  return file;
}

async function cloudRun(storeKind, replicas) {
  const dir = tempDir('cloud-bench-');
  const pgDb = storeKind === 'postgres' ? await createTempPgDatabase({ prefix: 'ironledger_bench' }) : null;
  const store = pgDb ? { url: pgDb.url } : { path: path.join(dir, 'cloud.db') };
  const file = writeConfig(dir, store);
  const procs = [];
  try {
    // Schema first, once: replicas then start on a current database.
    const m = spawnNode(CLOUD_BIN, ['migrate', '--config', file]);
    if ((await m.exited) !== 0) throw new Error(`migrate failed: ${m.stderr()}`);
    for (let i = 0; i < replicas; i++)
      procs.push(
        spawnCommand(process.execPath, [...nodeArgs, CLOUD_BIN, '--config', file], { name: `cloud-${i}` }),
      );
    const urls = [];
    for (const p of procs) urls.push((await p.waitForEvent('ready', {}, 60_000)).url);
    const gzipped = (per) => per.map((bs) => bs.map((b) => gzipSync(JSON.stringify(b))));
    const warmBodies =
      warmup > 0 ? gzipped(batchesPerGateway(`${storeKind}-${replicas}-warm`, warmup, 0)) : null;
    const bodies = gzipped(batchesPerGateway(`${storeKind}-${replicas}`));
    let retries = 0;
    // Gateway k: `inFlight` requests open at once, each batch retried until stored.
    const send = async (list, k) => {
      let next = 0;
      await Promise.all(Array.from({ length: inFlight }, () => slot()));
      async function slot() {
        for (let i = next++; i < list[k].length; i = next++) await post(list[k][i], k, i);
      }
    };
    const post = async (body, k, i) => {
      for (;;) {
        const url = urls[(i + k) % urls.length];
        const res = await request(`${url}/v1/batches`, {
          method: 'POST',
          body,
          headers: {
            authorization: `Bearer ${tokenOf(k)}`,
            'content-encoding': 'gzip',
            'content-type': 'application/json',
          },
        });
        const text = await res.body.text();
        if (res.statusCode === 200) break;
        if (res.statusCode === 503 || res.statusCode === 429) {
          retries++;
          await sleep(20);
          continue;
        }
        throw new Error(`batch ${i}: ${res.statusCode} ${text}`);
      }
    };
    if (warmBodies) {
      await Promise.all(Array.from({ length: senders }, (_, k) => send(warmBodies, k)));
      retries = 0;
    }
    const cpu0 = procs.reduce((sum, p) => sum + cpuS(p.child.pid), 0);
    const t0 = performance.now();
    await Promise.all(Array.from({ length: senders }, (_, k) => send(bodies, k)));
    const rate = total / ((performance.now() - t0) / 1000);
    const cpuUs = ((procs.reduce((sum, p) => sum + cpuS(p.child.pid), 0) - cpu0) * 1e6) / total;
    return { rate, retries, cpuUs };
  } finally {
    for (const p of procs) await p.stop(10_000).catch(() => p.kill9());
    await pgDb?.drop();
  }
}

const fmt = (n) => Math.round(n).toLocaleString('en-US');
const rows = [];
for (const s of stores) {
  // PostgreSQL's ceiling: as many connections as the most senders, at most 4 (2 cores here).
  // Measured right before and after each cloud run, and averaged: both sides see the same load.
  const ceilingNow = async () => {
    senders = Math.min(4, Math.max(...senderCounts));
    return s === 'sqlite' ? sqliteCeiling() : await pgCeiling();
  };
  let before = await ceilingNow();
  for (const n of replicaCounts)
    for (const k of senderCounts) {
      senders = k;
      const { rate, retries, cpuUs } = await cloudRun(s, n);
      const rawCpuUs = s === 'sqlite' ? lastCeilingCpuUs : Number.NaN;
      const after = await ceilingNow();
      const ceiling = (before + after) / 2;
      process.stderr.write(`${s}: raw insert ceiling ${fmt(before)} / ${fmt(after)} readings/s\n`);
      before = after;
      process.stderr.write(
        `${s}: ${n} replica(s), ${k} sender(s) ${fmt(rate)} readings/s (${retries} overload retries)\n`,
      );
      rows.push({
        store: s,
        replicas: n,
        senders: k,
        rate,
        ceiling,
        ratio: rate / ceiling,
        retries,
        cpuUs,
        rawCpuUs,
      });
    }
}
if (values.json) fs.writeFileSync(values.json, JSON.stringify(rows));
console.log(`\nCloud ingest, ${fmt(total)} readings in batches of ${batchSize}, ${unitCount} units\n`);
console.log(
  '| store | replicas | concurrent senders | cloud ingest (readings/s) | raw insert ceiling (readings/s) | ratio | 503 retries | cloud CPU µs/reading | raw CPU µs/reading |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows)
  console.log(
    `| ${r.store} | ${r.replicas} | ${r.senders} | ${fmt(r.rate)} | ${fmt(r.ceiling)} | ${r.ratio.toFixed(2)} | ${r.retries} | ${r.cpuUs.toFixed(1)} | ${Number.isNaN(r.rawCpuUs) ? '–' : r.rawCpuUs.toFixed(1)} |`,
  );
