import { type AuditEntry, AuditResponseSchema } from '@ironledger/contracts';
import { bool, type CommandSpec, JSON_OPTION, str } from '../command.js';
import { EXIT } from '../errors.js';
import { type Column, renderTable } from '../format/table.js';
import { formatInstant } from '../format/time.js';
import { RANGE_OPTIONS, rangeQuery } from './filters.js';

export const audit: CommandSpec = {
  name: 'audit',
  summary: 'The audit log: who did what, when, and why',
  description:
    'Every decision and change: approvals, rejections (with their reasons), postings, replays,\ntokens, sites, units, rates and period locks.',
  role: 'viewer',
  options: {
    ...RANGE_OPTIONS,
    actor: { type: 'string', value: 'name', description: 'Only this actor (token name)' },
    action: { type: 'string', value: 'action', description: 'Only this action, e.g. allocation.approve' },
    ...JSON_OPTION,
  },
  examples: [
    ['Everything this month', 'ironledger audit --from 2026-11-01'],
    ['Who rejected what', 'ironledger audit --action allocation.reject'],
  ],
  async run(ctx, a) {
    const query = { ...rangeQuery(a), actor: str(a, 'actor'), action: str(a, 'action') };
    const { data, raw } = await ctx.api().get('/v1/audit', AuditResponseSchema, query);
    if (bool(a, 'json')) {
      ctx.json(raw);
      return EXIT.OK;
    }
    if (data.entries.length === 0) {
      ctx.out('no audit entries match\n');
      return EXIT.OK;
    }
    const { c } = ctx;
    const cols: Column<AuditEntry>[] = [
      { header: 'WHEN', value: (e) => formatInstant(e.at) },
      { header: 'WHO', value: (e) => e.actor, style: (s) => c.cyan(s) },
      { header: 'WHAT', value: (e) => e.action },
      { header: 'TARGET', value: (e) => e.target },
      { header: 'WHY / DETAIL', value: (e) => e.detail ?? '' },
    ];
    ctx.out(renderTable(data.entries, cols, { headerStyle: c.dim }));
    return EXIT.OK;
  },
};
