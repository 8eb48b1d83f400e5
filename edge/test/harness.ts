/**
 * Real-process harness for the edge's end-to-end fault tests (test/edge-*.test.ts): the real
 * cloud binary on SQLite, the real edge binary, a real Mosquitto when asked, and units that
 * are plain mqtt.js clients recording every PUBACK they saw — the ground truth of what a
 * unit may forget.
 */

import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { BIN, freePort, type SpawnedProcess, spawnCommand, spawnNode, waitFor } from '@ironledger/testkit';
import Database from 'better-sqlite3';
import mqtt, { type MqttClient } from 'mqtt';
import { expect } from 'vitest';
import { hashSecret } from '../src/secrets.js';

export const MOSQUITTO =
  ['/usr/sbin/mosquitto', '/usr/bin/mosquitto', '/usr/local/sbin/mosquitto'].find((p) => fs.existsSync(p)) ??
  null;
export const MOSQUITTO_PASSWD =
  ['/usr/bin/mosquitto_passwd', '/usr/local/bin/mosquitto_passwd'].find((p) => fs.existsSync(p)) ?? null;

const sha256 = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`;

export interface CloudHandle {
  url: string;
  port: number;
  dbPath: string;
  proc: SpawnedProcess;
  adminToken: string;
  gatewayToken: string;
  start(): Promise<void>;
  kill9(): Promise<void>;
  /** Identities (unitId@ts) the cloud holds, and the row count. */
  readings(): { keys: Set<string>; rows: number };
  gatewayStatus(): Promise<Record<string, unknown> | undefined>;
}

export async function startCloud(
  dir: string,
  unitIds: string[],
  gatewayId: string,
  opts: { tls?: { certFile: string; keyFile: string } } = {},
): Promise<CloudHandle> {
  const port = await freePort();
  const adminToken = randomBytes(16).toString('hex');
  const gatewayToken = randomBytes(16).toString('hex');
  const dbPath = path.join(dir, 'cloud.db');
  const cfg = {
    http: { host: '127.0.0.1', port, retryAfterS: 1, ...(opts.tls ? { tls: opts.tls } : {}) },
    store: { path: dbPath },
    gateways: [{ gatewayId, tokenHash: sha256(gatewayToken), siteId: 'site-a' }],
    auth: { tokens: [{ name: 'test-admin', role: 'admin', tokenHash: sha256(adminToken) }] },
    sites: [{ siteId: 'site-a', name: 'Site A', timeZone: 'UTC', defaultProjectId: 'P-A', geofences: [] }],
    projects: [{ projectId: 'P-A', name: 'Project A' }],
    units: unitIds.map((unitId) => ({ unitId, equipmentClass: 'excavator', siteId: 'site-a' })),
    log: { level: 'info' },
  };
  const cfgPath = path.join(dir, 'cloud.config.json');
  fs.writeFileSync(cfgPath, JSON.stringify(cfg));
  const h: CloudHandle = {
    url: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    dbPath,
    adminToken,
    gatewayToken,
    proc: undefined as unknown as SpawnedProcess,
    async start() {
      h.proc = spawnNode(BIN.cloud, ['--config', cfgPath], { name: 'cloud' });
      await h.proc.waitForEvent('ready', {}, 30_000);
    },
    async kill9() {
      await h.proc.kill9();
    },
    readings() {
      if (!fs.existsSync(dbPath)) return { keys: new Set(), rows: 0 };
      const db = new Database(dbPath, { readonly: true, fileMustExist: true });
      try {
        db.pragma('busy_timeout = 5000');
        const rows = db.prepare('SELECT unit_id, ts FROM readings').all() as Array<{
          unit_id: string;
          ts: string;
        }>;
        return { keys: new Set(rows.map((r) => `${r.unit_id}@${r.ts}`)), rows: rows.length };
      } finally {
        db.close();
      }
    },
    async gatewayStatus() {
      const r = await fetch(`${h.url}/v1/status`, { headers: { authorization: `Bearer ${adminToken}` } });
      const s = (await r.json()) as { gateways: Array<Record<string, unknown>> };
      return s.gateways.find((g) => g.gatewayId === gatewayId);
    },
  };
  await h.start();
  return h;
}

export interface Credentials {
  secrets: Record<string, string>;
  hashes: Array<{ unitId: string; secretHash: string }>;
}

export function makeCredentials(unitIds: string[]): Credentials {
  const secrets: Record<string, string> = {};
  const hashes = unitIds.map((unitId) => {
    secrets[unitId] = randomBytes(8).toString('hex');
    return { unitId, secretHash: hashSecret(secrets[unitId]!) };
  });
  return { secrets, hashes };
}

export interface MosquittoHandle {
  port: number;
  url: string;
  proc: SpawnedProcess;
  stop(): Promise<void>;
}

/** A real Mosquitto with per-unit passwords and the per-unit ACL, persistent sessions on. */
export async function startMosquitto(
  dir: string,
  creds: Credentials,
  edgeUser: { username: string; password: string },
): Promise<MosquittoHandle> {
  if (!MOSQUITTO || !MOSQUITTO_PASSWD) throw new Error('mosquitto is not installed');
  const port = await freePort();
  // Mosquitto started as root drops to its own user: it must be able to read our files.
  fs.chmodSync(dir, 0o755);
  const pw = path.join(dir, 'mosquitto.passwd');
  fs.writeFileSync(pw, '');
  for (const [u, s] of [...Object.entries(creds.secrets), [edgeUser.username, edgeUser.password] as const]) {
    const r = spawnSync(MOSQUITTO_PASSWD, ['-b', pw, u, s]);
    if (r.status !== 0) throw new Error(`mosquitto_passwd: ${r.stderr}`);
  }
  const acl = path.join(dir, 'mosquitto.acl');
  fs.writeFileSync(
    acl,
    [
      `user ${edgeUser.username}`,
      'topic read ironledger/v1/units/+/telemetry',
      'topic read ironledger/v1/units/+/aemp',
      'topic write ironledger/v1/units/+/cmd',
      '',
      '# every unit: its own topics only',
      'pattern write ironledger/v1/units/%u/telemetry',
      'pattern write ironledger/v1/units/%u/aemp',
      'pattern readwrite ironledger/v1/units/%u/status',
      'pattern read ironledger/v1/units/%u/cmd',
      '',
    ].join('\n'),
  );
  const conf = path.join(dir, 'mosquitto.conf');
  fs.writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous false',
      `password_file ${pw}`,
      `acl_file ${acl}`,
      'persistence false',
      'max_queued_messages 1000000',
      'max_inflight_messages 100',
      'log_type error',
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      '',
    ].join('\n'),
  );
  for (const f of [pw, acl, conf]) fs.chmodSync(f, 0o644);
  const proc = spawnCommand(MOSQUITTO, ['-c', conf], { name: 'mosquitto' });
  await waitFor(
    async () => {
      if (proc.child.exitCode !== null) throw new Error(`mosquitto exited: ${proc.stderr()}`);
      const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, {
        username: edgeUser.username,
        password: edgeUser.password,
        reconnectPeriod: 0,
        connectTimeout: 1000,
      });
      const ok = await new Promise<boolean>((r) => {
        c.once('connect', () => r(true));
        c.once('error', () => r(false));
        c.once('close', () => r(false));
      });
      c.end(true);
      return ok;
    },
    { timeoutMs: 10_000, what: 'mosquitto to accept connections' },
  );
  return { port, url: `mqtt://127.0.0.1:${port}`, proc, stop: async () => void (await proc.stop()) };
}

