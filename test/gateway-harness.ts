/**
 * Shared by the gateway executable's tests: finding (or building) the executable, running
 * it the way a site gateway does (a copy in an empty directory, no Node.js, no
 * node_modules, nothing inherited from this process's environment), and a real cloud
 * ingestor for it to forward to.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { unitTopic } from '@ironledger/contracts';
import { BIN, REPO_ROOT, type SpawnedProcess, spawnCommand, spawnNode, waitFor } from '@ironledger/testkit';
import mqtt from 'mqtt';

const run = promisify(execFile);

export type GatewayTarget = 'linux-x64' | 'linux-arm64';

export const gatewayExecutable = (target: GatewayTarget) =>
  path.join(REPO_ROOT, 'dist', `ironledger-edge-${target}`);

/** Newest modification time of the built JavaScript the executable bundles. */
function newestInput(): number {
  let newest = 0;
  const walk = (dir: string) => {
    if (!fs.existsSync(dir)) return;
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.js')) newest = Math.max(newest, fs.statSync(p).mtimeMs);
    }
  };
  walk(path.join(REPO_ROOT, 'edge', 'dist'));
  for (const pkg of fs.readdirSync(path.join(REPO_ROOT, 'packages')))
    walk(path.join(REPO_ROOT, 'packages', pkg, 'dist'));
  for (const f of ['entry.mjs', 'native-addon.cjs', 'build.mjs']) {
    newest = Math.max(newest, fs.statSync(path.join(REPO_ROOT, 'edge', 'sea', f)).mtimeMs);
  }
  return newest;
}

/**
 * The executable for `target`, built first when it is missing or older than the code it
 * carries (a clean clone has no dist/; `npm test` has just built the workspaces).
 */
export async function ensureGatewayExecutable(target: GatewayTarget): Promise<string> {
  const exe = gatewayExecutable(target);
  if (fs.existsSync(exe) && fs.statSync(exe).mtimeMs >= newestInput()) return exe;
  try {
    await run(process.execPath, [path.join(REPO_ROOT, 'edge', 'sea', 'build.mjs'), '--target', target], {
      cwd: REPO_ROOT,
      maxBuffer: 64 * 1024 * 1024,
      timeout: 10 * 60 * 1000,
    });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`building ${target} failed: ${err.stderr?.slice(-4000) ?? err.message}`);
  }
  return exe;
}

/**
 * An environment that inherits nothing from the test runner (no NODE_OPTIONS, no npm_*
 * variables) and whose PATH is an empty directory: no node to fall back on.
 */
export function gatewayEnv(dir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const emptyPath = path.join(dir, 'empty-path');
  fs.mkdirSync(emptyPath, { recursive: true });
  const home = path.join(dir, 'home');
  fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  // spawn() skips undefined values: this removes every inherited variable.
  const blank = Object.fromEntries(Object.keys(process.env).map((k) => [k, undefined]));
  return { ...blank, PATH: emptyPath, HOME: home, LANG: 'C.UTF-8', ...extra };
}

