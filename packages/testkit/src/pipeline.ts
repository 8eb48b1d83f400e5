/**
 * A whole local pipeline on embedded defaults, from real processes: the cloud ingestor
 * (SQLite, dry-run posting to a journal file), the edge agent (embedded broker, SQLite
 * outbox) and, on demand, the simulated fleet. Used by the end-to-end tests and by
 * `npm start`; every part is the real binary talking over real sockets.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { BIN } from './paths.js';
import { freePort } from './ports.js';
import { type SpawnedProcess, spawnNode } from './process.js';
import { waitFor } from './wait.js';

const run = promisify(execFile);

export interface PipelineOptions {
  /** Working directory for configs, databases, truth and journal (created if absent). */
  dir: string;
  units?: number;
  seed?: number;
  /** Echo every process's output to stderr. */
  echo?: boolean;
  /** Extra log level for cloud and edge. */
  logLevel?: string;
  gatewayId?: string;
  /** Extra cloud configuration, deep-merged over the defaults (arrays are replaced). */
  cloudConfig?: Record<string, unknown>;
  /** Extra environment for the cloud process (e.g. ODOO_URL, ODOO_API_KEY). */
  cloudEnv?: NodeJS.ProcessEnv;
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface WorldLike {
  sites: Array<{ siteId: string; defaultProjectId: string }>;
  projects: Array<{ projectId: string; name: string }>;
  units: Array<{ unitId: string; equipmentClass: string; siteId?: string }>;
}