export interface EdgeHandle {
  configPath: string;
  dbPath: string;
  proc: SpawnedProcess;
  mqttPort: number;
  httpPort: number;
  start(): Promise<void>;
  kill9(): Promise<void>;
  stop(): Promise<number | string>;
  status(): Promise<Record<string, unknown>>;
  metrics(): Promise<string>;
}

export async function startEdge(dir: string, config: Record<string, unknown>): Promise<EdgeHandle> {
  const configPath = path.join(dir, 'edge.config.json');
  fs.writeFileSync(configPath, JSON.stringify(config, null, 2));
  const h: EdgeHandle = {
    configPath,
    dbPath: (config.buffer as { path: string }).path,
    proc: undefined as unknown as SpawnedProcess,
    mqttPort: 0,
    httpPort: 0,
    async start() {
      h.proc = spawnNode(BIN.edge, ['--config', configPath], { name: 'edge' });
      const ready = await h.proc.waitForEvent('ready', {}, 30_000);
      h.mqttPort = ready.mqttPort as number;
      h.httpPort = ready.httpPort as number;
    },
    async kill9() {
      await h.proc.kill9();
    },
    stop: () => h.proc.stop(),
    async status() {
      const r = await fetch(`http://127.0.0.1:${h.httpPort}/v1/status`);
      return (await r.json()) as Record<string, unknown>;
    },
    async metrics() {
      return (await fetch(`http://127.0.0.1:${h.httpPort}/metrics`)).text();
    },
  };
  await h.start();
  return h;
}

