import fs from 'node:fs';
import path from 'node:path';
import { AllocationsResponseSchema, ReportResponseSchema, UsageResponseSchema } from '@ironledger/contracts';
import { bool, type CommandSpec, type Ctx, JSON_OPTION, required, str } from '../command.js';
import { ApiError, CliError, EXIT } from '../errors.js';
import { formatMoney } from '../format/money.js';
import { costPerProject, type ReportData } from '../report/aggregate.js';
import { renderReport } from '../report/render.js';
import { parsePeriod, periodDays } from '../values.js';

/**
 * Report data: `GET /v1/report` (ReportResponse) when the cloud serves it, else assembled from
 * `/v1/usage` and `/v1/allocations` (a cloud without the route answers 404). When the cloud
 * also sends its own cost totals, they are checked against the allocations: a disagreement
 * is reported, never hidden.
 */
export async function loadReportData(ctx: Ctx, period: string): Promise<ReportData> {
  const { from, to, days } = periodDays(period);
  const api = ctx.api();
  const base = { period, days, generatedAt: ctx.now().toISOString() };
  try {
    const { data } = await api.get('/v1/report', ReportResponseSchema, { period });
    const report: ReportData = {
      ...base,
      locked: data.locked,
      usage: data.rows,
      anomalies: data.anomalies,
      allocations: data.allocations,
      source: `GET /v1/report?period=${period}`,
    };
    checkCostTotals(ctx, report, data.costByProject);
    return report;
  } catch (e) {
    if (!(e instanceof ApiError) || (e.status !== 404 && e.status !== 405 && e.status !== 501)) throw e;
    ctx.debug(`GET /v1/report: ${e.status}; assembling from /v1/usage and /v1/allocations`);
  }
  const [usage, allocations] = await Promise.all([
    api.get('/v1/usage', UsageResponseSchema, { from, to }),
    api.get('/v1/allocations', AllocationsResponseSchema, { from, to }),
  ]);
  return {
    ...base,
    usage: usage.data.rows,
    anomalies: usage.data.anomalies,
    allocations: allocations.data.allocations,
    source: 'GET /v1/usage and /v1/allocations',
  };
}

function checkCostTotals(
  ctx: Ctx,
  report: ReportData,
  server: readonly { projectId: string; currency: string; totalMinor: number }[],
): void {
  const mine = costPerProject(report.allocations);
  for (const s of server) {
    const m = mine.get(s.currency)?.find((p) => p.projectId === s.projectId)?.amountMinor ?? 0;
    if (m !== s.totalMinor) {
      ctx.warn(
        `${s.projectId}: the cloud's cost total ${formatMoney(s.totalMinor, s.currency)} differs from its allocations (${formatMoney(m, s.currency)})`,
      );
    }
  }
}

export const report: CommandSpec = {
  name: 'report',
  summary: 'A month in one HTML file: hours, idle share, cost, anomalies',
  description:
    'Writes one self-contained HTML file (inline CSS and SVG, nothing fetched when opened) with\ncharts of engine hours per project per day, idle share per unit, cost per project and the\nanomalies of the month. Open it in any browser, attach it to an email, print it.',
  role: 'viewer',
  options: {
    period: { type: 'string', value: 'YYYY-MM', description: 'The month (required)' },
    out: {
      type: 'string',
      short: 'o',
      value: 'file',
      description: 'Where to write it (default ironledger-report-<period>.html)',
    },
    ...JSON_OPTION,
  },
  examples: [
    ['November for the site managers', 'ironledger report --period 2026-11 --out report.html'],
    ['The figures behind it', 'ironledger report --period 2026-11 --json'],
  ],
  async run(ctx, a) {
    const period = parsePeriod(required(a, 'period', 'e.g. --period 2026-11'));
    const data = await loadReportData(ctx, period);
    if (bool(a, 'json')) {
      ctx.json(data);
      return EXIT.OK;
    }
    const out = str(a, 'out') ?? `ironledger-report-${period}.html`;
    const html = renderReport(data);
    try {
      fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
      const tmp = `${out}.tmp-${process.pid}`;
      fs.writeFileSync(tmp, html);
      fs.renameSync(tmp, out);
    } catch (e) {
      throw new CliError(`cannot write ${out}: ${(e as Error).message}`, { hint: 'choose another --out' });
    }
    ctx.out(`${out}\n`);
    ctx.note(
      ctx.ec.dim(
        `wrote ${(Buffer.byteLength(html) / 1024).toFixed(0)} KiB: ${data.usage.length} usage rows, ${data.allocations.length} allocations, from ${data.source}`,
      ),
    );
    return EXIT.OK;
  },
};
