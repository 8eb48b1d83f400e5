/** `ironledger sync`: read master data from Odoo now (the scheduled job does the same). */
import { type OdooSyncResponse, OdooSyncResponseSchema } from '@ironledger/contracts';
import { bool, type CommandSpec, JSON_OPTION } from '../command.js';
import { EXIT } from '../errors.js';
import type { Palette } from '../format/colour.js';

export function syncSummary(r: OdooSyncResponse, c: Palette): string {
  const lines: string[] = [];
  const model = (
    label: string,
    m: OdooSyncResponse['equipment'],
    detail: (x: (typeof m.added)[0]) => string,
  ) => {
    lines.push(
      `${label}: read ${m.read} (${m.since ? `changed since ${m.since}` : 'all'}), added ${m.added.length}, changed ${m.changed.length}`,
    );
    for (const x of m.added) lines.push(`  ${c.green('+')} ${x.odooId}  ${x.name}${detail(x)}`);
    for (const x of m.changed) lines.push(`  ${c.yellow('~')} ${x.odooId}  ${x.name}${detail(x)}`);
  };
  const archived = (x: { active: boolean }) => (x.active ? '' : '  (archived)');
  model('equipment', r.equipment, (x) => `  serial ${x.serialNo ?? '-'}${archived(x)}`);
  model('projects', r.projects, (x) => `  analytic account ${x.accountId ?? '-'}${archived(x)}`);
  const u = r.unmatched;
  if (u.units.length + u.equipment.length + u.projects.length === 0) lines.push('everything matched');
  for (const x of u.units)
    lines.push(
      c.yellow(`unmatched unit ${x.unitId} (serial ${x.serialNo}): ${x.reason}; its allocations are held`),
    );
  for (const x of u.projects)
    lines.push(c.yellow(`unmatched project ${x.projectId} "${x.name}": ${x.reason}`));
  for (const x of u.equipment)
    lines.push(
      c.dim(`equipment ${x.odooId} "${x.name}" (serial ${x.serialNo ?? '-'}) is no IronLedger unit`),
    );
  return `${lines.join('\n')}\n`;
}

export const sync: CommandSpec = {
  name: 'sync',
  summary: 'Read equipment and projects from Odoo now; show what was added, changed, left unmatched',
  description:
    'Odoo owns master data: this reads maintenance.equipment (matched to units by serial number)\nand project.project (with its analytic account) into IronLedger, only what changed since the\nlast sync, archived records included. A unit with no active equipment in Odoo has its\nallocations held before posting. The cloud can do the same on a schedule (posting.syncCron).',
  role: 'admin',
  options: { ...JSON_OPTION },
  examples: [
    ['Read what changed in Odoo', 'ironledger sync'],
    ['List unmatched units in a script', 'ironledger sync --json | jq ".unmatched.units"'],
  ],
  async run(ctx, a) {
    const json = bool(a, 'json');
    if (!json) ctx.note(ctx.ec.dim('reading master data from Odoo…'));
    const { data, raw } = await ctx
      .api()
      .post('/v1/master-data/sync', OdooSyncResponseSchema, {}, { timeoutMs: 10 * 60 * 1000 });
    if (json) ctx.json(raw);
    else ctx.out(syncSummary(data, ctx.c));
    return data.unmatched.units.length + data.unmatched.projects.length > 0 ? EXIT.PARTIAL : EXIT.OK;
  },
};