/** A site as the edge fault tests run it: the real cloud, the edge, and Mosquitto when external. */
export interface Site {
  cloud: CloudHandle;
  edge: EdgeHandle;
  mosq: MosquittoHandle | null;
  creds: Credentials;
  /** The broker's username and password for the edge (external mode). */
  edgeUser: { username: string; password: string };
  /** Where units connect: the embedded broker or Mosquitto. */
  unitUrl: string;
  /** Stops the edge, Mosquitto and the cloud (in that order). */
  stop(): Promise<void>;
}

export interface SiteOptions {
  mode: 'embedded' | 'external';
  unitIds: string[];
  gatewayId: string;
  /** More of the edge's `mqtt` section (e.g. a Mosquitto `clientId`). */
  mqtt?: Record<string, unknown>;
  /** More of the edge's `buffer` section; the file is `<dir>/edge.db`. */
  buffer?: Record<string, unknown>;
  /** More of the edge's `cloud` section (batch size, batch age, backoff). */
  forward?: Record<string, unknown>;
  /** More top-level edge config (log, http). */
  edge?: Record<string, unknown>;
  /** Started with the cloud down (SIGKILLed once it was up). */
  cloudDown?: boolean;
  /**
   * Embedded mode: write the broker port the edge got into its config, so units keep their
   * broker address across edge restarts.
   */
  pinMqttPort?: boolean;
}

export async function startSite(dir: string, opts: SiteOptions): Promise<Site> {
  const cloud = await startCloud(dir, opts.unitIds, opts.gatewayId);
  if (opts.cloudDown) await cloud.kill9();
  const creds = makeCredentials(opts.unitIds);
  const edgeUser = { username: 'ironledger-edge', password: 'edge-secret' };
  const mosq = opts.mode === 'external' ? await startMosquitto(dir, creds, edgeUser) : null;
  const edge = await startEdge(dir, {
    gatewayId: opts.gatewayId,
    mqtt: mosq
      ? { mode: 'external', url: mosq.url, ...edgeUser, ...opts.mqtt }
      : { mode: 'embedded', port: 0, ...opts.mqtt },
    auth: { units: creds.hashes },
    buffer: { path: path.join(dir, 'edge.db'), ...opts.buffer },
    cloud: { url: cloud.url, token: cloud.gatewayToken, ...opts.forward },
    http: { port: 0 },
    ...opts.edge,
  });
  if (!mosq && opts.pinMqttPort) {
    const cfg = JSON.parse(fs.readFileSync(edge.configPath, 'utf8'));
    cfg.mqtt.port = edge.mqttPort;
    fs.writeFileSync(edge.configPath, JSON.stringify(cfg));
  }
  return {
    cloud,
    edge,
    mosq,
    creds,
    edgeUser,
    unitUrl: mosq ? mosq.url : `mqtt://127.0.0.1:${edge.mqttPort}`,
    async stop() {
      await edge.stop();
      await mosq?.stop();
      await cloud.proc.stop();
    },
  };
}

export function metricValue(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line ? Number(line.split(' ').pop()) : Number.NaN;
}

