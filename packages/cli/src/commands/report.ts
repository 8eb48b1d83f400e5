import fs from 'node:fs';
import path from 'node:path';
import { ReportResponseSchema } from '@ironledger/contracts';
import { bool, type CommandSpec, type Ctx, JSON_OPTION, required, str } from '../command.js';
import { CliError, EXIT } from '../errors.js';
import type { ReportData } from '../report/aggregate.js';
import { renderReport } from '../report/render.js';
import { parsePeriod, periodDays } from '../values.js';

/**
 * Report data: `GET /v1/report` (ReportResponse). Its aggregates (hours per project and day,
 * idle share per unit, cost per project) are the server's: the report draws them as they are.
 */
export async function loadReportData(ctx: Ctx, period: string): Promise<ReportData> {
  const { days } = periodDays(period);
  const { data } = await ctx.api().get('/v1/report', ReportResponseSchema, { period });
  return {
    period,
    days,
    generatedAt: ctx.now().toISOString(),
    locked: data.locked,
    usage: data.rows,
    anomalies: data.anomalies,
    allocations: data.allocations,
    byProjectDay: data.byProjectDay,
    idleShareByUnit: data.idleShareByUnit,
    costByProject: data.costByProject,
    source: `GET /v1/report?period=${period}`,
  };
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
