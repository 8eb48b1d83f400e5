/**
 * The `ironledger` CLI, as the real binary, against a real running cloud fed with real gzip
 * batches: each command's table, --json and exit code; roles (403), revoked tokens (401);
 * idempotent approval; bulk approval safety; posting with dry run and with Ctrl-C.
 */

import { spawn } from 'node:child_process';
import {
  AllocationsResponseSchema,
  ConsolidateResponseSchema,
  DeadLettersResponseSchema,
  DecisionResponseSchema,
  PostResponseSchema,
  ReconcileResponseSchema,
  SitesResponseSchema,
  StatusResponseSchema,
  TokenCreateResponseSchema,
  UsageResponseSchema,
} from '@ironledger/contracts';
import { BIN, type OdooDouble, startOdooDouble } from '@ironledger/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BASEMENT,
  type CloudHarness,
  DOCK_ANALYTIC_ACCOUNT_ID,
  lastMonth,
  startCloud,
  UNITS,
  workingDay,
  YARD,
} from '../packages/cli/test-support/cloud-harness.js';

let cloud: CloudHarness;
let odoo: OdooDouble;
const { period, days } = lastMonth();
const DAYS = days.slice(0, 6);
const meters = new Map<string, { engineHours: number; idleHours: number }>();
const ANNEX = { lat: 51.505, lon: -0.135 };
const DOCK = { lat: 51.495, lon: -0.11 };

beforeAll(async () => {
  odoo = await startOdooDouble();
  odoo.world.create('project.project', { name: 'Riverside Tower' });
  odoo.world.create('project.project', { name: 'Riverside basement' });
  cloud = await startCloud({ odoo: { url: odoo.url, db: odoo.db, login: odoo.login, apiKey: odoo.apiKey } });
  // Three units over six working days; the excavator moves into the basement geofence midweek.
  for (const u of UNITS) {
    let meter = { engineHours: 1000, idleHours: 200 };
    const readings = [];
    for (const [i, day] of DAYS.entries()) {
      const pos = u.unitId === 'EXC-0042' && i >= 3 ? BASEMENT : YARD;
      const d = workingDay(u.unitId, day, meter, pos, u.unitId === 'LDR-0007' ? 0.45 : 0.15);
      readings.push(...d.readings);
      meter = d.end;
    }
    meters.set(u.unitId, meter);
    await cloud.postBatch(`b-${u.unitId}`, readings);
  }
  await cloud.heartbeat();
});

afterAll(async () => {
  await cloud?.stop();
  await odoo?.stop();
});

/**
 * Runs the CLI on a pseudo-terminal (util-linux `script`), answering its y/N question with
 * `answer` once it is asked. Returns the exit code and everything the terminal showed.
 */
async function onTerminal(
  args: string[],
  answer: string,
  as: 'approver',
): Promise<{ code: number; screen: string }> {
  const quote = (x: string) => `'${x.replace(/'/g, "'\\''")}'`;
  const child = spawn(
    'script',
    ['-qec', [process.execPath, BIN.cli, ...args].map(quote).join(' '), '/dev/null'],
    {
      env: { ...process.env, ...cloud.env(as) },
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  let screen = '';
  let answered = false;
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    screen += d;
    if (!answered && screen.includes('[y/N]')) {
      answered = true;
      child.stdin.write(`${answer}\r`);
    }
  });
  const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? -1)));
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing ANSI colour from the screen
  return { code, screen: screen.replace(/\u001b\[[0-9;]*m/g, '') };
}

/** Odoo's analytic lines written by IronLedger, by ref. */
function odooLines(): Map<string, number> {
  const out = new Map<string, number>();
  for (const l of odoo.records('account.analytic.line')) {
    if (typeof l.ref === 'string' && l.ref.startsWith('IL-')) out.set(l.ref, (out.get(l.ref) ?? 0) + 1);
  }
  return out;
}

const json = (s: string) => JSON.parse(s) as unknown;