/** Copies the executable into `<dir>/gateway/`, alone, as an operator would. */
export function installGateway(dir: string, exe: string): string {
  const gw = path.join(dir, 'gateway');
  fs.mkdirSync(gw, { recursive: true });
  const copy = path.join(gw, 'ironledger-edge');
  fs.copyFileSync(exe, copy);
  fs.chmodSync(copy, 0o755);
  return copy;
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the executable (optionally through a prefix such as qemu) to completion. */
export async function runGateway(
  cmd: string[],
  args: string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<CommandResult> {
  try {
    const r = await run(cmd[0]!, [...cmd.slice(1), ...args], {
      cwd: opts.cwd,
      env: opts.env,
      timeout: opts.timeoutMs ?? 60_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof err.code === 'number' ? err.code : 1,
      stdout: err.stdout ?? '',
      stderr: err.stderr ?? '',
    };
  }
}

export const sha256Token = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`;

export interface Cloud {
  url: string;
  gatewayId: string;
  gatewayToken: string;
  adminToken: string;
  proc: SpawnedProcess;
  /** Readings the cloud has durably stored (GET /v1/status). */
  readings(): Promise<number>;
  /** What the cloud knows of the gateway from its heartbeats. */
  gateway(): Promise<
    { version: string | null; queuedReadings: number | null; lastBatchAt: string | null } | undefined
  >;
  stop(): Promise<void>;
}

/** The real cloud ingestor (cloud/dist/main.js) on SQLite with one site and these units. */
export async function startCloud(
  dir: string,
  opts: { gatewayId: string; unitIds: string[] },
): Promise<Cloud> {
  const gatewayToken = randomBytes(24).toString('hex');
  const adminToken = randomBytes(24).toString('hex');
  const config = {
    http: { host: '127.0.0.1', port: 0 },
    store: { path: path.join(dir, 'cloud.db') },
    gateways: [{ gatewayId: opts.gatewayId, tokenHash: sha256Token(gatewayToken), siteId: 'gw-test-site' }],
    auth: { tokens: [{ name: 'gateway-test-admin', role: 'admin', tokenHash: sha256Token(adminToken) }] },
    sites: [
      { siteId: 'gw-test-site', name: 'Gateway test site', timeZone: 'UTC', defaultProjectId: 'P-GW-TEST' },
    ],
    projects: [{ projectId: 'P-GW-TEST', name: 'Gateway test project' }],
    units: opts.unitIds.map((unitId) => ({ unitId, equipmentClass: 'excavator', siteId: 'gw-test-site' })),
    posting: { journalPath: path.join(dir, 'odoo-journal.jsonl') },
    log: { level: 'info' },
  };
  const configPath = path.join(dir, 'cloud.config.json');
  fs.writeFileSync(configPath, JSON.stringify(config, null, 2));
  const proc = spawnNode(BIN.cloud, ['--config', configPath], { name: 'cloud' });
  const ready = await proc.waitForEvent('ready', {}, 30_000);
  const url = (ready.url as string | undefined) ?? `http://127.0.0.1:${ready.httpPort as number}`;
  const status = async () => {
    const r = await fetch(`${url}/v1/status`, { headers: { authorization: `Bearer ${adminToken}` } });
    if (!r.ok) throw new Error(`cloud /v1/status ${r.status}: ${await r.text()}`);
    return (await r.json()) as {
      pipeline: { readings: number };
      gateways: Array<{
        gatewayId: string;
        version: string | null;
        queuedReadings: number | null;
        lastBatchAt: string | null;
      }>;
    };
  };
  return {
    url,
    gatewayId: opts.gatewayId,
    gatewayToken,
    adminToken,
    proc,
    readings: async () => (await status()).pipeline.readings,
    gateway: async () => (await status()).gateways.find((g) => g.gatewayId === opts.gatewayId),
    stop: async () => {
      await proc.stop();
    },
  };
}

/** The edge config a site gateway would have: embedded broker, per-unit secrets. */
export function gatewayConfig(opts: {
  gatewayId: string;
  cloud: Cloud;
  mqttPort: number;
  bufferPath: string;
  units: Array<{ unitId: string; secretHash: string }>;
}) {
  return {
    gatewayId: opts.gatewayId,
    mqtt: { mode: 'embedded', host: '127.0.0.1', port: opts.mqttPort },
    auth: { mode: 'units', units: opts.units },
    buffer: { path: opts.bufferPath },
    // The token comes from the environment, as under systemd (LoadCredential).
    cloud: { url: opts.cloud.url, maxBatchAgeMs: 200, heartbeatIntervalMs: 500 },
    http: { host: '127.0.0.1', port: 0 },
    log: { level: 'info' },
  };
}

/** Starts `run` in the background; resolves once the agent logs `ready`. */
export async function startGateway(
  cmd: string[],
  configPath: string,
  opts: { cwd: string; env: NodeJS.ProcessEnv },
): Promise<{ proc: SpawnedProcess; httpUrl: string }> {
  const proc = spawnCommand(cmd[0]!, [...cmd.slice(1), 'run', '--config', configPath], {
    name: 'gateway',
    cwd: opts.cwd,
    env: opts.env,
  });
  const ready = await proc.waitForEvent('ready', {}, 60_000);
  return { proc, httpUrl: `http://127.0.0.1:${ready.httpPort as number}` };
}

/** A canonical reading (Contract 1): `i` five-minute steps after `startMs`. */
export function telemetry(unitId: string, i: number, startMs: number) {
  return {
    v: 1 as const,
    unitId,
    seq: i,
    ts: new Date(startMs + i * 5 * 60 * 1000).toISOString(),
    engineHours: 1000 + i * 0.08,
    idleHours: 200 + i * 0.01,
    engineOn: true,
    position: { lat: 51.5007, lon: -0.1246 },
    speedKmh: 0,
  };
}

/** Publishes readings as the unit, QoS 1, each awaited until the gateway's PUBACK. */
export async function publishAsUnit(
  mqttUrl: string,
  unit: { unitId: string; secret: string },
  readings: readonly object[],
): Promise<void> {
  const client = await mqtt.connectAsync(mqttUrl, {
    clientId: unit.unitId, // a unit connects as itself (the edge refuses another unit's id)
    username: unit.unitId,
    password: unit.secret,
    protocolVersion: 4, // MQTT 3.1.1: what the site's units speak
    reconnectPeriod: 0,
    connectTimeout: 10_000,
  });
  try {
    for (const r of readings) {
      await client.publishAsync(unitTopic(unit.unitId, 'telemetry'), JSON.stringify(r), { qos: 1 });
    }
  } finally {
    await client.endAsync();
  }
}

/** Waits until the cloud holds `count` readings and the gateway's outbox is empty. */
export async function waitForForwarded(
  cloud: Cloud,
  gatewayHttpUrl: string,
  count: number,
  timeoutMs = 60_000,
) {
  await waitFor(
    async () => {
      if ((await cloud.readings()) < count) return false;
      const r = await fetch(`${gatewayHttpUrl}/v1/status`);
      if (!r.ok) return false;
      const s = (await r.json()) as { queuedReadings?: number; buffer?: { queuedReadings?: number } };
      return (s.queuedReadings ?? s.buffer?.queuedReadings) === 0;
    },
    { timeoutMs, intervalMs: 200, what: `cloud to hold ${count} readings and the gateway outbox to drain` },
  );
}
