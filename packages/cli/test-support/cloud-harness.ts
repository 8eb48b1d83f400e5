/**
 * A real cloud for the CLI's end-to-end tests: `node cloud/dist/main.js --config <file>` on a
 * free port with a temporary SQLite store and dry-run posting, people's tokens for each role,
 * one gateway, and real gzip batches (Contract 2) posted to it over HTTP. The CLI is then run
 * as the real binary (`node packages/cli/dist/main.js`).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { BatchInput, HeartbeatInput, ReadingInput } from '@ironledger/contracts';
import { BIN, type SpawnedProcess, spawnNode, tempDir } from '@ironledger/testkit';
import { request } from 'undici';

export const TOKENS = {
  admin: 'il-test-admin-token',
  approver: 'il-test-approver-token',
  viewer: 'il-test-viewer-token',
  gateway: 'il-test-gateway-token',
} as const;

export const GATEWAY_ID = 'gw-riverside';
export const SITE_ID = 'riverside';
/** The geofence around the basement works: a circle of 150 m. */
export const BASEMENT = { lat: 51.5007, lon: -0.1246 };
/** Inside the site, outside every geofence: the default project. */
export const YARD = { lat: 51.51, lon: -0.14 };

export const DOCK_ANALYTIC_ACCOUNT_ID = 9001;

const sha = (t: string) => `sha256:${createHash('sha256').update(t, 'utf8').digest('hex')}`;

export interface CommandResult {
  code: number | string;
  stdout: string;
  stderr: string;
}

export interface CloudHarness {
  url: string;
  dir: string;
  proc: SpawnedProcess;
  /** Runs the real CLI binary against this cloud with the token of `as` (default admin). */
  cli(
    args: string[],
    opts?: { as?: keyof typeof TOKENS | null; env?: NodeJS.ProcessEnv },
  ): Promise<CommandResult>;
  /** The environment the CLI runs with as `as`: this cloud's url and that role's token. */
  env(as?: keyof typeof TOKENS): NodeJS.ProcessEnv;
  /** Spawns the CLI and returns the process (for signals). */
  spawnCli(args: string[], opts?: { as?: keyof typeof TOKENS; env?: NodeJS.ProcessEnv }): SpawnedProcess;
  postBatch(batchId: string, readings: ReadingInput[]): Promise<unknown>;
  heartbeat(hb?: Partial<HeartbeatInput>): Promise<void>;
  stop(): Promise<void>;
}

export const UNITS = [
  { unitId: 'EXC-0042', equipmentClass: 'excavator', serialNo: 'CAT320-0042', siteId: SITE_ID },
  { unitId: 'LDR-0007', equipmentClass: 'loader', serialNo: 'JD644-0007', siteId: SITE_ID },
  { unitId: 'DOZ-0003', equipmentClass: 'dozer', serialNo: 'D6-0003', siteId: SITE_ID },
] as const;

/** Where posting goes: the dry-run journal, or an Odoo (the testkit's double) at this address. */
export interface OdooTarget {
  url: string;
  db: string;
  login: string;
  apiKey: string;
}

export function cloudConfig(dir: string, odoo?: OdooTarget): Record<string, unknown> {
  return {
    http: { host: '127.0.0.1', port: 0 },
    store: { path: path.join(dir, 'cloud.db') },
    gateways: [{ gatewayId: GATEWAY_ID, tokenHash: sha(TOKENS.gateway), siteId: SITE_ID }],
    auth: {
      tokens: [
        { name: 'ops-admin', role: 'admin', tokenHash: sha(TOKENS.admin) },
        { name: 'finance-approver', role: 'approver', tokenHash: sha(TOKENS.approver) },
        { name: 'site-viewer', role: 'viewer', tokenHash: sha(TOKENS.viewer) },
      ],
    },
    sites: [
      {
        siteId: SITE_ID,
        name: 'Riverside Tower',
        timeZone: 'Europe/London',
        defaultProjectId: 'P-RIVERSIDE',
        geofences: [{ kind: 'circle', projectId: 'P-BASEMENT', center: BASEMENT, radiusM: 150 }],
      },
    ],
    projects: [
      { projectId: 'P-RIVERSIDE', name: 'Riverside Tower' },
      { projectId: 'P-BASEMENT', name: 'Riverside basement' },
    ],
    units: UNITS,
    rates: [
      {
        rateId: 'R-EXC',
        equipmentClass: 'excavator',
        workingRateMinor: 9500,
        idleRateMinor: 2500,
        currency: 'USD',
        effectiveFrom: '2026-01-01',
      },
      {
        rateId: 'R-LDR',
        equipmentClass: 'loader',
        workingRateMinor: 7025,
        idleRateMinor: 1999,
        currency: 'USD',
        effectiveFrom: '2026-01-01',
      },
      {
        rateId: 'R-DOZ',
        equipmentClass: 'dozer',
        workingRateMinor: 11000,
        idleRateMinor: 3000,
        currency: 'USD',
        effectiveFrom: '2026-01-01',
      },
    ],
    consolidation: { cron: '' },
    posting: {
      target: 'analytic',
      journalPath: path.join(dir, 'odoo-journal.jsonl'),
      ...(odoo
        ? {
            odoo: { ...odoo, api: 'auto', retries: 1, timeoutMs: 10_000 },
            projects: {
              'P-RIVERSIDE': { odooProjectName: 'Riverside Tower' },
              'P-BASEMENT': { odooProjectName: 'Riverside basement' },
              // An analytic account id Odoo does not have (yet): Odoo refuses the line.
              'P-DOCK': { analyticAccountId: DOCK_ANALYTIC_ACCOUNT_ID },
            },
            // Read Odoo's projects on every run, so a project created there is seen at once.
            masterDataRefreshMs: 0,
          }
        : {}),
    },
    log: { level: 'info' },
  };
}

