/**
 * Shared by the posting end-to-end tests: a whole pipeline (simulated fleet → edge → cloud)
 * whose cloud posts to the testkit's Odoo double, the Odoo side seeded the way an accountant
 * would have it (a project per IronLedger project, an Equipment plan with an analytic account
 * per unit, maintenance.equipment by serial number), the admin API, and a view of what Odoo
 * holds per `ref`, read from the double's records rather than through IronLedger.
 */
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  type Allocation,
  AllocationsResponseSchema,
  type BatchInput,
  type PostResponse,
  PostResponseSchema,
  type ReadingInput,
  type ReconcileResponse,
  ReconcileResponseSchema,
} from '@ironledger/contracts';
import { BIN, type OdooDouble, type Pipeline, runCommand, startPipeline } from '@ironledger/testkit';

export type Target = 'analytic' | 'move';
export type Api = 'json2' | 'jsonrpc';

export const MATRIX: Array<{ target: Target; api: Api }> = [
  { target: 'analytic', api: 'json2' },
  { target: 'analytic', api: 'jsonrpc' },
  { target: 'move', api: 'json2' },
  { target: 'move', api: 'jsonrpc' },
];

/** The generic chart's Expenses and Current Liabilities accounts and the MISC journal. */
export const ACCOUNTS = { expenseAccountId: 32, recoveryAccountId: 14, journalId: 3 };

export interface SimWorld {
  sites: Array<{
    siteId: string;
    defaultProjectId: string;
    geofences: Array<
      | { kind: 'circle'; projectId: string; center: { lat: number; lon: number } }
      | { kind: 'polygon'; projectId: string; points: Array<{ lat: number; lon: number }> }
    >;
  }>;
  projects: Array<{ projectId: string; name: string }>;
  units: Array<{ unitId: string; equipmentClass: string; serialNo?: string; siteId?: string }>;
}

export async function printWorld(units: number, seed: number): Promise<SimWorld> {
  const r = await runCommand(BIN.sim, ['--print-world', '--units', String(units), '--seed', String(seed)]);
  if (r.code !== 0) throw new Error(`ironledger-sim --print-world: ${r.stderr}`);
  return JSON.parse(r.stdout) as SimWorld;
}

export interface OdooSeed {
  /** IronLedger project id → its Project-plan analytic account in Odoo. */
  projectAccount: Map<string, number>;
  /** IronLedger project id → its project.project id in Odoo. */
  odooProject: Map<string, number>;
  /** Unit id → its Equipment-plan analytic account in Odoo. */
  equipmentAccount: Map<string, number>;
}

/** Odoo as finance set it up before IronLedger posts anything. */
export function seedOdoo(odoo: OdooDouble, world: SimWorld): OdooSeed {
  const w = odoo.world;
  const seed: OdooSeed = { projectAccount: new Map(), odooProject: new Map(), equipmentAccount: new Map() };
  for (const p of world.projects) {
    // hr_timesheet gives every new project its Project-plan analytic account.
    const rec = w.create('project.project', { name: p.name });
    const acct = odoo.records('project.project').find((r) => r.id === rec.id)?.account_id;
    if (!Array.isArray(acct)) throw new Error(`project ${p.name} got no analytic account`);
    seed.odooProject.set(p.projectId, rec.id);
    seed.projectAccount.set(p.projectId, acct[0] as number);
  }
  const plan = w.create('account.analytic.plan', { name: 'Equipment' });
  for (const u of [...world.units, OFFLINE_UNIT]) {
    const code = u.serialNo ?? u.unitId;
    const a = w.create('account.analytic.account', { name: `${u.unitId} ${code}`, code, plan_id: plan.id });
    seed.equipmentAccount.set(u.unitId, a.id);
    w.create('maintenance.equipment', { name: `${u.equipmentClass} ${u.unitId}`, serial_no: code });
  }
  return seed;
}

/** The cloud config that points posting at the double (secrets go by environment). */
export function postingConfig(
  world: SimWorld,
  target: Target,
  api: Api,
  over: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    consolidation: { cron: '' },
    posting: {
      target,
      odoo: { api, retries: 1, timeoutMs: 10_000 },
      accounts: ACCOUNTS,
      equipmentPlanField: 'x_plan2_id',
      projects: Object.fromEntries(world.projects.map((p) => [p.projectId, { odooProjectName: p.name }])),
      batchSize: 50,
      ...over,
    },
  };
}