export interface Pipeline {
  dir: string;
  world: WorldLike;
  cloudUrl: string;
  mqttUrl: string;
  edgeHttpUrl: string;
  adminToken: string;
  /** The edge's token, for tests that post batches to the cloud themselves. */
  gatewayToken: string;
  paths: {
    journal: string;
    truth: string;
    acked: string;
    credentials: string;
    cloudDb: string;
    edgeDb: string;
  };
  cloud: SpawnedProcess;
  edge: SpawnedProcess;
  /** Runs the `ironledger` CLI against this cloud with the admin token. */
  cli(args: string[], env?: NodeJS.ProcessEnv): Promise<CommandResult>;
  /** Runs the simulated fleet against the edge's broker until it exits. */
  runSim(args: string[]): Promise<CommandResult>;
  /** Restarts the edge on the same buffer (after a kill). */
  restartEdge(): Promise<void>;
  /**
   * Starts the cloud again on the same store, config and port (so the edge and `cli` keep
   * working), after stopping it gracefully if it still runs; `env` is added to its
   * environment for this and later starts.
   */
  restartCloud(opts?: { env?: NodeJS.ProcessEnv }): Promise<void>;
  /** Waits until the edge's outbox is empty and the cloud holds `readings` readings. */
  waitForDrain(readings: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Working and idle rates per equipment class, minor units (USD cents) per hour. */
export const DEFAULT_CLASS_RATES: Record<string, [number, number]> = {
  excavator: [8500, 2500],
  loader: [7000, 2000],
  dozer: [9500, 3000],
  crane: [15000, 4000],
  telehandler: [4500, 1500],
  generator: [3000, 3000],
};

const sha256 = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`;

export async function runCommand(
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<CommandResult> {
  try {
    const r = await run(process.execPath, [script, ...args], {
      env: { ...process.env, ...env },
      maxBuffer: 256 * 1024 * 1024,
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

export async function startPipeline(opts: PipelineOptions): Promise<Pipeline> {
  const dir = path.resolve(opts.dir);
  fs.mkdirSync(dir, { recursive: true });
  const units = opts.units ?? 4;
  const seed = opts.seed ?? 7;
  const gatewayId = opts.gatewayId ?? 'gw-local';
  const logLevel = opts.logLevel ?? 'info';
  const p = {
    journal: path.join(dir, 'odoo-journal.jsonl'),
    truth: path.join(dir, 'truth.json'),
    acked: path.join(dir, 'acked.jsonl'),
    credentials: path.join(dir, 'credentials.json'),
    cloudDb: path.join(dir, 'cloud.db'),
    edgeDb: path.join(dir, 'edge.db'),
  };

  const worldOut = await runCommand(BIN.sim, [
    '--print-world',
    '--units',
    String(units),
    '--seed',
    String(seed),
  ]);
  if (worldOut.code !== 0) throw new Error(`ironledger-sim --print-world failed: ${worldOut.stderr}`);
  const world = JSON.parse(worldOut.stdout) as WorldLike;
  fs.writeFileSync(path.join(dir, 'world.json'), JSON.stringify(world, null, 2));

  // One secret per unit, kept where only the simulator reads it; the edge stores hashes.
  const secrets: Record<string, string> = {};
  if (fs.existsSync(p.credentials))
    Object.assign(secrets, JSON.parse(fs.readFileSync(p.credentials, 'utf8')));
  for (const u of world.units) secrets[u.unitId] ??= randomBytes(12).toString('hex');
  fs.writeFileSync(p.credentials, JSON.stringify(secrets, null, 2));
  const unitAuth = await Promise.all(
    world.units.map(async (u) => {
      const r = await runCommand(BIN.edge, ['hash-secret', secrets[u.unitId]!]);
      if (r.code !== 0) throw new Error(`ironledger-edge hash-secret failed: ${r.stderr}`);
      return { unitId: u.unitId, secretHash: r.stdout.trim() };
    }),
  );

  const tokenFile = path.join(dir, 'tokens.json');
  const tokens = fs.existsSync(tokenFile)
    ? (JSON.parse(fs.readFileSync(tokenFile, 'utf8')) as { gateway: string; admin: string })
    : { gateway: randomBytes(24).toString('hex'), admin: randomBytes(24).toString('hex') };
  fs.writeFileSync(tokenFile, JSON.stringify(tokens));

  const classes = [...new Set(world.units.map((u) => u.equipmentClass))];
  const cloudConfig = {
    http: { host: '127.0.0.1', port: 0 },
    store: { path: p.cloudDb },
    gateways: [{ gatewayId, tokenHash: sha256(tokens.gateway), siteId: world.sites[0]!.siteId }],
    auth: { tokens: [{ name: 'pipeline-admin', role: 'admin', tokenHash: sha256(tokens.admin) }] },
    sites: (world as unknown as { sites: unknown[] }).sites,
    projects: world.projects,
    units: world.units,
    rates: classes.map((c) => ({
      rateId: `rate-${c}`,
      equipmentClass: c,
      workingRateMinor: DEFAULT_CLASS_RATES[c]?.[0] ?? 5000,
      idleRateMinor: DEFAULT_CLASS_RATES[c]?.[1] ?? 1500,
      currency: 'USD',
      effectiveFrom: '2020-01-01',
    })),
    posting: { journalPath: p.journal },
    log: { level: logLevel },
  };
  const mergedCloudConfig = deepMerge(cloudConfig, opts.cloudConfig ?? {});
  const cloudConfigPath = path.join(dir, 'cloud.config.json');
  fs.writeFileSync(cloudConfigPath, JSON.stringify(mergedCloudConfig, null, 2));

  let cloudEnv: NodeJS.ProcessEnv = { ...opts.cloudEnv };
  let cloud = spawnNode(BIN.cloud, ['--config', cloudConfigPath], {
    name: 'cloud',
    echo: opts.echo,
    env: cloudEnv,
  });
  const ready = await cloud.waitForEvent('ready', {}, 30_000);
  const cloudPort = ready.httpPort as number;
  const cloudUrl = (ready.url as string | undefined) ?? `http://127.0.0.1:${cloudPort}`;

  const mqttPort = await freePort();
  const edgeConfig = {
    gatewayId,
    mqtt: { mode: 'embedded', host: '127.0.0.1', port: mqttPort },
    auth: { mode: 'units', units: unitAuth },
    buffer: { path: p.edgeDb },
    cloud: { url: cloudUrl, token: tokens.gateway, maxBatchAgeMs: 200 },
    http: { host: '127.0.0.1', port: 0 },
    log: { level: logLevel },
  };
  const edgeConfigPath = path.join(dir, 'edge.config.json');
  fs.writeFileSync(edgeConfigPath, JSON.stringify(edgeConfig, null, 2));

  let edge = spawnNode(BIN.edge, ['--config', edgeConfigPath], { name: 'edge', echo: opts.echo });
  let edgeReady = await edge.waitForEvent('ready', {}, 30_000);

  const pipeline: Pipeline = {
    dir,
    world,
    cloudUrl,
    mqttUrl: `mqtt://127.0.0.1:${mqttPort}`,
    get edgeHttpUrl() {
      return `http://127.0.0.1:${edgeReady.httpPort as number}`;
    },
    adminToken: tokens.admin,
    gatewayToken: tokens.gateway,
    paths: p,
    get cloud() {
      return cloud;
    },
    get edge() {
      return edge;
    },
    cli: (args, env = {}) =>
      runCommand(BIN.cli, args, {
        IRONLEDGER_URL: cloudUrl,
        IRONLEDGER_TOKEN: tokens.admin,
        NO_COLOR: '1',
        ...env,
      }),
    runSim: (args) =>
      runCommand(BIN.sim, [
        '--broker',
        `mqtt://127.0.0.1:${mqttPort}`,
        '--units',
        String(units),
        '--seed',
        String(seed),
        '--credentials',
        p.credentials,
        ...args,
      ]),
    restartEdge: async () => {
      await edge.stop();
      edge = spawnNode(BIN.edge, ['--config', edgeConfigPath], { name: 'edge', echo: opts.echo });
      edgeReady = await edge.waitForEvent('ready', {}, 30_000);
    },
    restartCloud: async (o = {}) => {
      await cloud.stop();
      cloudEnv = { ...cloudEnv, ...o.env };
      // The same port: the edge's config and the CLI keep pointing at it.
      cloud = spawnNode(BIN.cloud, ['--config', cloudConfigPath], {
        name: 'cloud',
        echo: opts.echo,
        env: { ...cloudEnv, IRONLEDGER_CLOUD_HTTP__PORT: String(cloudPort) },
      });
      await cloud.waitForEvent('ready', {}, 30_000);
    },
    waitForDrain: async (readings, timeoutMs = 120_000) => {
      await waitFor(
        async () => {
          const r = await fetch(`${cloudUrl}/v1/status`, {
            headers: { authorization: `Bearer ${tokens.admin}` },
          });
          if (!r.ok) return false;
          const s = (await r.json()) as { pipeline: { readings: number } };
          if (s.pipeline.readings < readings) return false;
          // Everything the units saw acknowledged is in the edge's outbox: drained means empty.
          const e = await fetch(`http://127.0.0.1:${edgeReady.httpPort as number}/v1/status`);
          if (!e.ok) return false;
          const es = (await e.json()) as { queuedReadings?: number; buffer?: { queuedReadings?: number } };
          return (es.queuedReadings ?? es.buffer?.queuedReadings ?? 0) === 0;
        },
        { timeoutMs, intervalMs: 200, what: `cloud to hold ${readings} readings` },
      );
    },
    stop: async () => {
      await Promise.all([edge.stop(), cloud.stop()]);
    },
  };
  return pipeline;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isPlainObject(b) && isPlainObject(v) ? deepMerge(b, v) : v;
  }
  return out;
}
