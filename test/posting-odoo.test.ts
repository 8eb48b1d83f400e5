/**
 * Issue 6 end to end, on real processes: a simulated fleet's readings go unit → edge → cloud;
 * the fleet manager consolidates, approves and posts with the `ironledger` CLI; the cloud
 * (`node cloud/dist/main.js`) posts to an Odoo double over real HTTP. Run in each posting mode
 * (analytic lines, journal entries) over each API (/json/2, /jsonrpc).
 *
 * Every assertion about Odoo reads the double's records, not IronLedger's account of them.
 * Three simulated days give three independent sets of allocations:
 *   day 1: a project without an analytic account is held, the rest posts; once fixed in Odoo
 *          the held ones post; posting again creates nothing;
 *   day 2: an authentication failure posts nothing; then a cloud SIGKILLed between Odoo's
 *          create and its own record of it creates nothing new when restarted;
 *   day 3: an Odoo lock date holds the day; a wrong analytic account dead-letters one
 *          allocation, which a replay posts once fixed.
 * Then late data for day 1 (a gateway that was offline) becomes an adjustment that needs
 * approval, and the period reconciles to the cent until an accountant edits Odoo.
 */
import fs from 'node:fs';
import {
  type Allocation,
  DeadLettersResponseSchema,
  DecisionResponseSchema,
  type PostResponse,
  PostResponseSchema,
  ReconcileResponseSchema,
} from '@ironledger/contracts';
import {
  type OdooDouble,
  type Pipeline,
  removeDir,
  startOdooDouble,
  tempDir,
  waitFor,
} from '@ironledger/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  adminApi,
  generatedAnalytic,
  MATRIX,
  type OdooSeed,
  OFFLINE_UNIT,
  odooFigures,
  offlineUnitReadings,
  postBatch,
  postedHours,
  printWorld,
  type SimWorld,
  seedOdoo,
  startPostingPipeline,
} from './posting-harness.js';

const UNITS = 3;
const SEED = 5;
const DAYS = ['2026-11-02', '2026-11-03', '2026-11-04'] as const;
const PERIOD = '2026-11';

