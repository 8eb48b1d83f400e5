import { UsageResponseSchema, type UsageRow } from '@ironledger/contracts';
import { type CommandSpec, CSV_OPTION, JSON_OPTION, outputMode, str } from '../command.js';
import { EXIT } from '../errors.js';
import { renderCsv } from '../format/csv.js';
import { type Column, renderTable } from '../format/table.js';
import { formatHours, formatInstant } from '../format/time.js';
import { RANGE_OPTIONS, rangeQuery, SCOPE_OPTIONS } from './filters.js';

export const usage: CommandSpec = {
  name: 'usage',
  summary: 'Engine, idle and working hours per unit, day and project',
  description:
    'Consolidated usage: per unit, per site-local day, per project: engine hours, idle hours,\nworking hours (engine − idle), distance, the readings behind it and anomalies found.',
  role: 'viewer',
  options: {
    ...RANGE_OPTIONS,
    ...SCOPE_OPTIONS,
    site: { type: 'string', value: 'id', description: 'Only this site' },
    ...JSON_OPTION,
    ...CSV_OPTION,
  },
  examples: [
    ['November for one project', 'ironledger usage --from 2026-11-01 --to 2026-11-30 --project P-RIVERSIDE'],
    ['One excavator, as a spreadsheet', 'ironledger usage --unit EXC-0042 --csv > exc-0042.csv'],
  ],
  async run(ctx, a) {
    const mode = outputMode(a);
    const query = {
      ...rangeQuery(a),
      project: str(a, 'project'),
      unit: str(a, 'unit'),
      site: str(a, 'site'),
    };
    const { data, raw } = await ctx.api().get('/v1/usage', UsageResponseSchema, query);
    if (mode === 'json') {
      ctx.json(raw);
      return EXIT.OK;
    }
    if (mode === 'csv') {
      ctx.out(
        renderCsv(
          [
            'unit_id',
            'day',
            'project_id',
            'site_id',
            'engine_hours',
            'idle_hours',
            'working_hours',
            'distance_km',
            'readings',
            'anomalies',
          ],
          data.rows.map((r) => [
            r.unitId,
            r.day,
            r.projectId,
            r.siteId,
            r.engineHours,
            r.idleHours,
            r.workingHours,
            r.distanceKm,
            r.readings,
            r.anomalies,
          ]),
        ),
      );
      return EXIT.OK;
    }
    const { c } = ctx;
    if (data.rows.length === 0) {
      ctx.out('no usage for this selection\n');
      ctx.note(c.dim("hint: data appears after 'ironledger consolidate' (or the scheduled consolidation)"));
      return EXIT.OK;
    }
    const sum = (f: (r: UsageRow) => number) => data.rows.reduce((t, r) => t + f(r), 0);
    const cols: Column<UsageRow>[] = [
      { header: 'DAY', value: (r) => r.day },
      { header: 'UNIT', value: (r) => r.unitId },
      { header: 'PROJECT', value: (r) => r.projectId },
      { header: 'SITE', value: (r) => r.siteId },
      { header: 'ENGINE H', value: (r) => formatHours(r.engineHours), align: 'right' },
      { header: 'IDLE H', value: (r) => formatHours(r.idleHours), align: 'right' },
      { header: 'WORKING H', value: (r) => formatHours(r.workingHours), align: 'right' },
      { header: 'KM', value: (r) => (r.distanceKm === null ? '-' : r.distanceKm.toFixed(1)), align: 'right' },
      { header: 'READINGS', value: (r) => String(r.readings), align: 'right' },
      {
        header: 'ANOMALIES',
        value: (r) => (r.anomalies ? String(r.anomalies) : ''),
        align: 'right',
        style: (s) => c.yellow(s),
      },
    ];
    const units = new Set(data.rows.map((r) => r.unitId)).size;
    ctx.out(
      renderTable(data.rows, cols, {
        headerStyle: c.dim,
        ruleStyle: c.dim,
        footer: [
          [
            'TOTAL',
            `${units} unit${units === 1 ? '' : 's'}`,
            '',
            '',
            formatHours(sum((r) => r.engineHours)),
            formatHours(sum((r) => r.idleHours)),
            formatHours(sum((r) => r.workingHours)),
            '',
            String(sum((r) => r.readings)),
            String(sum((r) => r.anomalies) || ''),
          ],
        ],
      }),
    );
    if (data.anomalies.length > 0) {
      ctx.out(
        `\n${c.bold(c.yellow(`ANOMALIES (${data.anomalies.length})`))} ${c.dim('flagged, not summed')}\n`,
      );
      ctx.out(
        renderTable(
          data.anomalies,
          [
            { header: 'UNIT', value: (x) => x.unitId },
            { header: 'KIND', value: (x) => x.kind, style: (s) => c.yellow(s) },
            { header: 'AT', value: (x) => formatInstant(x.ts) },
            { header: 'METER', value: (x) => `${x.before ?? '?'} → ${x.after ?? '?'}` },
            { header: 'DETAIL', value: (x) => x.detail },
          ],
          { headerStyle: c.dim },
        ),
      );
    }
    return EXIT.OK;
  },
};