describe('consolidate and status', () => {
  it('consolidate --json prints the server answer and creates allocations', async () => {
    const r = await cloud.cli(['consolidate', '--json'], { as: 'approver' });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const c = ConsolidateResponseSchema.parse(json(r.stdout));
    expect(c.unitsTouched).toBe(3);
    expect(c.allocationsCreated).toBeGreaterThan(0);
  });

  it('status shows the gateway, its backlog, and the pipeline', async () => {
    const r = await cloud.cli(['status']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/GATEWAYS \(1\)/);
    expect(r.stdout).toMatch(/gw-riverside\s+riverside\s+0\.1\.0/);
    expect(r.stdout).toMatch(/BACKLOG/);
    expect(r.stdout).toContain('PIPELINE');
    expect(r.stdout).toMatch(/dead letters\s+0/);
    expect(r.stdout).not.toContain('\u001b[');
    const j = await cloud.cli(['status', '--json'], { as: 'viewer' });
    expect(j.code).toBe(0);
    const s = StatusResponseSchema.parse(json(j.stdout));
    expect(s.gateways[0]).toMatchObject({
      gatewayId: 'gw-riverside',
      queuedReadings: 12,
      oldestUnsentAgeS: 42,
    });
    expect(s.pipeline.readings).toBe(UNITS.length * DAYS.length * 19);
  });
});