export function reading(
  unitId: string,
  i: number,
  startMs = Date.parse('2026-11-02T00:00:00.000Z'),
  stepMs = 15_000,
) {
  const ts = new Date(startMs + i * stepMs).toISOString();
  return {
    v: 1,
    unitId,
    seq: i,
    ts,
    engineHours: 1000 + i / 240,
    idleHours: 100 + i / 960,
    engineOn: true,
    position: { lat: 51.5, lon: -0.12 },
  };
}

/**
 * A simulated unit: publishes readings QoS 1, remembers each until its PUBACK, and resends
 * whatever is unacknowledged after every reconnect (as firmware does) — so a killed
 * gateway sees resends, and the acknowledged set is exactly what the unit may forget.
 */
export class TestUnit {
  readonly client: MqttClient;
  readonly acked = new Set<string>();
  readonly pending = new Map<string, string>();
  readonly errors: string[] = [];
  private connects = 0;
  private closed = false;

  constructor(
    readonly unitId: string,
    url: string,
    secret: string | undefined,
    private readonly topicUnitId = unitId,
  ) {
    this.client = mqtt.connect(url, {
      // A unit connects as itself: the embedded broker refuses another unit's client id.
      clientId: unitId,
      username: unitId,
      password: secret,
      clean: true,
      reconnectPeriod: 250,
      connectTimeout: 5000,
      keepalive: 10,
    });
    this.client.on('error', () => {});
    this.client.on('connect', () => {
      if (this.connects++ > 0) for (const key of this.pending.keys()) this.send(key);
    });
  }

  publish(body: { unitId: string; ts: string }): void {
    const key = `${body.unitId}@${body.ts}`;
    this.pending.set(key, JSON.stringify(body));
    this.send(key);
  }

  private send(key: string): void {
    const payload = this.pending.get(key);
    if (payload === undefined) return;
    this.client.publish(`ironledger/v1/units/${this.topicUnitId}/telemetry`, payload, { qos: 1 }, (err) => {
      if (err) {
        // Not acknowledged: keep it and try again, as firmware does.
        if (this.errors.length < 20) this.errors.push(err.message);
        if (!this.closed) setTimeout(() => this.send(key), 200);
        return;
      }
      if (this.pending.delete(key)) this.acked.add(key);
    });
  }

  /** Resend everything not yet acknowledged (used after a long outage, not needed otherwise). */
  resendPending(): void {
    for (const key of this.pending.keys()) this.send(key);
  }

  async close(): Promise<void> {
    this.closed = true;
    await new Promise<void>((r) => this.client.end(true, {}, () => r()));
  }
}

export function union(units: TestUnit[]): Set<string> {
  const s = new Set<string>();
  for (const u of units) for (const k of u.acked) s.add(k);
  return s;
}

export function setDiff(a: Set<string>, b: Set<string>): string[] {
  return [...a].filter((x) => !b.has(x));
}

/**
 * The broker modes every edge fault test runs in: the embedded aedes broker, and an external
 * Mosquitto when its binary is installed (skipped with a warning naming the test otherwise).
 */
export function brokerModes(testName: string): Array<{ mode: 'embedded' | 'external'; skip: boolean }> {
  const built = fs.existsSync(BIN.cloud) && fs.existsSync(BIN.edge);
  if (!MOSQUITTO)
    console.warn(
      `${testName}: mosquitto binary absent — external-broker mode skipped (apt-get install mosquitto)`,
    );
  return [
    { mode: 'embedded', skip: !built },
    { mode: 'external', skip: !built || !MOSQUITTO },
  ];
}

/**
 * Invariants 1 and 2 at the gateway: once the edge's outbox is empty, the cloud holds exactly
 * the readings the units saw acknowledged — none missing, none extra, none stored twice.
 */
export async function expectCloudHoldsExactly(
  edge: EdgeHandle,
  cloud: CloudHandle,
  acked: Set<string>,
  opts: { timeoutMs: number; what: string },
): Promise<void> {
  await waitFor(
    async () => (await edge.status()).queuedReadings === 0 && cloud.readings().rows >= acked.size,
    opts,
  );
  const inCloud = cloud.readings();
  expect(setDiff(acked, inCloud.keys)).toEqual([]);
  expect(setDiff(inCloud.keys, acked)).toEqual([]);
  expect(inCloud.rows).toBe(acked.size); // no identity stored twice
}