/**
 * A working day of one unit: a reading every 30 min from 07:00 to 16:00 UTC; each interval
 * adds 0.5 h to the engine meter, of which `idleShare` is idle. Meters are cumulative.
 */
export function workingDay(
  unitId: string,
  day: string,
  start: { engineHours: number; idleHours: number },
  position: { lat: number; lon: number },
  idleShare = 0.2,
): { readings: ReadingInput[]; end: { engineHours: number; idleHours: number } } {
  const readings: ReadingInput[] = [];
  let { engineHours, idleHours } = start;
  for (let slot = 0; slot <= 18; slot++) {
    if (slot > 0) {
      engineHours += 0.5;
      idleHours += 0.5 * idleShare;
    }
    const ts = new Date(Date.parse(`${day}T07:00:00.000Z`) + slot * 30 * 60 * 1000).toISOString();
    readings.push({
      v: 1,
      unitId,
      seq: readings.length,
      ts,
      engineHours: Number(engineHours.toFixed(4)),
      idleHours: Number(idleHours.toFixed(4)),
      engineOn: true,
      position,
      speedKmh: 0,
    });
  }
  return { readings, end: { engineHours, idleHours } };
}

export async function startCloud(opts: { echo?: boolean; odoo?: OdooTarget } = {}): Promise<CloudHarness> {
  const dir = tempDir('ironledger-cli-');
  const configFile = path.join(dir, 'cloud.json');
  fs.writeFileSync(configFile, JSON.stringify(cloudConfig(dir, opts.odoo), null, 2));
  const proc = spawnNode(BIN.cloud, ['--config', configFile], {
    name: 'cloud',
    echo: opts.echo,
    env: { IRONLEDGER_ADMIN_TOKEN: '' },
  });
  const ready = await proc.waitForEvent('ready', {}, 30_000);
  const url = `http://127.0.0.1:${ready.httpPort as number}`;
  // The CLI must not pick up a developer's own profile or server.
  const cliEnv = {
    HOME: dir,
    XDG_CONFIG_HOME: path.join(dir, 'xdg'),
    IRONLEDGER_URL: url,
    NO_COLOR: '',
    FORCE_COLOR: '',
  };
  const envFor = (as: keyof typeof TOKENS | null | undefined, env: NodeJS.ProcessEnv = {}) => ({
    ...cliEnv,
    IRONLEDGER_TOKEN: as === null ? '' : TOKENS[as ?? 'admin'],
    ...env,
  });
  const spawnCli: CloudHarness['spawnCli'] = (args, o = {}) =>
    spawnNode(BIN.cli, args, { name: 'cli', env: envFor(o.as, o.env) });
  return {
    url,
    dir,
    proc,
    spawnCli,
    env: (as) => envFor(as),
    async cli(args, o = {}) {
      const p = spawnNode(BIN.cli, args, { name: 'cli', env: envFor(o.as, o.env) });
      const code = await p.exited;
      return { code, stdout: p.stdout(), stderr: p.stderr() };
    },
    async postBatch(batchId, readings) {
      const receivedAt = new Date().toISOString();
      const batch: BatchInput = {
        gatewayId: GATEWAY_ID,
        batchId,
        readings: readings.map((r) => ({ ...r, receivedAt })),
      };
      const res = await request(`${url}/v1/batches`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${TOKENS.gateway}`,
          'content-type': 'application/json',
          'content-encoding': 'gzip',
        },
        body: gzipSync(JSON.stringify(batch)),
      });
      const text = await res.body.text();
      if (res.statusCode !== 200) throw new Error(`POST /v1/batches ${res.statusCode}: ${text}`);
      return JSON.parse(text);
    },
    async heartbeat(hb = {}) {
      const body: HeartbeatInput = {
        version: '0.1.0',
        sentAt: new Date().toISOString(),
        queuedReadings: 12,
        oldestUnsentAgeS: 42,
        quarantined: 1,
        ...hb,
      };
      const res = await request(`${url}/v1/gateways/${GATEWAY_ID}/heartbeat`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKENS.gateway}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const text = await res.body.text();
      if (res.statusCode >= 300) throw new Error(`heartbeat ${res.statusCode}: ${text}`);
    },
    async stop() {
      await proc.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Last month's working days (Mon–Fri) before `now`, as YYYY-MM-DD, and the period. */
export function lastMonth(now = new Date()): { period: string; days: string[] } {
  const first = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
  const period = first.toISOString().slice(0, 7);
  const days: string[] = [];
  for (let d = new Date(first); d.getUTCMonth() === first.getUTCMonth(); d.setUTCDate(d.getUTCDate() + 1)) {
    const wd = d.getUTCDay();
    if (wd !== 0 && wd !== 6) days.push(d.toISOString().slice(0, 10));
  }
  return { period, days };
}
