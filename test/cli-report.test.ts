/**
 * `ironledger report` end to end: a real cloud fed with a month of readings (one meter reset
 * among them), the real CLI writing the HTML file, and headless Chromium opening it with the
 * network cut off: every chart renders, and its data-* totals equal the figures the cloud
 * serves through `usage --json` and `allocations list --json`. A screenshot is kept in
 * test-artifacts/.
 */
import fs from 'node:fs';
import path from 'node:path';
import { AllocationsResponseSchema, UsageResponseSchema } from '@ironledger/contracts';
import { REPO_ROOT } from '@ironledger/testkit';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BASEMENT,
  type CloudHarness,
  lastMonth,
  startCloud,
  UNITS,
  workingDay,
  YARD,
} from '../packages/cli/test-support/cloud-harness.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

let cloud: CloudHarness;
let browser: Browser | undefined;
const { period, days } = lastMonth();
const DAYS = days.slice(0, 10);

beforeAll(async () => {
  cloud = await startCloud();
  for (const u of UNITS) {
    let meter = { engineHours: 2000, idleHours: 400 };
    const readings = [];
    for (const [i, day] of DAYS.entries()) {
      const pos = u.unitId === 'EXC-0042' && i % 3 === 0 ? BASEMENT : YARD;
      const d = workingDay(u.unitId, day, meter, pos, u.unitId === 'LDR-0007' ? 0.5 : 0.1 + i * 0.02);
      if (u.unitId === 'DOZ-0003' && i === 4) {
        // The dozer's hour meter is replaced at noon: it restarts near zero.
        for (const r of d.readings.slice(10)) {
          r.engineHours = Number((r.engineHours - 2000).toFixed(4));
          r.idleHours = Number(((r.idleHours ?? 0) - 400).toFixed(4));
        }
        d.end = { engineHours: d.end.engineHours - 2000, idleHours: d.end.idleHours - 400 };
      }
      readings.push(...d.readings);
      meter = d.end;
    }
    await cloud.postBatch(`r-${u.unitId}`, readings);
  }
  const c = await cloud.cli(['consolidate'], { as: 'approver' });
  expect(c.code, c.stderr).toBe(0);
  const a = await cloud.cli(['allocations', 'approve', '--unit', 'EXC-0042', '--yes'], { as: 'approver' });
  expect([0, 3], a.stderr).toContain(a.code);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
});

afterAll(async () => {
  await browser?.close();
  await cloud?.stop();
});

describe('ironledger report', () => {
  it('renders every chart with the totals the cloud serves', async () => {
    const out = path.join(cloud.dir, 'report.html');
    const r = await cloud.cli(['report', '--period', period, '--out', out], { as: 'viewer' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(out);
    const html = fs.readFileSync(out, 'utf8');
    expect(html).not.toMatch(/<script|<link|https?:\/\//i);

    const from = `${period}-01`;
    const to = new Date(Date.UTC(Number(period.slice(0, 4)), Number(period.slice(5)), 0))
      .toISOString()
      .slice(0, 10);
    const usage = UsageResponseSchema.parse(
      JSON.parse((await cloud.cli(['usage', '--json', '--from', from, '--to', to])).stdout),
    );
    const { allocations } = AllocationsResponseSchema.parse(
      JSON.parse((await cloud.cli(['allocations', 'list', '--json', '--from', from, '--to', to])).stdout),
    );
    expect(usage.rows.length).toBeGreaterThan(0);
    const engine = usage.rows.reduce((t, x) => t + x.engineHours, 0);
    const idle = usage.rows.reduce((t, x) => t + x.idleHours, 0);
    const cost = allocations
      .filter((a) => a.status !== 'rejected' && a.status !== 'superseded')
      .reduce((t, a) => t + a.amountMinor, 0);
    const cells = new Set(usage.rows.filter((x) => x.engineHours > 0).map((x) => `${x.day}|${x.projectId}`))
      .size;

    const page = await browser!.newPage({ viewport: { width: 1280, height: 900 } });
    const requests: string[] = [];
    page.on('request', (req) => requests.push(req.url()));
    await page.goto(`file://${out}`);

    const chart = (name: string) => page.locator(`svg[data-chart="${name}"]`).first();
    for (const name of [
      'hours-per-project-per-day',
      'idle-share-per-unit',
      'cost-per-project',
      'anomalies',
    ]) {
      const box = await chart(name).boundingBox();
      expect(box, name).not.toBeNull();
      expect(box!.width, name).toBeGreaterThan(200);
      expect(box!.height, name).toBeGreaterThan(20);
    }

    const hours = chart('hours-per-project-per-day');
    expect(Number(await hours.getAttribute('data-total'))).toBeCloseTo(engine, 2);
    const bars = hours.locator('rect.bar');
    expect(await bars.count()).toBe(cells);
    const barHours = await bars.evaluateAll((els) =>
      els.reduce((t, e) => t + Number(e.getAttribute('data-hours')), 0),
    );
    expect(barHours).toBeCloseTo(engine, 1);
    // Drawn, not just present: the tallest day's bar has real height on screen.
    const heights = await bars.evaluateAll((els) =>
      els.map((e) => (e as SVGGraphicsElement).getBBox().height),
    );
    expect(Math.max(...heights)).toBeGreaterThan(50);

    const idleChart = chart('idle-share-per-unit');
    expect(Number(await idleChart.getAttribute('data-total'))).toBeCloseTo(idle, 2);
    expect(Number(await idleChart.getAttribute('data-total-engine'))).toBeCloseTo(engine, 2);
    expect(await idleChart.locator('g.unit').count()).toBe(new Set(usage.rows.map((x) => x.unitId)).size);

    const costChart = chart('cost-per-project');
    expect(await costChart.getAttribute('data-currency')).toBe('USD');
    expect(Number(await costChart.getAttribute('data-total-minor'))).toBe(cost);
    const barMinor = await costChart
      .locator('rect.bar')
      .evaluateAll((els) => els.reduce((t, e) => t + Number(e.getAttribute('data-amount-minor')), 0));
    expect(barMinor).toBe(cost);

    const anomalies = chart('anomalies');
    const expectedAnomalies = new Set([
      ...usage.anomalies.map((x) => `${x.unitId}|${x.kind}|${x.ts}`),
      ...allocations.flatMap((a) => a.evidence.anomalies.map((x) => `${x.unitId}|${x.kind}|${x.ts}`)),
    ]).size;
    expect(Number(await anomalies.getAttribute('data-total'))).toBe(expectedAnomalies);
    expect(await anomalies.locator('circle').count()).toBe(expectedAnomalies);

    expect(requests.filter((u) => !u.startsWith('file://'))).toEqual([]);
    const artifacts = path.join(REPO_ROOT, 'test-artifacts');
    fs.mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: path.join(artifacts, 'cli-report.png'), fullPage: true });
    await page.close();
  });

  it('a bad period is a usage error', async () => {
    const r = await cloud.cli(['report', '--period', '2026-13'], { as: 'viewer' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: bad period '2026-13' for --period\nhint: /);
  });
});
