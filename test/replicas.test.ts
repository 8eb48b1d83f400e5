/**
 * Three stateless cloud replicas on one PostgreSQL database, end to end on real processes: a
 * simulated fleet publishes a day over MQTT to the edge, which forwards batches through a
 * round-robin proxy (some batches sent to two replicas at the same moment) to the replicas;
 * one replica is SIGKILLed mid-ingest and restarted. Consolidation runs on two replicas at
 * once. Posting to the Odoo double starts on two replicas at the same moment, and one of them
 * is SIGKILLed while Odoo holds its answers; the others finish once its claims' lease ends.
 *
 * Ends with what the business needs: every acknowledged reading stored once (read from the
 * database), usage equal to the simulator's truth, every approved allocation in Odoo exactly
 * once (read from the double's records), and reconciliation clean. On the way, a unit created
 * through one replica is accepted by another without a restart (master data is shared).
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  type Allocation,
  AllocationsResponseSchema,
  PostResponseSchema,
  ReconcileResponseSchema,
  StatusResponseSchema,
} from '@ironledger/contracts';
import {
  BIN,
  createTempPgDatabase,
  freePort,
  type OdooDouble,
  type RoundRobinProxy,
  removeDir,
  requirePg,
  runCommand,
  type SpawnedProcess,
  spawnNode,
  startOdooDouble,
  startRoundRobinProxy,
  type TempPgDatabase,
  tempDir,
  waitFor,
} from '@ironledger/testkit';
import pg from 'pg';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type OdooSeed,
  odooEnv,
  odooFigures,
  postedHours,
  postingConfig,
  printWorld,
  type SimWorld,
  seedOdoo,
} from './posting-harness.js';

const pgOn = await requirePg();

const UNITS = 6;
const SEED = 23;
const DAY = '2026-11-02';
const PERIOD = '2026-11';
const REPLICAS = 3;
const sha256 = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`;

interface TruthUsage {
  unitId: string;
  day: string;
  projectId: string;
  engineHours: number;
  idleHours: number;
  workingHours: number;
}

function distinctAcked(file: string): number {
  const ids = new Set<string>();
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const r = JSON.parse(line) as { unitId: string; ts: string };
    ids.add(`${r.unitId}@${r.ts}`);
  }
  return ids.size;
}

describe.skipIf(!pgOn)('three cloud replicas on one PostgreSQL behind a round-robin proxy', () => {
  let dir: string;
  let db: TempPgDatabase;
  let odoo: OdooDouble;
  let world: SimWorld;
  let seed: OdooSeed;
  let proxy: RoundRobinProxy;
  let edge: SpawnedProcess;
  let edgeStatusUrl: string;
  let mqttPort: number;
  let cloudConfigPath: string;
  const tokens = { gateway: randomBytes(24).toString('hex'), admin: randomBytes(24).toString('hex') };
  const paths = { truth: '', acked: '', credentials: '' };
  /** Live replicas by slot; every process ever started is kept for its logs. */
  const replicas: Array<{ p: SpawnedProcess; url: string }> = [];
  const everyProcess: SpawnedProcess[] = [];
  let sql: pg.Client;

  const startReplica = async (slot: number) => {
    const p = spawnNode(BIN.cloud, ['--config', cloudConfigPath], {
      name: `cloud-${slot}`,
      env: { DATABASE_URL: db.url, ...odooEnv(odoo) },
    });
    everyProcess.push(p);
    const ready = await p.waitForEvent('ready', {}, 60_000);
    replicas[slot] = { p, url: ready.url as string };
    proxy?.setUpstreams(replicas.map((r) => r.url));
  };

  const api = async (base: string, method: string, route: string, body?: unknown) => {
    const res = await request(`${base}${route}`, {
      method: method as 'GET' | 'POST',
      headers: {
        authorization: `Bearer ${tokens.admin}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: body !== undefined ? JSON.stringify(body) : null,
    });
    const text = await res.body.text();
    return { status: res.statusCode, json: text ? (JSON.parse(text) as unknown) : null };
  };
  const ok = async (base: string, method: string, route: string, body?: unknown) => {
    const r = await api(base, method, route, body);
    if (r.status >= 300) throw new Error(`${method} ${route} → ${r.status}: ${JSON.stringify(r.json)}`);
    return r.json;
  };
  const allocations = async (): Promise<Allocation[]> =>
    AllocationsResponseSchema.parse(await ok(proxy.url, 'GET', '/v1/allocations')).allocations;
  const cli = (args: string[]) =>
    runCommand(BIN.cli, args, { IRONLEDGER_URL: proxy.url, IRONLEDGER_TOKEN: tokens.admin, NO_COLOR: '1' });
  const runSim = (args: string[]) =>
    runCommand(BIN.sim, [
      '--broker',
      `mqtt://127.0.0.1:${mqttPort}`,
      '--units',
      String(UNITS),
      '--seed',
      String(SEED),
      '--credentials',
      paths.credentials,
      ...args,
    ]);

  beforeAll(async () => {
    dir = tempDir('ironledger-replicas-');
    paths.truth = path.join(dir, 'truth.json');
    paths.acked = path.join(dir, 'acked.jsonl');
    paths.credentials = path.join(dir, 'credentials.json');
    db = await createTempPgDatabase();
    sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    odoo = await startOdooDouble();
    world = await printWorld(UNITS, SEED);
    seed = seedOdoo(odoo, world);

    const secrets = Object.fromEntries(world.units.map((u) => [u.unitId, randomBytes(12).toString('hex')]));
    fs.writeFileSync(paths.credentials, JSON.stringify(secrets));
    const unitAuth = await Promise.all(
      world.units.map(async (u) => {
        const r = await runCommand(BIN.edge, ['hash-secret', secrets[u.unitId]!]);
        if (r.code !== 0) throw new Error(`hash-secret: ${r.stderr}`);
        return { unitId: u.unitId, secretHash: r.stdout.trim() };
      }),
    );
    const classes = [...new Set(world.units.map((u) => u.equipmentClass))];
    const cloudConfig = {
      http: { host: '127.0.0.1', port: 0 },
      // The database URL comes from DATABASE_URL; the leases are short so that a killed
      // replica's work is taken over within the test.
      store: { consolidationLeaseMs: 3000, postingLeaseMs: 3000 },
      gateways: [
        { gatewayId: 'gw-replicas', tokenHash: sha256(tokens.gateway), siteId: world.sites[0]!.siteId },
      ],
      auth: { tokens: [{ name: 'replicas-admin', role: 'admin', tokenHash: sha256(tokens.admin) }] },
      sites: world.sites,
      projects: world.projects,
      units: world.units,
      rates: classes.map((c) => ({
        rateId: `rate-${c}`,
        equipmentClass: c,
        workingRateMinor: 8500,
        idleRateMinor: 2500,
        currency: 'USD',
        effectiveFrom: '2020-01-01',
      })),
      ...postingConfig(world, 'analytic', 'json2'),
      log: { level: 'info' },
    };
    cloudConfigPath = path.join(dir, 'cloud.config.json');
    fs.writeFileSync(cloudConfigPath, JSON.stringify(cloudConfig, null, 2));

    const migrate = await runCommand(BIN.cloud, ['migrate', '--config', cloudConfigPath], {
      DATABASE_URL: db.url,
      ...odooEnv(odoo),
    });
    expect(migrate.code, migrate.stderr).toBe(0);
    // Replicas start together, as a deployment would start them.
    await Promise.all(Array.from({ length: REPLICAS }, (_, i) => startReplica(i)));
    proxy = await startRoundRobinProxy({
      upstreams: replicas.map((r) => r.url),
      // Every third batch goes to two replicas at the same moment.
      duplicate: (r, n) => r.method === 'POST' && r.path === '/v1/batches' && n % 3 === 1,
    });

    mqttPort = await freePort();
    const edgeConfig = {
      gatewayId: 'gw-replicas',
      mqtt: { mode: 'embedded', host: '127.0.0.1', port: mqttPort },
      auth: { mode: 'units', units: unitAuth },
      buffer: { path: path.join(dir, 'edge.db') },
      cloud: { url: proxy.url, token: tokens.gateway, batchSize: 50, maxBatchAgeMs: 200 },
      http: { host: '127.0.0.1', port: 0 },
      log: { level: 'info' },
    };
    const edgeConfigPath = path.join(dir, 'edge.config.json');
    fs.writeFileSync(edgeConfigPath, JSON.stringify(edgeConfig, null, 2));
    edge = spawnNode(BIN.edge, ['--config', edgeConfigPath], { name: 'edge' });
    const edgeReady = await edge.waitForEvent('ready', {}, 30_000);
    edgeStatusUrl = `http://127.0.0.1:${edgeReady.httpPort as number}/v1/status`;
  }, 300_000);

  afterAll(async () => {
    await edge?.stop().catch(() => {});
    for (const r of replicas) await r?.p.stop().catch(() => {});
    await proxy?.close();
    await odoo?.stop();
    await sql?.end().catch(() => {});
    await db?.drop();
    if (dir) removeDir(dir);
  });

  it('stores every acknowledged reading once, through duplicated batches and a replica killed mid-ingest', {
    timeout: 300_000,
  }, async () => {
    const sim = runSim([
      '--days',
      '1',
      '--start',
      DAY,
      '--interval',
      '2m',
      '--as-fast-as-possible',
      '--truth',
      paths.truth,
      '--acked',
      paths.acked,
    ]);
    // Mid-ingest: as soon as the victim has stored a batch, while the edge keeps forwarding.
    const victim = replicas[1]!;
    await victim.p.waitForEvent('batch_stored', {}, 60_000);
    await victim.p.kill9();
    const simResult = await sim;
    expect(simResult.code, simResult.stderr).toBe(0);
    await startReplica(1);

    const acked = distinctAcked(paths.acked);
    expect(acked).toBeGreaterThan(UNITS * 600); // 6 units × 720 two-minute readings
    await waitFor(
      async () => {
        const s = StatusResponseSchema.parse(await ok(proxy.url, 'GET', '/v1/status'));
        if (s.pipeline.readings < acked) return false;
        const e = (await (await fetch(edgeStatusUrl)).json()) as { queuedReadings?: number };
        return (e.queuedReadings ?? 0) === 0;
      },
      { timeoutMs: 120_000, intervalMs: 200, what: `the replicas to hold ${acked} readings` },
    );

    const counts = await sql.query(
      'SELECT count(*)::int AS n, count(DISTINCT (unit_id, ts))::int AS identities FROM readings',
    );
    expect(counts.rows[0]).toEqual({ n: acked, identities: acked });
    // The races really happened: batches sent to two replicas at once were answered as
    // replays, and the proxy met the dead replica while the edge was still forwarding.
    expect(proxy.stats().duplicated).toBeGreaterThan(0);
    expect(proxy.stats().upstreamErrors).toBeGreaterThan(0);
    const replayed = everyProcess.flatMap((p) => p.logs()).filter((l) => l.event === 'batch_replayed');
    const stored = everyProcess.flatMap((p) => p.logs()).filter((l) => l.event === 'batch_stored');
    expect(replayed.length).toBeGreaterThan(0);
    // No batch was stored twice. A row whose 'batch_stored' line is missing was committed by
    // the victim in the instant before SIGKILL; the edge never had its answer, so it sent the
    // batch again and another replica answered it as a replay.
    const storedIds = stored.map((l) => l.batchId as string);
    expect(storedIds.length).toBe(new Set(storedIds).size);
    const rowIds = (await sql.query('SELECT batch_id FROM batches')).rows.map((r) => r.batch_id as string);
    expect(storedIds.filter((id) => !rowIds.includes(id))).toEqual([]);
    const answered = new Set([...storedIds, ...replayed.map((l) => l.batchId as string)]);
    expect(rowIds.filter((id) => !answered.has(id))).toEqual([]);
  });

  it('a unit created through one replica is accepted by another at once', async () => {
    const unit = { unitId: 'EXC-NEW-1', equipmentClass: 'excavator', siteId: world.sites[0]!.siteId };
    expect((await api(replicas[0]!.url, 'POST', '/v1/units', unit)).status).toBe(201);
    const at = '2026-11-03T06:00:00.000Z';
    const batch = {
      gatewayId: 'gw-replicas',
      batchId: 'new-unit-1',
      readings: [{ v: 1, unitId: unit.unitId, ts: at, engineHours: 10, receivedAt: at }],
    };
    // Replica 2 never saw the admin call: it hears of it from the database (LISTEN/NOTIFY).
    await waitFor(
      async () => {
        const res = await request(`${replicas[2]!.url}/v1/batches`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${tokens.gateway}`,
            'content-type': 'application/json',
            'content-encoding': 'gzip',
          },
          body: gzipSync(JSON.stringify(batch)),
        });
        await res.body.dump();
        return res.statusCode === 200;
      },
      { timeoutMs: 10_000, what: 'replica 2 to accept the new unit' },
    );
    // Its reading is on another day; the day under test is unaffected.
  });

  it('consolidates on two replicas at once into usage equal to the simulator’s truth', async () => {
    const [a, b] = await Promise.all([
      ok(replicas[0]!.url, 'POST', '/v1/consolidate', {}),
      ok(replicas[2]!.url, 'POST', '/v1/consolidate', {}),
    ]);
    expect(a).toBeTruthy();
    expect(b).toBeTruthy();
    // Whatever one run left (a unit the other held), one more run finishes.
    await ok(proxy.url, 'POST', '/v1/consolidate', {});
    const usage = (await ok(proxy.url, 'GET', `/v1/usage?from=${DAY}&to=${DAY}`)) as { rows: TruthUsage[] };
    const truth = JSON.parse(fs.readFileSync(paths.truth, 'utf8')) as { usage: TruthUsage[] };
    const key = (r: TruthUsage) => `${r.unitId}|${r.day}|${r.projectId}`;
    const expected = new Map(truth.usage.filter((t) => t.day === DAY).map((t) => [key(t), t]));
    const actual = new Map(usage.rows.map((r) => [key(r), r]));
    expect(truth.usage.reduce((s, t) => s + t.engineHours, 0)).toBeGreaterThan(4);
    for (const k of new Set([...expected.keys(), ...actual.keys()])) {
      const t = expected.get(k);
      const r = actual.get(k);
      expect(
        Math.abs((r?.engineHours ?? 0) - (t?.engineHours ?? 0)),
        `engine hours ${k}`,
      ).toBeLessThanOrEqual(0.01);
      expect(Math.abs((r?.idleHours ?? 0) - (t?.idleHours ?? 0)), `idle hours ${k}`).toBeLessThanOrEqual(
        0.01,
      );
    }
  });

  it('posts every approved allocation to Odoo exactly once, from two replicas at once, one killed mid-post', {
    timeout: 300_000,
  }, async () => {
    const approve = await cli(['allocations', 'approve', '--from', DAY, '--to', DAY, '--yes']);
    expect(approve.code, approve.stderr).toBe(0);
    const approved = (await allocations()).filter((a) => a.day === DAY && a.status === 'approved');
    expect(approved.length).toBeGreaterThan(3);
    const ids = approved.map((a) => a.id).sort((x, y) => Number(x) - Number(y));
    const third = Math.ceil(ids.length / 3);
    // Overlapping halves: the middle third is asked of both replicas at the same moment.
    const idsA = ids.slice(0, 2 * third);
    const idsB = ids.slice(third);
    const keys = new Set(approved.map((a) => a.key));
    const inOdoo = () => [...odooFigures(odoo, 'analytic').keys()].filter((k) => keys.has(k)).length;

    // Odoo carries out each create and holds back its answer: the killed replica never hears.
    odoo.setDelay(1500, { after: true, method: 'create', model: 'account.analytic.line' });
    const victim = replicas[0]!;
    const onA = api(victim.url, 'POST', '/v1/post', { ids: idsA }).catch((e: unknown) => e);
    const onB = api(replicas[2]!.url, 'POST', '/v1/post', { ids: idsB });
    await waitFor(() => inOdoo() > 0, { what: 'Odoo to hold a first record' });
    await victim.p.kill9();
    expect(await onA).toBeInstanceOf(Error); // its connection died with it
    const b = await onB;
    expect(b.status, JSON.stringify(b.json)).toBeLessThan(500);
    odoo.setDelay(0);
    await startReplica(0);

    // The killed replica's claims end with their lease; any replica then finishes its work,
    // finding what Odoo already holds by ref instead of creating it again.
    await waitFor(
      async () => {
        const r = PostResponseSchema.parse((await api(proxy.url, 'POST', '/v1/post', {})).json);
        expect(r.failed).toEqual([]);
        const now = await allocations();
        return now.filter((a) => keys.has(a.key)).every((a) => a.status === 'posted');
      },
      { timeoutMs: 60_000, intervalMs: 500, what: 'every approved allocation to be posted' },
    );

    const figures = odooFigures(odoo, 'analytic');
    const posted = (await allocations()).filter((a) => keys.has(a.key));
    for (const a of posted) {
      const f = figures.get(a.key);
      expect(f, `${a.key} in Odoo`).toBeDefined();
      expect(f, a.key).toMatchObject({
        records: 1,
        amountMinor: a.amountMinor,
        hours: postedHours(a.engineHours),
        date: a.day,
        projectAccount: seed.projectAccount.get(a.projectId),
      });
      expect(a.odoo?.id, a.key).toBe(f!.ids[0]);
    }
    expect(inOdoo()).toBe(approved.length);
  });

  it('reconciles to the cent', async () => {
    const rec = ReconcileResponseSchema.parse(await ok(proxy.url, 'GET', `/v1/reconcile?period=${PERIOD}`));
    expect(rec.differences).toEqual([]);
    expect(rec.rows.length).toBeGreaterThan(0);
    for (const row of rec.rows) expect(row.odooAmountMinor, row.projectId).toBe(row.localAmountMinor);
  });
});