export function odooEnv(odoo: OdooDouble, apiKey = odoo.apiKey): NodeJS.ProcessEnv {
  return { ODOO_URL: odoo.url, ODOO_DB: odoo.db, ODOO_LOGIN: odoo.login, ODOO_API_KEY: apiKey };
}

/**
 * A unit the simulator does not drive: its gateway was offline, so the tests send its
 * readings themselves, some of them only after its day has been posted.
 */
export const OFFLINE_UNIT = {
  unitId: 'EXC-0900',
  equipmentClass: 'excavator',
  serialNo: 'CAT0900OFFLINE',
  siteId: 'SITE-LON',
};

/**
 * Readings of OFFLINE_UNIT every 30 min from `from` to `to` (HH:MM, UTC) on `day`: the engine
 * runs all along, a fifth of it idle; meters are cumulative from a start of 2000 h at 07:00.
 */
export function offlineUnitReadings(
  day: string,
  from: string,
  to: string,
  position?: { lat: number; lon: number },
): ReadingInput[] {
  const at = (hhmm: string) => Date.parse(`${day}T${hhmm}:00.000Z`);
  const start = at('07:00');
  const out: ReadingInput[] = [];
  for (let t = at(from); t <= at(to); t += 30 * 60_000) {
    const h = (t - start) / 3_600_000;
    out.push({
      v: 1,
      unitId: OFFLINE_UNIT.unitId,
      ts: new Date(t).toISOString(),
      engineHours: Number((2000 + h).toFixed(4)),
      idleHours: Number((400 + h * 0.2).toFixed(4)),
      engineOn: true,
      ...(position ? { position } : {}),
    });
  }
  return out;
}

export async function startPostingPipeline(opts: {
  dir: string;
  odoo: OdooDouble;
  world: SimWorld;
  units: number;
  seed: number;
  target: Target;
  api: Api;
  echo?: boolean;
  /** Posting settings over postingConfig's (e.g. accounts for internal rental). */
  posting?: Record<string, unknown>;
}): Promise<Pipeline> {
  return startPipeline({
    dir: opts.dir,
    units: opts.units,
    seed: opts.seed,
    echo: opts.echo,
    cloudConfig: {
      ...postingConfig(opts.world, opts.target, opts.api, opts.posting),
      units: [...opts.world.units, OFFLINE_UNIT],
    },
    cloudEnv: odooEnv(opts.odoo),
  });
}

