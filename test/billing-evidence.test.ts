/**
 * Evidence per allocation, end to end (README "Billing rules"): a real cloud with a contractor
 * rate card, a unit that moves into a geofence and back, goes offline overnight and has its
 * ECU swapped; the real CLI shows each allocation's evidence (table, JSON, HTML checked in
 * headless Chromium with the network cut off), bills a reset's unverified hours only on an
 * approver's audited decision, and `verify` passes after posting and fails, naming the
 * allocation, once one stored reading behind it is altered in the SQLite file.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  type Allocation,
  AllocationsResponseSchema,
  AuditResponseSchema,
  EvidenceResponseSchema,
  type ReadingInput,
  VerifyResponseSchema,
} from '@ironledger/contracts';
import { type OdooDouble, REPO_ROOT, startOdooDouble } from '@ironledger/testkit';
import Database from 'better-sqlite3';
import { type Browser, chromium } from 'playwright-core';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BASEMENT,
  type CloudHarness,
  startCloud,
  TOKENS,
  workingDay,
  YARD,
} from '../packages/cli/test-support/cloud-harness.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
];
const UNIT = 'EXC-0042';
const DAY1 = '2026-11-02'; // Monday, London on GMT
const DAY2 = '2026-11-03';
const TAMPERED_TS = '2026-11-02T10:00:00.000Z';

let cloud: CloudHarness;
let odoo: OdooDouble | undefined;
let browser: Browser | undefined;
let allocations: Allocation[] = [];
const json = (s: string) => JSON.parse(s) as unknown;
const find = (day: string, projectId = 'P-RIVERSIDE') =>
  allocations.find(
    (a) => a.unitId === UNIT && a.day === day && a.projectId === projectId && a.status !== 'superseded',
  )!;

async function listAllocations(): Promise<Allocation[]> {
  const r = await cloud.cli(['allocations', 'list', '--json', '--unit', UNIT], { as: 'viewer' });
  expect(r.code, r.stderr).toBe(0);
  return AllocationsResponseSchema.parse(json(r.stdout)).allocations;
}

async function evidence(key: string) {
  const r = await cloud.cli(['allocations', 'show', key, '--json'], { as: 'viewer' });
  expect(r.code, r.stderr).toBe(0);
  return EvidenceResponseSchema.parse(json(r.stdout));
}

beforeAll(async () => {
  // Posting records only what Odoo holds (a dry run leaves allocations approved): the double.
  odoo = await startOdooDouble();
  odoo.world.create('project.project', { name: 'Riverside Tower' });
  odoo.world.create('project.project', { name: 'Riverside basement' });
  cloud = await startCloud({ odoo: { url: odoo.url, db: odoo.db, login: odoo.login, apiKey: odoo.apiKey } });
  // A contractor card for excavators from November: owning 40.00, operating 60.00 an hour,
  // CLUE factors (working 100.00/h, idle 40.00/h, standby 32.00/h, off-hours 20.00/h).
  const res = await request(`${cloud.url}/v1/rates`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKENS.admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      rateId: 'R-EXC-CONTRACTOR',
      equipmentClass: 'excavator',
      workingRateMinor: 0,
      idleRateMinor: 0,
      owningRateMinor: 4000,
      operatingRateMinor: 6000,
      currency: 'USD',
      effectiveFrom: '2026-11-01',
    }),
  });
  expect(res.statusCode, await res.body.text()).toBeLessThan(300);

  // Day 1: 07:00–16:00 UTC, 0.5 h a half hour, 0.1 of it idle; 12:30 and 13:00 in the basement.
  const d1 = workingDay(UNIT, DAY1, { engineHours: 3000, idleHours: 600 }, YARD, 0.1);
  d1.readings[11]!.position = BASEMENT;
  d1.readings[12]!.position = BASEMENT;
  // Offline overnight; day 2 from 07:00, the ECU is swapped at 11:30: the new meter shows 0.3 h.
  const d2 = workingDay(UNIT, DAY2, d1.end, YARD, 0.1);
  const readings: ReadingInput[] = [...d1.readings];
  const swap = { engineHours: d2.readings[9]!.engineHours, idleHours: d2.readings[9]!.idleHours ?? 0 };
  for (const [i, r] of d2.readings.entries()) {
    if (i >= 9) {
      r.engineHours = Number((r.engineHours - swap.engineHours + 0.3).toFixed(4));
      r.idleHours = Number(((r.idleHours ?? 0) - swap.idleHours + 0.03).toFixed(4));
    }
    readings.push({ ...r, seq: 100 + i });
  }
  await cloud.postBatch('b-evidence-1', readings);
  const c = await cloud.cli(['consolidate'], { as: 'approver' });
  expect(c.code, c.stderr).toBe(0);
  allocations = await listAllocations();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await cloud?.stop();
  await odoo?.stop();
});

describe('evidence per allocation', () => {
  it('prices a day by status with the contractor card and shows what it rests on', async () => {
    const a = find(DAY1);
    const e = await evidence(a.key);
    // On P-RIVERSIDE on day 1: 8 of the 9 running hours (one in the basement), 0.8 idle;
    // the overnight gap from 16:00 is engine-off: 16–17 standby, 17–24 off-hours.
    // 7.2 × 100.00 + 0.8 × 40.00 + 1 × 32.00 + 7 × 20.00 = 720.00 + 32.00 + 32.00 + 140.00
    expect(e.billing).toMatchObject({ model: 'contractor', scope: 'class excavator' });
    expect(e.billing!.statusHours.working).toBeCloseTo(7.2, 6);
    expect(e.billing!.statusHours.idle).toBeCloseTo(0.8, 6);
    expect(e.billing!.statusHours.standby).toBeCloseTo(1, 6);
    expect(e.billing!.statusHours.offHours).toBeCloseTo(7, 6);
    expect(e.amountMinor).toBe(92400);
    expect(e.billing!.lines.reduce((s, l) => s + l.amountMinor, 0)).toBe(92400);
    // Both ends of every interval counted on it: 13:00 (in the basement) starts the one back.
    expect(e.readings.map((r) => r.ts)).toContain('2026-11-02T13:00:00.000Z');
    expect(e.readings.map((r) => r.ts)).not.toContain('2026-11-02T12:30:00.000Z');
    expect(e.readings.every((r) => r.matches)).toBe(true);
    expect(e.geofenceChanges).toEqual([
      { ts: '2026-11-02T13:00:00.000Z', fromProjectId: 'P-RIVERSIDE', toProjectId: 'P-BASEMENT' },
      { ts: '2026-11-02T13:30:00.000Z', fromProjectId: 'P-BASEMENT', toProjectId: 'P-RIVERSIDE' },
    ]);
    expect(e.billing!.gaps).toEqual([
      expect.objectContaining({
        fromTs: '2026-11-02T16:00:00.000Z',
        toTs: '2026-11-03T07:00:00.000Z',
        inferred: true,
      }),
    ]);
    expect(e.sha256).toMatchObject({ matches: true });
    expect(e.sha256.stored).toMatch(/^[0-9a-f]{64}$/);
    const table = await cloud.cli(['allocations', 'show', a.key], { as: 'viewer' });
    expect(table.code, table.stderr).toBe(0);
    for (const section of ['STATUS HOURS', 'RATE LINES', 'GAPS', 'GEOFENCE CHANGES', 'READINGS'])
      expect(table.stdout).toContain(section);
    expect(table.stdout).toContain('matches the store');
  });

  it('bills a reset’s unverified hours only on an approver’s audited decision', async () => {
    const a = find(DAY2);
    const before = await evidence(a.key);
    // 8.5 h proven (4 before the swap, 4.5 after), 0.85 idle; 00:00–07:00 off-hours (the gap).
    // 7.65 × 100.00 + 0.85 × 40.00 + 7 × 20.00 = 765.00 + 34.00 + 140.00
    expect(before.engineHours).toBeCloseTo(8.5, 6);
    expect(before.amountMinor).toBe(93900);
    expect(before.billing!.unverifiedHours).toBeCloseTo(0.3, 9);
    expect(before.resets.map((r) => r.ts)).toContain('2026-11-03T11:30:00.000Z');
    expect(before.unverifiedDecision).toBeNull();
    // The swapped ECU keeps the machine's lifetime hours: new meter + the old meter's last reading.
    const engineReset = before.resets.find((r) => r.detail.startsWith('engineHours'))!;
    const lastMeter = before.readings.at(-1)!.engineHours!;
    expect(before.lifetime).toMatchObject({
      meterHours: lastMeter,
      replacedHours: engineReset.before,
      replacements: [{ ts: '2026-11-03T11:30:00.000Z', replacedMeterHours: engineReset.before }],
    });
    expect(before.lifetime!.lifetimeHours).toBeCloseTo(lastMeter + engineReset.before!, 6);
    const shown = await cloud.cli(['allocations', 'show', a.key], { as: 'viewer' });
    expect(shown.stdout).toMatch(
      new RegExp(`lifetime:\\s+${before.lifetime!.lifetimeHours.toFixed(3)} h .*1 replaced meter`),
    );
    const usage = await cloud.cli(['usage', '--unit', UNIT, '--from', DAY1, '--to', DAY2], { as: 'viewer' });
    expect(usage.code, usage.stderr).toBe(0);
    expect(usage.stdout).toContain('LIFETIME METER HOURS');
    expect(usage.stdout).toContain(before.lifetime!.lifetimeHours.toFixed(3));

    const viewer = await cloud.cli(['allocations', 'bill-unverified', a.key, '--reason', 'workshop log'], {
      as: 'viewer',
    });
    expect(viewer.code).toBe(1);
    const noReason = await cloud.cli(['allocations', 'bill-unverified', a.key], { as: 'approver' });
    expect(noReason.code).toBe(2);

    const billed = await cloud.cli(
      ['allocations', 'bill-unverified', a.key, '--reason', 'workshop log WO-118: 0.3 h on site'],
      { as: 'approver' },
    );
    expect(billed.code, billed.stderr).toBe(0);
    const after = await evidence(a.key);
    // + 0.3 h as working time: 3000 cents more.
    expect(after.amountMinor).toBe(96900);
    expect(after.billing!.unverifiedBilledHours).toBeCloseTo(0.3, 9);
    expect(after.unverifiedDecision).toMatchObject({
      by: 'finance-approver',
      reason: 'workshop log WO-118: 0.3 h on site',
    });
    const audit = AuditResponseSchema.parse(
      json((await cloud.cli(['audit', '--json', '--action', 'allocation.bill_unverified'])).stdout),
    );
    expect(audit.entries).toEqual([
      expect.objectContaining({ actor: 'finance-approver', target: `${UNIT}|P-RIVERSIDE|${DAY2}` }),
    ]);
    allocations = await listAllocations();
  });

  it('verify passes after posting and fails, naming the allocation, once a stored reading is altered', async () => {
    const a = find(DAY1);
    const approve = await cloud.cli(['allocations', 'approve', a.id, '--yes'], { as: 'approver' });
    expect(approve.code, approve.stderr).toBe(0);
    const post = await cloud.cli(['post'], { as: 'approver' });
    expect(post.code, post.stderr).toBe(0);
    expect((await evidence(a.key)).status).toBe('posted');

    const ok = await cloud.cli(['verify'], { as: 'viewer' });
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toContain('1 posted allocation checked, 0 changed');

    // Someone edits one reading behind the posted allocation directly in the store.
    const db = new Database(path.join(cloud.dir, 'cloud.db'));
    db.pragma('busy_timeout = 5000');
    const changed = db
      .prepare('UPDATE readings SET engine_hours = engine_hours + 0.25 WHERE unit_id = ? AND ts = ?')
      .run(UNIT, TAMPERED_TS).changes;
    db.close();
    expect(changed).toBe(1);

    const bad = await cloud.cli(['verify'], { as: 'viewer' });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain(a.key);
    expect(bad.stdout).toContain(TAMPERED_TS);
    const report = VerifyResponseSchema.parse(
      json((await cloud.cli(['verify', '--json'], { as: 'viewer' })).stdout),
    );
    expect(report.failed).toEqual([
      expect.objectContaining({ key: a.key, changedReadings: [TAMPERED_TS], missingReadings: [] }),
    ]);
  });

  it('writes a self-contained evidence page that a browser renders with the same figures', async () => {
    const a = find(DAY1);
    const e = await evidence(a.key); // after the tampering above
    const out = path.join(cloud.dir, 'evidence.html');
    const r = await cloud.cli(['allocations', 'show', a.key, '--html', out], { as: 'viewer' });
    expect(r.code, r.stderr).toBe(0);
    const html = fs.readFileSync(out, 'utf8');
    expect(html).not.toMatch(/<script|<link|https?:\/\//i);

    const page = await browser!.newPage({ viewport: { width: 1280, height: 900 } });
    const requests: string[] = [];
    page.on('request', (req) => requests.push(req.url()));
    await page.goto(`file://${out}`);
    const main = page.locator('main');
    expect(await main.getAttribute('data-key')).toBe(a.key);
    expect(Number(await main.getAttribute('data-amount-minor'))).toBe(e.amountMinor);
    expect(await main.getAttribute('data-sha256-stored')).toBe(e.sha256.stored);
    expect(await main.getAttribute('data-sha256-matches')).toBe('false');
    expect(await page.locator('dd[data-lifetime-hours]').getAttribute('data-lifetime-hours')).toBe(
      String(e.lifetime!.lifetimeHours),
    );
    const rows = page.locator('table[data-section=readings] tr[data-ts]');
    expect(await rows.count()).toBe(e.readings.length);
    const bad = page.locator('table[data-section=readings] tr[data-matches=false]');
    expect(await bad.count()).toBe(1);
    expect(await bad.getAttribute('data-ts')).toBe(TAMPERED_TS);
    expect(await bad.isVisible()).toBe(true);
    const amounts = await page
      .locator('table[data-section=lines] tr[data-amount-minor]')
      .evaluateAll((els) => els.map((el) => Number(el.getAttribute('data-amount-minor'))));
    expect(amounts.reduce((s, x) => s + x, 0)).toBe(e.amountMinor);
    expect(await page.locator('ul[data-section=geofence-changes] li').count()).toBe(2);
    expect(await page.locator('ul[data-section=gaps] li').first().textContent()).toContain('inferred');
    expect(requests.filter((u) => !u.startsWith('file://'))).toEqual([]);
    const artifacts = path.join(REPO_ROOT, 'test-artifacts');
    fs.mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: path.join(artifacts, 'billing-evidence.png'), fullPage: true });
    await page.close();
  });
});