describe.each(MATRIX)('posting $target over $api', ({ target, api }) => {
  let dir: string;
  let odoo: OdooDouble;
  let world: SimWorld;
  let seed: OdooSeed;
  let pl: Pipeline;
  let http: ReturnType<typeof adminApi>;
  const model = target === 'analytic' ? 'account.analytic.line' : 'account.move';

  const cli = async (args: string[]) => {
    const r = await pl.cli(args);
    return { ...r, out: `${r.stdout}\n${r.stderr}` };
  };
  // Read over HTTP (cheaper than a CLI process per look); every action goes through the CLI.
  const allocations = (): Promise<Allocation[]> => http.allocations();
  const ofDay = async (day: string) => (await allocations()).filter((a) => a.day === day);
  const approveDay = async (day: string) => {
    const r = await cli(['allocations', 'approve', '--from', day, '--to', day, '--yes', '--json']);
    expect(r.code, r.out).toBe(0);
    return DecisionResponseSchema.parse(JSON.parse(r.stdout));
  };
  const post = async (args: string[] = []): Promise<{ code: number; res: PostResponse; out: string }> => {
    const r = await cli(['post', '--json', ...args]);
    expect(r.stdout, r.out).toMatch(/^\s*\{/);
    return { code: r.code, res: PostResponseSchema.parse(JSON.parse(r.stdout)), out: r.out };
  };
  const consolidate = async () => {
    const r = await cli(['consolidate']);
    expect(r.code, r.out).toBe(0);
  };

  /** Asserts Odoo holds exactly one record per allocation, with its account, amount, hours, date and ref. */
  const expectInOdoo = (list: Allocation[]) => {
    const figures = odooFigures(odoo, target);
    const generated = generatedAnalytic(odoo);
    for (const a of list) {
      const f = figures.get(a.key);
      expect(f, `${a.key} in Odoo`).toBeDefined();
      expect(f, a.key).toMatchObject({
        records: 1,
        amountMinor: a.amountMinor,
        hours: postedHours(a.engineHours, target === 'move' ? 2 : null),
        date: a.day,
        projectAccount: seed.projectAccount.get(a.projectId),
        equipmentAccount: seed.equipmentAccount.get(a.unitId),
      });
      expect(a.status, a.key).toBe('posted');
      expect(a.odoo, a.key).toMatchObject({ model, id: f!.ids[0], date: a.day });
      if (target === 'move') {
        expect(f!.state, a.key).toBe('posted');
        // What project managers see: the analytic line the posted entry generated.
        expect(generated.get(a.key), a.key).toEqual({
          amountMinor: a.amountMinor,
          hours: postedHours(a.engineHours, target === 'move' ? 2 : null),
        });
      }
    }
  };

  beforeAll(async () => {
    dir = tempDir('ironledger-posting-');
    odoo = await startOdooDouble();
    world = await printWorld(UNITS, SEED);
    seed = seedOdoo(odoo, world);
    pl = await startPostingPipeline({ dir, odoo, world, units: UNITS, seed: SEED, target, api });
    http = adminApi(pl);
    const sim = await pl.runSim([
      '--days',
      String(DAYS.length),
      '--start',
      DAYS[0],
      '--interval',
      '10m',
      '--as-fast-as-possible',
      '--acked',
      pl.paths.acked,
    ]);
    expect(sim.code, sim.stderr).toBe(0);
    const acked = new Set(fs.readFileSync(pl.paths.acked, 'utf8').split('\n').filter(Boolean)).size;
    await pl.waitForDrain(acked);
    // The offline unit's morning on day 1 arrived in time; its afternoon is late (below).
    await postBatch(pl, 'offline-unit-morning', offlineUnitReadings(DAYS[0], '07:00', '12:00'));
    await consolidate();
    const all = await allocations();
    for (const day of DAYS) expect(all.filter((a) => a.day === day).length, day).toBeGreaterThan(1);
  });

  afterAll(async () => {
    await pl?.stop();
    await odoo?.stop();
    if (dir) removeDir(dir);
  });

  let heldProject: string;

  it('day 1: a project without an analytic account in Odoo is held with a clear reason; the rest posts', async () => {
    const day1 = await ofDay(DAYS[0]);
    heldProject = day1[0]!.projectId;
    const held = day1.filter((a) => a.projectId === heldProject);
    const rest = day1.filter((a) => a.projectId !== heldProject);
    expect(rest.length).toBeGreaterThan(0);
    // An accountant unlinks the project's analytic account in Odoo.
    odoo.edit('project.project', seed.odooProject.get(heldProject)!, { account_id: false });

    expect((await approveDay(DAYS[0])).changed.sort()).toEqual(day1.map((a) => a.id).sort());
    const { code, res } = await post();
    expect(code).toBe(3); // some posted, some held
    expect(res).toMatchObject({ mode: 'odoo', api, target, failed: [], alreadyInOdoo: [] });
    expect(res.posted.map((p) => p.id).sort()).toEqual(rest.map((a) => a.id).sort());
    expect(res.held.map((h) => h.id).sort()).toEqual(held.map((a) => a.id).sort());
    const name = world.projects.find((p) => p.projectId === heldProject)!.name;
    for (const h of res.held)
      expect(h.reason).toBe(`Odoo project "${name}" (${heldProject}) has no analytic account (account_id)`);

    // Every call to Odoo went over the configured API.
    expect(
      odoo.calls.filter((c) => c.model === model && c.method === 'create').every((c) => c.api === api),
    ).toBe(true);
    const now = await ofDay(DAYS[0]);
    expectInOdoo(now.filter((a) => a.projectId !== heldProject));
    for (const a of now.filter((x) => x.projectId === heldProject)) {
      expect(a).toMatchObject({
        status: 'approved',
        holdReason: expect.stringContaining('no analytic account'),
      });
      expect(odooFigures(odoo, target).has(a.key)).toBe(false);
    }
  });

  it('day 1: once fixed in Odoo the held allocations post; found master data is not read again', async () => {
    odoo.edit('project.project', seed.odooProject.get(heldProject)!, {
      account_id: seed.projectAccount.get(heldProject)!,
    });
    const lookups = () =>
      odoo.calls.filter((c) => c.model === 'project.project' && c.method === 'search_read').length;
    const before = lookups();
    const { code, res } = await post();
    expect(code, JSON.stringify(res)).toBe(0);
    expect(res.held).toEqual([]);
    // Only the project that had no account was asked for again; the others come from the cache.
    expect(lookups() - before).toBe(1);
    const day1 = await ofDay(DAYS[0]);
    expect(res.posted.map((p) => p.id).sort()).toEqual(
      day1
        .filter((a) => a.projectId === heldProject)
        .map((a) => a.id)
        .sort(),
    );
    expectInOdoo(day1);
  });

  it('day 1: posting again, even after approving everything again, creates nothing new', async () => {
    const creates = odoo.count('create', model);
    const records = odoo.records(model).length;
    const again = await post();
    expect(again.code).toBe(0);
    expect(again.res.posted).toEqual([]);
    const approve = await approveDay(DAYS[0]);
    expect(approve.changed).toEqual([]);
    expect(approve.refused.every((r) => r.reason === 'already posted')).toBe(true);
    expect((await post(['--batch-size', '1'])).res.posted).toEqual([]);
    expect(odoo.count('create', model)).toBe(creates);
    expect(odoo.records(model).length).toBe(records);
  });

  it('day 2: an authentication failure stops the run with a clear message and posts nothing', async () => {
    const day2 = await ofDay(DAYS[1]);
    expect((await approveDay(DAYS[1])).changed.length).toBe(day2.length);
    await pl.restartCloud({ env: { ODOO_API_KEY: 'not-the-key' } });
    const creates = odoo.count('create', model);

    const r = await cli(['post']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ODOO_AUTH|credentials/);
    expect(r.stderr).toContain('posting stopped, nothing was sent');
    expect(r.stderr).toContain('ODOO_API_KEY');
    expect(odoo.count('create', model)).toBe(creates);
    for (const a of await ofDay(DAYS[1])) expect(a).toMatchObject({ status: 'approved', holdReason: null });
    expect((await http.ok('GET', '/v1/deadletters')) as unknown).toEqual({ deadLetters: [] });

    await pl.restartCloud({ env: { ODOO_API_KEY: odoo.apiKey } });
  });

  it('day 2: a cloud killed (SIGKILL) after Odoo created the records, restarted, creates nothing new', async () => {
    const day2 = await ofDay(DAYS[1]);
    expect(day2.every((a) => a.status === 'approved')).toBe(true);
    const keys = new Set(day2.map((a) => a.key));
    const inOdoo = () => [...odooFigures(odoo, target).keys()].filter((k) => keys.has(k)).length;

    // Odoo carries out the create but holds back its answer, so the cloud never learns the ids.
    odoo.setDelay(60_000, { after: true, method: 'create', model });
    const inFlight = http.call('POST', '/v1/post', {}).catch((e: unknown) => e);
    await waitFor(() => inOdoo() === day2.length, { what: 'Odoo to hold every day-2 record' });
    await pl.cloud.kill9();
    expect(await inFlight).toBeInstanceOf(Error); // the connection died with the cloud
    odoo.setDelay(0);
    const creates = odoo.count('create', model);

    await pl.restartCloud();
    for (const a of await ofDay(DAYS[1]))
      expect(a.status, 'nothing was recorded before the kill').toBe('approved');
    const { code, res } = await post();
    expect(code, JSON.stringify(res)).toBe(0);
    expect(res.posted).toEqual([]);
    expect(res.alreadyInOdoo.sort()).toEqual(day2.map((a) => a.id).sort());
    expect(odoo.count('create', model)).toBe(creates);
    expectInOdoo(await ofDay(DAYS[1]));
  });

  it('day 3: analytic lines inside Odoo’s locked period post with their date; journal entries are held', async () => {
    const day3 = await ofDay(DAYS[2]);
    await approveDay(DAYS[2]);
    odoo.setLockDate(DAYS[2]);
    if (target === 'analytic') {
      // Odoo's lock dates don't apply to analytic lines: it keeps their date (transcripts 148–153).
      const one = day3.find((a) => a.projectId !== day3[0]!.projectId) ?? day3[0]!;
      const r = await http.ok('POST', '/v1/post', { ids: [one.id] });
      const res = PostResponseSchema.parse(r);
      expect(res).toMatchObject({ held: [], failed: [] });
      expect(res.posted.map((p) => p.id)).toEqual([one.id]);
      expect(odooFigures(odoo, target).get(one.key)).toMatchObject({ date: DAYS[2] });
      odoo.setLockDate(false);
      return;
    }
    const creates = odoo.count('create', model);
    const { code, res } = await post();
    expect(code).toBe(1); // nothing posted
    expect(res.held.map((h) => h.id).sort()).toEqual(day3.map((a) => a.id).sort());
    for (const h of res.held)
      expect(h.reason).toBe(
        `period locked in Odoo: ${DAYS[2]} is on or before the lock date ${DAYS[2]}; Odoo would move the journal entry to a later date`,
      );
    expect(odoo.count('create', model)).toBe(creates);
    const heldNow = await ofDay(DAYS[2]);
    for (const a of heldNow)
      expect(a).toMatchObject({
        status: 'approved',
        holdReason: expect.stringContaining('period locked in Odoo'),
      });
    // A hold is no change of usage: recomputing every unit leaves the approval standing.
    await http.ok('POST', '/v1/consolidate', { all: true });
    expect(await ofDay(DAYS[2])).toEqual(heldNow);
    odoo.setLockDate(false);
  });

  it('day 3: a validation error lands in dead letters alone; replay posts it once the cause is fixed', async () => {
    const day3 = (await ofDay(DAYS[2])).filter((a) => a.status === 'approved');
    const bad = day3[0]!;
    const project = world.projects.find((p) => p.projectId === bad.projectId)!;
    // An admin types the wrong analytic account into IronLedger's master data.
    const typo = await cli([
      'projects',
      'add',
      '--id',
      project.projectId,
      '--name',
      project.name,
      '--analytic-account',
      '9001',
    ]);
    expect(typo.code, typo.out).toBe(0);

    const { code, res } = await post();
    expect(code).toBe(3);
    const badOnes = day3.filter((a) => a.projectId === bad.projectId);
    expect(res.failed.map((f) => f.id).sort()).toEqual(badOnes.map((a) => a.id).sort());
    for (const f of res.failed) expect(f).toMatchObject({ code: 'ODOO_VALIDATION', deadLettered: true });
    expect(res.failed[0]!.message).toContain('9001');
    expect(res.posted.map((p) => p.id).sort()).toEqual(
      day3
        .filter((a) => a.projectId !== bad.projectId)
        .map((a) => a.id)
        .sort(),
    );
    const list = await cli(['deadletters', 'list', '--json']);
    const { deadLetters } = DeadLettersResponseSchema.parse(JSON.parse(list.stdout));
    expect(deadLetters.map((d) => d.key).sort()).toEqual(badOnes.map((a) => a.key).sort());
    for (const a of badOnes) expect(odooFigures(odoo, target).has(a.key)).toBe(false);

    const fix = await cli([
      'projects',
      'add',
      '--id',
      project.projectId,
      '--name',
      project.name,
      '--analytic-account',
      String(seed.projectAccount.get(project.projectId)),
    ]);
    expect(fix.code, fix.out).toBe(0);
    const replay = await cli(['deadletters', 'replay', ...deadLetters.map((d) => d.id), '--json']);
    expect(replay.code, replay.out).toBe(0);
    expect(
      PostResponseSchema.parse(JSON.parse(replay.stdout))
        .posted.map((p) => p.id)
        .sort(),
    ).toEqual(badOnes.map((a) => a.id).sort());
    expect(
      DeadLettersResponseSchema.parse(JSON.parse((await cli(['deadletters', 'list', '--json'])).stdout)),
    ).toEqual({
      deadLetters: [],
    });
    expectInOdoo(await ofDay(DAYS[2]));
  });

  it('late data after posting is an adjustment that needs approval; the posted record is never edited', async () => {
    const [original] = (await ofDay(DAYS[0])).filter((a) => a.unitId === OFFLINE_UNIT.unitId);
    expect(original).toMatchObject({ status: 'posted', kind: 'normal' });
    const before = odooFigures(odoo, target).get(original!.key);

    // The offline gateway comes back with the unit's afternoon: 4 more engine hours on day 1.
    await postBatch(pl, 'offline-unit-afternoon', offlineUnitReadings(DAYS[0], '12:30', '16:00'));
    await consolidate();
    const day1 = (await ofDay(DAYS[0])).filter((a) => a.unitId === OFFLINE_UNIT.unitId);
    const adj = day1.find((a) => a.kind === 'adjustment');
    expect(adj).toMatchObject({ adjusts: original!.id, status: 'pending', projectId: original!.projectId });
    expect(adj!.engineHours).toBeCloseTo(4, 6);
    expect(adj!.amountMinor).toBeGreaterThan(0);
    expect(day1.find((a) => a.id === original!.id)).toEqual(original);

    // Not approved: not posted.
    expect((await post()).res.posted).toEqual([]);
    expect(odooFigures(odoo, target).has(adj!.key)).toBe(false);

    expect((await approveDay(DAYS[0])).changed).toEqual([adj!.id]);
    const { code, res } = await post();
    expect(code).toBe(0);
    expect(res.posted.map((p) => p.id)).toEqual([adj!.id]);
    const after = (await ofDay(DAYS[0])).filter((a) => a.unitId === OFFLINE_UNIT.unitId);
    expectInOdoo(after);
    expect(odooFigures(odoo, target).get(original!.key)).toEqual(before);
    // IronLedger never writes to or deletes a record it has posted.
    for (const m of ['write', 'unlink']) expect(odoo.count(m, model), m).toBe(0);
  });

  it('money in Odoo equals the posted allocations to the cent, and the period reconciles', async () => {
    const all = await allocations();
    const posted = all.filter((a) => a.status === 'posted');
    expect(all.filter((a) => a.status === 'approved' || a.status === 'pending')).toEqual([]);
    const figures = odooFigures(odoo, target);
    expect([...figures.keys()].sort()).toEqual(posted.map((a) => a.key).sort());
    const sum = (xs: number[]) => xs.reduce((t, x) => t + x, 0);
    expect(sum([...figures.values()].map((f) => f.amountMinor))).toBe(sum(posted.map((a) => a.amountMinor)));

    const r = await cli(['reconcile', '--period', PERIOD, '--json']);
    expect(r.code, r.out).toBe(0);
    const rec = ReconcileResponseSchema.parse(JSON.parse(r.stdout));
    expect(rec.differences).toEqual([]);
    expect(rec.rows.length).toBeGreaterThan(1);
    for (const row of rec.rows) {
      expect(row.ok, row.projectId).toBe(true);
      expect(row.odooAmountMinor).toBe(row.localAmountMinor);
    }
    expect(sum(rec.rows.map((x) => x.localAmountMinor))).toBe(sum(posted.map((a) => a.amountMinor)));
  });

  it('reconciliation lists a difference an accountant makes in Odoo', async () => {
    const a = (await allocations()).find((x) => x.status === 'posted')!;
    const f = odooFigures(odoo, target).get(a.key)!;
    if (target === 'analytic')
      odoo.edit('account.analytic.line', f.ids[0]!, { amount: -(a.amountMinor + 1234) / 100 });
    else {
      const line = odoo
        .records('account.move.line')
        .find((l) => Array.isArray(l.move_id) && l.move_id[0] === f.ids[0] && l.analytic_distribution)!;
      odoo.edit('account.move.line', line.id as number, { debit: (a.amountMinor + 1234) / 100 });
    }
    const r = await cli(['reconcile', '--period', PERIOD, '--json']);
    expect(r.code).toBe(1);
    const rec = ReconcileResponseSchema.parse(JSON.parse(r.stdout));
    expect(rec.differences).toContainEqual(
      expect.objectContaining({ key: a.key, projectId: a.projectId, kind: 'amount' }),
    );
    expect(rec.rows.find((x) => x.projectId === a.projectId)).toMatchObject({
      ok: false,
      localAmountMinor: expect.any(Number),
    });
    const row = rec.rows.find((x) => x.projectId === a.projectId)!;
    expect(row.odooAmountMinor - row.localAmountMinor).toBe(1234);
  });

  it.runIf(target === 'move')(
    'journal entries: an edit of one generated analytic line is found as exactly that difference',
    async () => {
      const before = ReconcileResponseSchema.parse(
        JSON.parse((await cli(['reconcile', '--period', PERIOD, '--json'])).stdout),
      ).differences;
      const edited = new Set(before.map((d) => d.key));
      const b = (await allocations()).find((x) => x.status === 'posted' && !edited.has(x.key))!;
      // Odoo accepts an amount written on the analytic line posting generated (transcripts 142–143).
      const line = odoo.records('account.analytic.line').find((l) => l.ref === b.key && l.move_line_id)!;
      odoo.world.write('account.analytic.line', [line.id as number], {
        amount: -(b.amountMinor + 500) / 100,
      });
      const r = await cli(['reconcile', '--period', PERIOD, '--json']);
      const rec = ReconcileResponseSchema.parse(JSON.parse(r.stdout));
      expect(rec.differences.filter((d) => !edited.has(d.key))).toEqual([
        {
          projectId: b.projectId,
          key: b.key,
          kind: 'amount',
          local: (b.amountMinor / 100).toFixed(2),
          odoo: ((b.amountMinor + 500) / 100).toFixed(2),
          side: 'analytic_line',
        },
      ]);
    },
  );
});
