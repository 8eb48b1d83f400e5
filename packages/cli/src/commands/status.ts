import { OdooStatusResponseSchema, StatusResponseSchema } from '@ironledger/contracts';
import { bool, type CommandSpec, type Ctx, JSON_OPTION } from '../command.js';
import { EXIT } from '../errors.js';
import { type Column, renderTable } from '../format/table.js';
import { formatAgo, formatDuration } from '../format/time.js';
import { feedLines, fetchFeeds } from './aemp-feeds.js';

type Gateway = import('zod').infer<typeof StatusResponseSchema>['gateways'][number];
type Silent = import('zod').infer<typeof StatusResponseSchema>['silentUnits'][number];

export const status: CommandSpec = {
  name: 'status',
  summary: 'Is every site reporting? Gateways, silent units, pipeline lag, dead letters',
  description:
    'Shows every gateway (last heartbeat, backlog, age of the oldest unsent reading), units that\nhave gone silent, how far consolidation lags behind, allocations by status and dead letters.',
  role: 'viewer',
  options: { ...JSON_OPTION },
  examples: [
    ['See the whole fleet at a glance', 'ironledger status'],
    ['Feed a monitoring script', "ironledger status --json | jq '.gateways[] | select(.stale)'"],
  ],
  async run(ctx, a) {
    const { data, raw } = await ctx.api().get('/v1/status', StatusResponseSchema);
    const feeds = await fetchFeeds(ctx.api());
    if (bool(a, 'json')) {
      ctx.json(feeds.length > 0 ? { ...(raw as object), feeds } : raw);
      return EXIT.OK;
    }
    const now = new Date(Date.parse(data.now) || ctx.now().getTime());
    const { c } = ctx;
    const out: string[] = [];
    out.push(c.bold(`GATEWAYS (${data.gateways.length})`));
    if (data.gateways.length === 0) out.push(c.dim('  no gateway has reported yet\n'));
    else {
      const state = (g: Gateway) => (g.diskBudgetExceeded ? 'DISK FULL' : g.stale ? 'STALE' : 'ok');
      const cols: Column<Gateway>[] = [
        { header: 'GATEWAY', value: (g) => g.gatewayId },
        { header: 'SITE', value: (g) => g.siteId ?? '-' },
        { header: 'VERSION', value: (g) => g.version ?? '-' },
        { header: 'HEARTBEAT', value: (g) => formatAgo(g.lastHeartbeatAt, now) },
        { header: 'LAST BATCH', value: (g) => formatAgo(g.lastBatchAt, now) },
        {
          header: 'BACKLOG',
          value: (g) => (g.queuedReadings === null ? '-' : String(g.queuedReadings)),
          align: 'right',
        },
        { header: 'OLDEST UNSENT', value: (g) => formatDuration(g.oldestUnsentAgeS), align: 'right' },
        {
          header: 'QUARANTINED',
          value: (g) => (g.quarantined === null ? '-' : String(g.quarantined)),
          align: 'right',
        },
        { header: 'STATE', value: state, style: (s, g) => (state(g) === 'ok' ? c.green(s) : c.red(s)) },
      ];
      out.push(renderTable(data.gateways, cols, { headerStyle: c.dim }));
    }
    out.push(c.bold(`SILENT UNITS (${data.silentUnits.length})`));
    if (data.silentUnits.length === 0) out.push(c.dim('  every known unit has reported recently\n'));
    else {
      const cols: Column<Silent>[] = [
        { header: 'UNIT', value: (u) => u.unitId },
        {
          header: 'SILENT FOR',
          value: (u) => formatDuration(u.silentForS),
          align: 'right',
          style: (s) => c.yellow(s),
        },
        { header: 'LAST READING', value: (u) => formatAgo(u.lastReadingTs, now) },
        { header: 'LAST RECEIVED', value: (u) => formatAgo(u.lastReceivedAt, now) },
      ];
      out.push(renderTable(data.silentUnits, cols, { headerStyle: c.dim }));
    }
    out.push(...feedLines(feeds, now, c));
    const p = data.pipeline;
    const byStatus = Object.entries(p.allocations)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    out.push(c.bold('PIPELINE'));
    out.push(`  readings stored     ${p.readings}`);
    out.push(
      `  last consolidated   ${formatAgo(p.lastConsolidatedAt, now)}${p.consolidationLagS !== null ? ` (lag ${formatDuration(p.consolidationLagS)})` : ''}`,
    );
    out.push(`  allocations         ${byStatus || 'none'}`);
    const dl = data.deadLetters;
    out.push(
      `  dead letters        ${dl > 0 ? c.red(String(dl)) : '0'}${dl > 0 ? c.dim("  → 'ironledger deadletters list'") : ''}`,
    );
    ctx.out(`${out.join('\n')}\n`);
    await warnOdooKey(ctx);
    return EXIT.OK;
  },
};

/** Warns when the cloud's Odoo API key expires soon or is refused (GET /v1/odoo/status). */
async function warnOdooKey(ctx: Ctx): Promise<void> {
  try {
    const { data } = await ctx.api().get('/v1/odoo/status', OdooStatusResponseSchema);
    if (data.warning) ctx.out(`${ctx.c.yellow('ODOO')}  ${data.warning}\n`);
    else if (data.apiKeyExpiresAt)
      ctx.out(`${ctx.c.dim(`ODOO  API key expires ${data.apiKeyExpiresAt} UTC`)}\n`);
  } catch {
    // An older cloud without the endpoint, or Odoo unreachable: status itself stands.
  }
}