describe('usage', () => {
  it('--json is the server answer; the table totals it; --csv has one line per row', async () => {
    const j = await cloud.cli(['usage', '--json', '--from', DAYS[0]!, '--to', DAYS[5]!], { as: 'viewer' });
    expect(j.code).toBe(0);
    const u = UsageResponseSchema.parse(json(j.stdout));
    const engine = u.rows.reduce((t, r) => t + r.engineHours, 0);
    // 3 units × 6 days × 9 h; the first interval of each unit has no predecessor.
    expect(engine).toBeCloseTo(3 * 6 * 9, 1);
    expect(new Set(u.rows.map((r) => r.projectId))).toEqual(new Set(['P-RIVERSIDE', 'P-BASEMENT']));

    const t = await cloud.cli(['usage', '--from', DAYS[0]!, '--to', DAYS[5]!], { as: 'viewer' });
    expect(t.code).toBe(0);
    expect(t.stdout.split('\n')[0]).toMatch(/^DAY\s+UNIT\s+PROJECT\s+SITE\s+ENGINE H\s+IDLE H\s+WORKING H/);
    expect(t.stdout).toMatch(new RegExp(`TOTAL\\s+3 units\\s+${engine.toFixed(2)}`));

    const c = await cloud.cli(['usage', '--csv', '--from', DAYS[0]!, '--to', DAYS[5]!], { as: 'viewer' });
    expect(c.code).toBe(0);
    const lines = c.stdout.trimEnd().split('\r\n');
    expect(lines[0]).toBe(
      'unit_id,day,project_id,site_id,engine_hours,idle_hours,working_hours,distance_km,readings,anomalies',
    );
    expect(lines).toHaveLength(u.rows.length + 1);
  });

  it('held: a reading with an impossible clock is listed, not counted', async () => {
    await cloud.postBatch('b-clock', [
      { v: 1, unitId: 'LDR-0007', ts: '1999-12-31T23:00:00.000Z', engineHours: 5 },
    ]);
    const r = await cloud.cli(['held', '--unit', 'LDR-0007'], { as: 'viewer' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/UNIT\s+TS\s+STATUS\s+ENGINE H\s+RECEIVED\s+BATCH\s+REASON/);
    expect(r.stdout).toMatch(/LDR-0007\s+1999-12-31 23:00:00Z\s+held\s+5\s+.*b-clock/);
  });

  it('colour only when asked for by a terminal (FORCE_COLOR here), never with --no-color', async () => {
    const plain = await cloud.cli(['usage'], { as: 'viewer' });
    expect(plain.stdout).not.toContain('\u001b[');
    const coloured = await cloud.cli(['usage'], { as: 'viewer', env: { FORCE_COLOR: '1' } });
    expect(coloured.stdout).toContain('\u001b[');
    const off = await cloud.cli(['usage', '--no-color'], { as: 'viewer', env: { FORCE_COLOR: '1' } });
    expect(off.stdout).toBe(plain.stdout);
  });

  it('filters by unit and project', async () => {
    const r = await cloud.cli(['usage', '--json', '--unit', 'EXC-0042', '--project', 'P-BASEMENT'], {
      as: 'viewer',
    });
    expect(r.code).toBe(0);
    const u = UsageResponseSchema.parse(json(r.stdout));
    expect(u.rows.length).toBeGreaterThan(0);
    expect(u.rows.every((x) => x.unitId === 'EXC-0042' && x.projectId === 'P-BASEMENT')).toBe(true);
  });

  it('a bad date is a usage error before any request', async () => {
    const r = await cloud.cli(['usage', '--from', '2026-02-30'], { as: 'viewer' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: bad date '2026-02-30' for --from\nhint: /);
  });
});

describe('allocations', () => {
  it('list: table, --json and --csv agree', async () => {
    const j = await cloud.cli(['allocations', 'list', '--json'], { as: 'viewer' });
    expect(j.code).toBe(0);
    const { allocations } = AllocationsResponseSchema.parse(json(j.stdout));
    // One per unit and day: the excavator is in the yard three days, then in the basement.
    expect(allocations.length).toBe(UNITS.length * DAYS.length);
    expect(allocations.every((a) => a.status === 'pending')).toBe(true);

    const t = await cloud.cli(['allocations', 'list', '--status', 'pending'], { as: 'viewer' });
    expect(t.code).toBe(0);
    const total = allocations.reduce((s, a) => s + a.amountMinor, 0);
    const dollars = `${Math.floor(total / 100).toLocaleString('en-US')}.${String(total % 100).padStart(2, '0')}`;
    expect(t.stdout).toContain(`USD ${dollars}`);
    expect(t.stdout).toMatch(new RegExp(`TOTAL\\s+${allocations.length} shown`));

    const c = await cloud.cli(['allocations', 'list', '--csv'], { as: 'viewer' });
    const lines = c.stdout.trimEnd().split('\r\n');
    expect(lines).toHaveLength(allocations.length + 1);
    expect(lines[0]!.split(',')).toContain('amount_minor');
  });

  it('show prints one allocation with its evidence', async () => {
    const { allocations } = AllocationsResponseSchema.parse(
      json((await cloud.cli(['allocations', 'list', '--json'])).stdout),
    );
    const a = allocations[0]!;
    const r = await cloud.cli(['allocations', 'show', a.id], { as: 'viewer' });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(a.key);
    expect(r.stdout).toMatch(/amount:\s+USD /);
    const missing = await cloud.cli(['allocations', 'show', 'no-such-id'], { as: 'viewer' });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/not found \(404\)/);
  });

  it('a viewer cannot approve: exit 1 with a clear 403', async () => {
    const { allocations } = AllocationsResponseSchema.parse(
      json((await cloud.cli(['allocations', 'list', '--json'])).stdout),
    );
    const r = await cloud.cli(['allocations', 'approve', allocations[0]!.id], { as: 'viewer' });
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n')[0]).toMatch(
      /^error: forbidden \(403\): this needs a token with the approver role/,
    );
    expect(r.stderr).toContain('hint:');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('approving the same allocation twice is harmless', async () => {
    const { allocations } = AllocationsResponseSchema.parse(
      json((await cloud.cli(['allocations', 'list', '--json'])).stdout),
    );
    const id = allocations[0]!.id;
    const first = await cloud.cli(['allocations', 'approve', id, '--json'], { as: 'approver' });
    expect(first.code).toBe(0);
    expect(DecisionResponseSchema.parse(json(first.stdout)).changed).toEqual([id]);
    const again = await cloud.cli(['allocations', 'approve', id], { as: 'approver' });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('approved none');
    expect(again.stdout).toContain('already approved, unchanged: 1 allocation');
    const after = await cloud.cli(['allocations', 'show', id, '--json']);
    expect(json(after.stdout)).toMatchObject({ status: 'approved', approvedBy: 'finance-approver' });
  });

  it('reject needs a reason; the reason lands in the audit log', async () => {
    const { allocations } = AllocationsResponseSchema.parse(
      json((await cloud.cli(['allocations', 'list', '--json', '--status', 'pending'])).stdout),
    );
    const id = allocations[allocations.length - 1]!.id;
    const noReason = await cloud.cli(['allocations', 'reject', id], { as: 'approver' });
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toMatch(/^error: --reason is required\nhint: /);
    const r = await cloud.cli(['allocations', 'reject', id, '--reason', 'on a trailer all day'], {
      as: 'approver',
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('rejected 1 allocation');
    const audit = await cloud.cli(['audit'], { as: 'viewer' });
    expect(audit.code).toBe(0);
    expect(audit.stdout).toMatch(/WHEN\s+WHO\s+WHAT\s+TARGET\s+WHY/);
    expect(audit.stdout).toMatch(/finance-approver.*on a trailer all day/);
  });

  it('bulk approval on a terminal shows what and how much, and asks', async () => {
    const filter = ['--unit', 'DOZ-0003', '--from', DAYS[1]!, '--to', DAYS[1]!];
    const no = await onTerminal(['allocations', 'approve', ...filter], 'n', 'approver');
    expect(no.code).toBe(1);
    expect(no.screen).toMatch(/DOZ-0003.*pending/);
    expect(no.screen).toMatch(/Approve these 1 allocations \(USD [\d,]+\.\d{2}\)\? \[y\/N\]/);
    expect(no.screen).toContain('not approved');
    const yes = await onTerminal(['allocations', 'approve', ...filter], 'y', 'approver');
    expect(yes.code, yes.screen).toBe(0);
    expect(yes.screen).toContain('approved 1 allocation');
  });

  it('bulk approval without a terminal refuses unless --yes', async () => {
    const refused = await cloud.cli(['allocations', 'approve', '--all'], { as: 'approver' });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--yes');
    const still = AllocationsResponseSchema.parse(
      json((await cloud.cli(['allocations', 'list', '--json', '--status', 'pending'])).stdout),
    );
    expect(still.allocations.length).toBeGreaterThan(0);
    const ok = await cloud.cli(['allocations', 'approve', '--all', '--yes'], { as: 'approver' });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(new RegExp(`approved ${still.allocations.length} allocations`));
    const left = AllocationsResponseSchema.parse(
      json((await cloud.cli(['allocations', 'list', '--json', '--status', 'pending'])).stdout),
    );
    expect(left.allocations).toHaveLength(0);
  });
});

describe('post', () => {
  it('--dry-run sends nothing to Odoo and leaves allocations approved', async () => {
    const r = await cloud.cli(['post', '--dry-run'], { as: 'approver' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('dry run');
    expect(r.stdout).toContain('nothing was sent to Odoo');
    const { allocations } = AllocationsResponseSchema.parse(
      json((await cloud.cli(['allocations', 'list', '--json', '--status', 'posted'])).stdout),
    );
    expect(allocations).toHaveLength(0);
    expect(odooLines().size).toBe(0);
  });

  it('Ctrl-C stops after the batch in flight: each allocation posted or still approved; a re-run completes', async () => {
    const before = AllocationsResponseSchema.parse(
      json((await cloud.cli(['allocations', 'list', '--json', '--status', 'approved'])).stdout),
    );
    expect(before.allocations.length).toBeGreaterThan(5);
    odoo.setDelay(100); // every Odoo answer takes 100 ms: the run is slow enough to interrupt
    const p = cloud.spawnCli(['post', '--batch-size', '1'], { as: 'approver' });
    await p.waitForOutput(/posting \[[#.]+\] 2\//, 30_000);
    p.child.kill('SIGINT');
    const code = await p.exited;
    odoo.setDelay(0);
    expect(code).toBe(130);
    expect(p.stderr()).toContain("run 'ironledger post' again");
    const mid = AllocationsResponseSchema.parse(
      json((await cloud.cli(['allocations', 'list', '--json'])).stdout),
    );
    const ids = new Set(before.allocations.map((a) => a.id));
    const states = mid.allocations.filter((a) => ids.has(a.id)).map((a) => a.status);
    expect(states.every((s) => s === 'posted' || s === 'approved')).toBe(true);
    expect(states.filter((s) => s === 'posted').length).toBeGreaterThan(0);
    expect(states.filter((s) => s === 'approved').length).toBeGreaterThan(0);
    // What is posted is in Odoo once; what is approved is not there at all.
    const lines = odooLines();
    for (const a of mid.allocations.filter((x) => ids.has(x.id)))
      expect(lines.get(a.key) ?? 0, a.key).toBe(a.status === 'posted' ? 1 : 0);

    const rerun = await cloud.cli(['post', '--json'], { as: 'approver' });
    expect(rerun.code, rerun.stderr).toBe(0);
    const res = PostResponseSchema.parse(json(rerun.stdout));
    expect(res).toMatchObject({ mode: 'odoo', failed: [], held: [] });
    const after = AllocationsResponseSchema.parse(
      json((await cloud.cli(['allocations', 'list', '--json'])).stdout),
    );
    const done = after.allocations.filter((a) => ids.has(a.id));
    expect(done.every((a) => a.status === 'posted')).toBe(true);
    const final = odooLines();
    for (const a of done) expect(final.get(a.key), a.key).toBe(1);

    const nothing = await cloud.cli(['post'], { as: 'approver' });
    expect(nothing.code).toBe(0);
    expect(nothing.stdout).toContain('posted 0 allocations');
  });

  it('a project Odoo does not know is held: exit 3, and posts once it exists', async () => {
    // An admin adds a project and its geofence; new data lands in it and in the yard.
    const proj = await cloud.cli(['projects', 'add', '--id', 'P-ANNEX', '--name', 'Riverside annex']);
    expect(proj.code, proj.stderr).toBe(0);
    expect(proj.stdout).toBe('added project P-ANNEX\n');
    const site = await cloud.cli([
      'sites',
      'add',
      '--id',
      'riverside',
      '--name',
      'Riverside Tower',
      '--tz',
      'Europe/London',
      '--default-project',
      'P-RIVERSIDE',
      '--geofence',
      `circle:P-BASEMENT:${BASEMENT.lat},${BASEMENT.lon}:150`,
      '--geofence',
      `circle:P-ANNEX:${ANNEX.lat},${ANNEX.lon}:150`,
    ]);
    expect(site.code, site.stderr).toBe(0);
    expect(site.stdout).toBe('updated site riverside\n');
    const sites = SitesResponseSchema.parse(
      json((await cloud.cli(['sites', 'list', '--json'], { as: 'viewer' })).stdout),
    );
    expect(sites.sites[0]!.geofences.map((g) => g.projectId)).toEqual(['P-BASEMENT', 'P-ANNEX']);

    const day = days[6]!;
    const exc = workingDay('EXC-0042', day, meters.get('EXC-0042')!, ANNEX);
    const ldr = workingDay('LDR-0007', day, meters.get('LDR-0007')!, YARD);
    await cloud.postBatch('b-annex', [...exc.readings, ...ldr.readings]);
    expect((await cloud.cli(['consolidate'], { as: 'approver' })).code).toBe(0);
    const approve = await cloud.cli(['allocations', 'approve', '--from', day, '--to', day, '--yes'], {
      as: 'approver',
    });
    expect(approve.code, approve.stderr).toBe(0);
    expect(approve.stdout).toContain('approved 2 allocations');

    const r = await cloud.cli(['post'], { as: 'approver' });
    expect(r.code).toBe(3);
    expect(r.stdout).toContain('posted 1 allocation to Odoo as analytic lines');
    // Found in Odoo by its IronLedger name, as `projects add --name` documents.
    expect(r.stdout).toMatch(
      /held 1 allocation:\n\s+\S+\s+project "Riverside annex" \(P-ANNEX\) not found in Odoo/,
    );

    odoo.world.create('project.project', { name: 'Riverside annex' });
    const again = await cloud.cli(['post'], { as: 'approver' });
    expect(again.code, again.stdout).toBe(0);
    expect(again.stdout).toContain('posted 1 allocation to Odoo');
  });

  it('reconcile: per project, local vs Odoo to the cent; an edit in Odoo is a difference (exit 1)', async () => {
    const ok = await cloud.cli(['reconcile', '--period', period], { as: 'viewer' });
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(
      /PROJECT\s+LOCAL H\s+ODOO H\s+Δ H\s+LOCAL AMOUNT\s+ODOO AMOUNT\s+Δ AMOUNT\s+OK/,
    );
    for (const p of ['P-RIVERSIDE', 'P-BASEMENT', 'P-ANNEX'])
      expect(ok.stdout).toMatch(new RegExp(`${p}\\s+\\d+\\.\\d{2}\\s+\\d+\\.\\d{2}\\s+USD`));
    expect(ok.stdout).toContain('reconciled');
    const rec = ReconcileResponseSchema.parse(
      json((await cloud.cli(['reconcile', '--period', period, '--json'])).stdout),
    );
    expect(rec.rows.every((x) => x.ok && x.localAmountMinor === x.odooAmountMinor)).toBe(true);

    // An accountant changes one line's amount in Odoo.
    const line = odoo.records('account.analytic.line').find((l) => String(l.ref).startsWith('IL-'))!;
    odoo.edit('account.analytic.line', line.id as number, { amount: (line.amount as number) - 10 });
    const diff = await cloud.cli(['reconcile', '--period', period], { as: 'viewer' });
    expect(diff.code).toBe(1);
    expect(diff.stdout).toContain('DIFF');
    expect(diff.stdout).toMatch(/DIFFERENCES \(\d+\)/);
    expect(diff.stdout).toContain(String(line.ref));
    expect(diff.stdout).toContain('does not reconcile');
  });

  it('Odoo refuses a line: exit 1, a dead letter; replay posts it once the cause is fixed', async () => {
    const none = await cloud.cli(['deadletters', 'list'], { as: 'viewer' });
    expect(none.code).toBe(0);
    expect(none.stdout).toBe('no dead letters\n');

    expect((await cloud.cli(['projects', 'add', '--id', 'P-DOCK', '--name', 'Riverside dock'])).code).toBe(0);
    const site = await cloud.cli([
      'sites',
      'add',
      '--id',
      'riverside',
      '--tz',
      'Europe/London',
      '--default-project',
      'P-RIVERSIDE',
      '--geofence',
      `circle:P-BASEMENT:${BASEMENT.lat},${BASEMENT.lon}:150`,
      '--geofence',
      `circle:P-ANNEX:${ANNEX.lat},${ANNEX.lon}:150`,
      '--geofence',
      `circle:P-DOCK:${DOCK.lat},${DOCK.lon}:150`,
    ]);
    expect(site.code, site.stderr).toBe(0);
    const day = days[7]!;
    await cloud.postBatch('b-dock', workingDay('DOZ-0003', day, meters.get('DOZ-0003')!, DOCK).readings);
    expect((await cloud.cli(['consolidate'], { as: 'approver' })).code).toBe(0);
    expect(
      (await cloud.cli(['allocations', 'approve', '--project', 'P-DOCK', '--yes'], { as: 'approver' })).code,
    ).toBe(0);

    const r = await cloud.cli(['post'], { as: 'approver' });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('posted 0 allocations');
    expect(r.stdout).toMatch(/failed 1 allocation:\n\s+\S+\s+ODOO_VALIDATION\s+.*→ dead letter/);

    const t = await cloud.cli(['deadletters', 'list'], { as: 'viewer' });
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/ID\s+ALLOCATION\s+KEY\s+CODE\s+ATTEMPTS\s+LAST ATTEMPT\s+MESSAGE/);
    expect(t.stdout).toContain('ODOO_VALIDATION');
    const { deadLetters } = DeadLettersResponseSchema.parse(
      json((await cloud.cli(['deadletters', 'list', '--json'])).stdout),
    );
    expect(deadLetters).toHaveLength(1);
    const noIds = await cloud.cli(['deadletters', 'replay'], { as: 'approver' });
    expect(noIds.code).toBe(2);

    // The accountant creates the analytic account; the replay goes through, once.
    odoo.world.db.seed('account.analytic.account', {
      id: DOCK_ANALYTIC_ACCOUNT_ID,
      name: 'Riverside dock',
      plan_id: 1,
      company_id: false,
    });
    const replay = await cloud.cli(['deadletters', 'replay', deadLetters[0]!.id], { as: 'approver' });
    expect(replay.code, replay.stdout + replay.stderr).toBe(0);
    expect(replay.stdout).toContain('posted 1 allocation to Odoo');
    expect(odooLines().get(deadLetters[0]!.key)).toBe(1);
    const after = await cloud.cli(['allocations', 'show', deadLetters[0]!.allocationId, '--json']);
    expect(json(after.stdout)).toMatchObject({ status: 'posted' });
  });
});

describe('master data', () => {
  it('lists sites, units and rates; a viewer cannot add', async () => {
    const units = await cloud.cli(['units', 'list'], { as: 'viewer' });
    expect(units.code).toBe(0);
    expect(units.stdout).toMatch(/EXC-0042\s+excavator\s+CAT320-0042\s+riverside/);
    const rates = await cloud.cli(['rates', 'list'], { as: 'viewer' });
    expect(rates.stdout).toMatch(/R-LDR\s+class loader\s+USD 70\.25\/h\s+USD 19\.99\/h\s+2026-01-01/);
    const denied = await cloud.cli(['units', 'add', '--id', 'GEN-0001', '--class', 'generator'], {
      as: 'viewer',
    });
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/forbidden \(403\): this needs a token with the admin role/);
    const added = await cloud.cli([
      'units',
      'add',
      '--id',
      'GEN-0001',
      '--class',
      'generator',
      '--site',
      'riverside',
    ]);
    expect(added.code, added.stderr).toBe(0);
    const rate = await cloud.cli([
      'rates',
      'add',
      '--id',
      'R-GEN',
      '--unit',
      'GEN-0001',
      '--working',
      '12.5',
      '--idle',
      '3',
      '--currency',
      'usd',
      '--from',
      '2026-01-01',
      '--json',
    ]);
    expect(rate.code, rate.stderr).toBe(0);
    expect(json(rate.stdout)).toEqual({ kind: 'rate', id: 'R-GEN', created: true });
    const listed = await cloud.cli(['rates', 'list', '--json'], { as: 'viewer' });
    expect(json(listed.stdout)).toMatchObject({
      rates: expect.arrayContaining([
        expect.objectContaining({ rateId: 'R-GEN', workingRateMinor: 1250, idleRateMinor: 300 }),
      ]),
    });
    const badClass = await cloud.cli(['units', 'add', '--id', 'X-1', '--class', 'tractor']);
    expect(badClass.code).toBe(2);
    expect(badClass.stderr).toMatch(/^error: --class: /);
  });
});

describe('tokens and roles', () => {
  it('an admin creates a token; once revoked it gets 401', async () => {
    const created = await cloud.cli([
      'tokens',
      'create',
      '--name',
      'temp-viewer',
      '--role',
      'viewer',
      '--json',
    ]);
    expect(created.code).toBe(0);
    const t = TokenCreateResponseSchema.parse(json(created.stdout));
    const withToken = { as: null, env: { IRONLEDGER_TOKEN: t.token } } as const;
    expect((await cloud.cli(['status', '--json'], withToken)).code).toBe(0);
    const list = await cloud.cli(['tokens', 'list']);
    expect(list.stdout).toMatch(/temp-viewer\s+viewer/);
    const revoked = await cloud.cli(['tokens', 'revoke', t.id]);
    expect(revoked.code).toBe(0);
    const r = await cloud.cli(['status'], withToken);
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n')[0]).toMatch(/^error: not authenticated \(401\)/);
    expect(r.stderr).toMatch(/hint: .*IRONLEDGER_TOKEN/);
  });

  it('a viewer cannot create tokens (403) and a bad role is a usage error', async () => {
    const r = await cloud.cli(['tokens', 'create', '--name', 'x', '--role', 'admin'], { as: 'viewer' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/forbidden \(403\): this needs a token with the admin role/);
    const bad = await cloud.cli(['tokens', 'create', '--name', 'x', '--role', 'boss']);
    expect(bad.code).toBe(2);
  });
});

describe('failures', () => {
  it('an unreachable server: one line, a hint, exit 1', async () => {
    const r = await cloud.cli(['status'], { env: { IRONLEDGER_URL: 'http://127.0.0.1:9' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'error: cannot reach the IronLedger server at http://127.0.0.1:9 (ECONNREFUSED)\nhint: check the url (from IRONLEDGER_URL) and that the cloud is running\n',
    );
  });

  it('an unknown command: one line, a hint, exit 2', async () => {
    const r = await cloud.cli(['aprove']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: unknown command 'aprove'\nhint: /);
  });
});