/** The admin HTTP API with the pipeline's admin token. */
export function adminApi(pl: Pipeline) {
  const call = async (method: string, route: string, body?: unknown) => {
    const res = await fetch(`${pl.cloudUrl}${route}`, {
      method,
      headers: {
        authorization: `Bearer ${pl.adminToken}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as unknown) : null };
  };
  const ok = async (method: string, route: string, body?: unknown) => {
    const r = await call(method, route, body);
    if (r.status !== 200) throw new Error(`${method} ${route} → ${r.status}: ${JSON.stringify(r.body)}`);
    return r.body;
  };
  return {
    call,
    ok,
    allocations: async (query = ''): Promise<Allocation[]> =>
      AllocationsResponseSchema.parse(await ok('GET', `/v1/allocations${query}`)).allocations,
    post: async (body: unknown = {}): Promise<PostResponse> =>
      PostResponseSchema.parse(await ok('POST', '/v1/post', body)),
    reconcile: async (period: string): Promise<ReconcileResponse> =>
      ReconcileResponseSchema.parse(await ok('GET', `/v1/reconcile?period=${period}`)),
  };
}

/** Posts readings to the cloud the way a gateway does: one gzip batch with the gateway's token. */
export async function postBatch(pl: Pipeline, batchId: string, readings: ReadingInput[]): Promise<void> {
  const receivedAt = new Date().toISOString();
  const gatewayId = JSON.parse(fs.readFileSync(path.join(pl.dir, 'edge.config.json'), 'utf8')).gatewayId;
  const batch: BatchInput = { gatewayId, batchId, readings: readings.map((r) => ({ ...r, receivedAt })) };
  const res = await fetch(`${pl.cloudUrl}/v1/batches`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${pl.gatewayToken}`,
      'content-type': 'application/json',
      'content-encoding': 'gzip',
    },
    body: gzipSync(JSON.stringify(batch)),
  });
  if (res.status !== 200) throw new Error(`POST /v1/batches → ${res.status}: ${await res.text()}`);
}

/** A position the cloud attributes to `projectId` (a site's default project: no position). */
export function positionIn(world: SimWorld, projectId: string): { lat: number; lon: number } | undefined {
  for (const s of world.sites)
    for (const g of s.geofences) {
      if (g.projectId !== projectId) continue;
      if (g.kind === 'circle') return g.center;
      const n = g.points.length;
      return {
        lat: g.points.reduce((t, p) => t + p.lat, 0) / n,
        lon: g.points.reduce((t, p) => t + p.lon, 0) / n,
      };
    }
  return undefined;
}

/** One IronLedger allocation as Odoo holds it, read straight from the double. */
export interface OdooFigure {
  /** Records carrying this ref (account.analytic.line, or account.move). */
  records: number;
  ids: number[];
  amountMinor: number; // cost, positive
  hours: number;
  date: string;
  projectAccount: number | null;
  equipmentAccount: number | null;
  state?: string;
}

const cents = (x: number) => Math.round(x * 100);

export function odooFigures(odoo: OdooDouble, target: Target): Map<string, OdooFigure> {
  const out = new Map<string, OdooFigure>();
  const add = (ref: string, id: number, f: Omit<OdooFigure, 'records' | 'ids'>) => {
    const prev = out.get(ref);
    if (prev) {
      prev.records++;
      prev.ids.push(id);
      prev.amountMinor += f.amountMinor;
    } else out.set(ref, { records: 1, ids: [id], ...f });
  };
  if (target === 'analytic') {
    for (const l of odoo.records('account.analytic.line')) {
      if (typeof l.ref !== 'string' || !l.ref.startsWith('IL-') || l.move_line_id) continue;
      add(l.ref, l.id as number, {
        amountMinor: cents(-(l.amount as number)),
        hours: l.unit_amount as number,
        date: l.date as string,
        projectAccount: Array.isArray(l.account_id) ? (l.account_id[0] as number) : null,
        equipmentAccount: Array.isArray(l.x_plan2_id) ? (l.x_plan2_id[0] as number) : null,
      });
    }
    return out;
  }
  const lines = odoo.records('account.move.line');
  for (const m of odoo.records('account.move')) {
    if (typeof m.ref !== 'string' || !m.ref.startsWith('IL-')) continue;
    const mine = lines.filter((l) => Array.isArray(l.move_id) && l.move_id[0] === m.id);
    const expense = mine.find((l) => l.analytic_distribution);
    const key = expense ? Object.keys(expense.analytic_distribution as object)[0] : undefined;
    const [proj, eq] = key ? key.split(',').map(Number) : [];
    add(m.ref, m.id as number, {
      amountMinor: expense ? cents((expense.debit as number) - (expense.credit as number)) : 0,
      hours: (expense?.quantity as number | undefined) ?? 0,
      date: m.date as string,
      projectAccount: proj ?? null,
      equipmentAccount: eq ?? null,
      state: m.state as string,
    });
  }
  return out;
}

/** Analytic lines a posted journal entry generated, by ref: what a project manager sees. */
export function generatedAnalytic(odoo: OdooDouble): Map<string, { amountMinor: number; hours: number }> {
  const out = new Map<string, { amountMinor: number; hours: number }>();
  for (const l of odoo.records('account.analytic.line')) {
    if (typeof l.ref !== 'string' || !l.ref.startsWith('IL-') || !l.move_line_id) continue;
    const t = out.get(l.ref) ?? { amountMinor: 0, hours: 0 };
    t.amountMinor += cents(-(l.amount as number));
    t.hours += l.unit_amount as number;
    out.set(l.ref, t);
  }
  return out;
}

/**
 * Engine hours as Odoo books them: to the milli-hour, rounding half to even from the decimal
 * value (the rule of cloud/src/allocation/money.ts, restated here as the oracle), then, when
 * the field keeps fewer `digits` (a journal item's quantity: 2), half away from zero to those.
 */
export function postedHours(h: number, digits: number | null = null): number {
  const nano = BigInt(Math.abs(h).toFixed(9).replace('.', ''));
  let milli = nano / 1_000_000n;
  const rest = nano % 1_000_000n;
  if (rest > 500_000n || (rest === 500_000n && milli % 2n === 1n)) milli += 1n;
  if (digits !== null && digits < 3) {
    const step = 10n ** BigInt(3 - digits);
    milli = ((milli + step / 2n) / step) * step;
  }
  return (h < 0 ? -1 : 1) * (Number(milli) / 1000);
}
