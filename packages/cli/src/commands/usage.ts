import { UsageResponseSchema, type UsageRow } from '@ironledger/contracts';
import { type CommandSpec, CSV_OPTION, JSON_OPTION, outputMode, str } from '../command.js';
import { EXIT } from '../errors.js';
import type { Palette } from '../format/colour.js';
import { type Fields, fieldsCsv, tableColumns } from '../format/fields.js';
import { renderTable } from '../format/table.js';
import { formatHours, formatInstant } from '../format/time.js';
import { RANGE_OPTIONS, rangeQuery, SCOPE_OPTIONS } from './filters.js';

type UsageField =
  | 'day'
  | 'unit'
  | 'project'
  | 'site'
  | 'engine'
  | 'idle'
  | 'working'
  | 'km'
  | 'readings'
  | 'anomalies';

/** Every usage column, once: what the table shows and what the CSV carries. */
function usageFields(c: Palette): Fields<UsageRow, UsageField> {
  return {
    day: { table: { header: 'DAY', value: (r) => r.day }, csv: { header: 'day', value: (r) => r.day } },
    unit: {
      table: { header: 'UNIT', value: (r) => r.unitId },
      csv: { header: 'unit_id', value: (r) => r.unitId },
    },
    project: {
      table: { header: 'PROJECT', value: (r) => r.projectId },
      csv: { header: 'project_id', value: (r) => r.projectId },
    },
    site: {
      table: { header: 'SITE', value: (r) => r.siteId },
      csv: { header: 'site_id', value: (r) => r.siteId },
    },
    engine: {
      table: { header: 'ENGINE H', value: (r) => formatHours(r.engineHours), align: 'right' },
      csv: { header: 'engine_hours', value: (r) => r.engineHours },
    },
    idle: {
      table: { header: 'IDLE H', value: (r) => formatHours(r.idleHours), align: 'right' },
      csv: { header: 'idle_hours', value: (r) => r.idleHours },
    },
    working: {
      table: { header: 'WORKING H', value: (r) => formatHours(r.workingHours), align: 'right' },
      csv: { header: 'working_hours', value: (r) => r.workingHours },
    },
    km: {
      table: {
        header: 'KM',
        value: (r) => (r.distanceKm === null ? '-' : r.distanceKm.toFixed(1)),
        align: 'right',
      },
      csv: { header: 'distance_km', value: (r) => r.distanceKm },
    },
    readings: {
      table: { header: 'READINGS', value: (r) => String(r.readings), align: 'right' },
      csv: { header: 'readings', value: (r) => r.readings },
    },
    anomalies: {
      table: {
        header: 'ANOMALIES',
        value: (r) => (r.anomalies ? String(r.anomalies) : ''),
        align: 'right',
        style: (s) => c.yellow(s),
      },
      csv: { header: 'anomalies', value: (r) => r.anomalies },
    },
  };
}
const TABLE_ORDER: UsageField[] = [
  'day',
  'unit',
  'project',
  'site',
  'engine',
  'idle',
  'working',
  'km',
  'readings',
  'anomalies',
];
const CSV_ORDER: UsageField[] = [
  'unit',
  'day',
  'project',
  'site',
  'engine',
  'idle',
  'working',
  'km',
  'readings',
  'anomalies',
];

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
      ctx.out(fieldsCsv(data.rows, usageFields(ctx.c), CSV_ORDER));
      return EXIT.OK;
    }
    const { c } = ctx;
    if (data.rows.length === 0) {
      ctx.out('no usage for this selection\n');
      ctx.note(c.dim("hint: data appears after 'ironledger consolidate' (or the scheduled consolidation)"));
      return EXIT.OK;
    }
    const sum = (f: (r: UsageRow) => number) => data.rows.reduce((t, r) => t + f(r), 0);
    const cols = tableColumns(usageFields(c), TABLE_ORDER);
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
    const replaced = (data.lifetime ?? []).filter((l) => l.replacements.length > 0);
    if (replaced.length > 0) {
      ctx.out(`\n${c.bold('LIFETIME METER HOURS')} ${c.dim('current meter + replaced meters')}\n`);
      ctx.out(
        renderTable(
          replaced,
          [
            { header: 'UNIT', value: (l) => l.unitId },
            { header: 'METER', value: (l) => l.meterHours.toFixed(3), align: 'right' },
            { header: 'REPLACED', value: (l) => l.replacedHours.toFixed(3), align: 'right' },
            { header: 'LIFETIME', value: (l) => l.lifetimeHours.toFixed(3), align: 'right' },
            { header: 'METERS', value: (l) => String(l.replacements.length + 1), align: 'right' },
            { header: 'AS OF', value: (l) => formatInstant(l.asOf) },
          ],
          { headerStyle: c.dim },
        ),
      );
    }
    return EXIT.OK;
  },
};
