import type { Allocation, UsageRow } from '@ironledger/contracts';
import { describe, expect, it } from 'vitest';
import { periodDays } from '../values.js';
import {
  costPerProject,
  hoursPerProjectPerDay,
  idleSharePerUnit,
  niceStep,
  type ReportData,
} from './aggregate.js';
import { renderReport } from './render.js';

const row = (
  unitId: string,
  day: string,
  projectId: string,
  engineHours: number,
  idleHours: number,
): UsageRow => ({
  unitId,
  day,
  projectId,
  siteId: 'S1',
  engineHours,
  idleHours,
  workingHours: engineHours - idleHours,
  distanceKm: null,
  readings: 10,
  anomalies: 0,
});

const alloc = (
  id: string,
  projectId: string,
  amountMinor: number,
  status: Allocation['status'],
  currency = 'USD',
): Allocation => ({
  id,
  version: 1,
  key: `IL-${id}`,
  kind: 'normal',
  adjusts: null,
  unitId: 'EXC-1',
  projectId,
  day: '2026-11-02',
  engineHours: 1,
  idleHours: 0,
  workingHours: 1,
  workingRateMinor: amountMinor,
  idleRateMinor: 0,
  currency,
  amountMinor,
  status,
  holdReason: null,
  evidence: { readings: 2, anomalies: [], meterFrom: 0, meterTo: 1 },
  createdAt: '2026-11-03T00:00:00.000Z',
  approvedBy: null,
  approvedAt: null,
  rejectedBy: null,
  rejectedAt: null,
  rejectReason: null,
  postedAt: null,
  odoo: null,
});

const data = (): ReportData => ({
  period: '2026-11',
  generatedAt: '2026-12-01T08:00:00.000Z',
  source: 'test',
  days: periodDays('2026-11').days,
  usage: [
    row('EXC-1', '2026-11-02', 'P-A', 8.25, 1.5),
    row('EXC-1', '2026-11-02', 'P-B', 0.5, 0.25),
    row('LDR-2', '2026-11-03', 'P-A', 6, 3),
  ],
  anomalies: [
    {
      unitId: 'LDR-2',
      kind: 'meter_reset',
      ts: '2026-11-03T10:00:00.000Z',
      detail: 'meter went back',
      before: 100,
      after: 0,
    },
  ],
  allocations: [
    alloc('a1', 'P-A', 70125, 'approved'),
    alloc('a2', 'P-B', 4250, 'posted'),
    alloc('a3', 'P-A', 99999, 'rejected'),
  ],
  // The server's aggregates of the rows and allocations above (GET /v1/report).
  byProjectDay: [
    { projectId: 'P-A', day: '2026-11-02', engineHours: 8.25, idleHours: 1.5, workingHours: 6.75, units: 1 },
    { projectId: 'P-B', day: '2026-11-02', engineHours: 0.5, idleHours: 0.25, workingHours: 0.25, units: 1 },
    { projectId: 'P-A', day: '2026-11-03', engineHours: 6, idleHours: 3, workingHours: 3, units: 1 },
  ],
  idleShareByUnit: [
    { unitId: 'EXC-1', engineHours: 8.75, idleHours: 1.75, idleShare: 0.2 },
    { unitId: 'LDR-2', engineHours: 6, idleHours: 3, idleShare: 0.5 },
  ],
  costByProject: [
    {
      projectId: 'P-B',
      currency: 'USD',
      pendingMinor: 0,
      approvedMinor: 0,
      postedMinor: 4250,
      totalMinor: 4250,
    },
    {
      projectId: 'P-A',
      currency: 'USD',
      pendingMinor: 0,
      approvedMinor: 70125,
      postedMinor: 0,
      totalMinor: 70125,
    },
  ],
});

describe("report figures (the server's, shaped for the charts)", () => {
  it('lays out hours per project per day', () => {
    const agg = hoursPerProjectPerDay(data().byProjectDay, data().days);
    expect(agg.total).toBeCloseTo(14.75);
    expect(agg.hours.get('2026-11-02')?.get('P-A')).toBe(8.25);
    expect(agg.dayTotals.get('2026-11-02')).toBeCloseTo(8.75);
    expect(agg.projects).toEqual(['P-A', 'P-B']);
  });

  it('orders idle share per unit worst first', () => {
    const u = idleSharePerUnit(data().idleShareByUnit);
    expect(u.map((x) => x.unitId)).toEqual(['LDR-2', 'EXC-1']);
    expect(u[0]!.idleShare).toBe(0.5);
  });

  it("takes the server's cost per project, largest first", () => {
    const c = costPerProject(data().costByProject);
    expect(c.get('USD')).toEqual([
      { projectId: 'P-A', amountMinor: 70125, pendingMinor: 0, approvedMinor: 70125, postedMinor: 0 },
      { projectId: 'P-B', amountMinor: 4250, pendingMinor: 0, approvedMinor: 0, postedMinor: 4250 },
    ]);
  });

  it('never recomputes what the server summed: its figures are drawn even where the rows disagree', () => {
    const d = data();
    d.usage = []; // the charts do not add up rows
    d.allocations = [alloc('a9', 'P-A', 1, 'approved')]; // nor price allocations
    const html = renderReport(d);
    expect(html).toMatch(/data-chart="hours-per-project-per-day" data-total="14.75"/);
    expect(html).toMatch(/data-chart="cost-per-project" data-currency="USD" data-total-minor="74375"/);
  });

  it('picks round axis steps', () => {
    expect(niceStep(10)).toBe(2);
    expect(niceStep(23)).toBe(5);
    expect(niceStep(0)).toBe(1);
  });
});

describe('renderReport', () => {
  const html = renderReport(data());

  it('is self-contained: no scripts, no external resources, a CSP that forbids fetching', () => {
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<link/i);
    expect(html).not.toMatch(/(src|href)="https?:/i);
    expect(html).not.toMatch(/url\(/i);
    expect(html).toContain("default-src 'none'");
  });

  it('carries the totals on the charts', () => {
    expect(html).toMatch(/data-chart="hours-per-project-per-day" data-total="14.75"/);
    expect(html).toMatch(/data-chart="idle-share-per-unit" data-total="4.75" data-total-engine="14.75"/);
    expect(html).toMatch(/data-chart="cost-per-project" data-currency="USD" data-total-minor="74375"/);
    expect(html).toMatch(/data-chart="anomalies" data-total="1"/);
    expect(html.match(/class="bar"[^>]*data-hours=/g)).toHaveLength(3);
    expect(html).toContain('USD 743.75');
  });

  it('escapes text from the server', () => {
    const d = data();
    d.usage[0]!.projectId = '<script>alert(1)</script>';
    d.byProjectDay[0]!.projectId = '<script>alert(1)</script>';
    const out = renderReport(d);
    expect(out).not.toContain('<script>alert');
    expect(out).toContain('&#60;script&#62;');
  });
});
