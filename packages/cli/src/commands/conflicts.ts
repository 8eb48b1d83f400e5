import {
  type Conflict,
  ConflictKeepSchema,
  ConflictSchema,
  ConflictsResponseSchema,
} from '@ironledger/contracts';
import { bool, type CommandSpec, JSON_OPTION, required, str } from '../command.js';
import { EXIT, UsageError } from '../errors.js';
import type { Palette } from '../format/colour.js';
import { oneLine, renderTable } from '../format/table.js';
import { formatInstant } from '../format/time.js';
import { RANGE_OPTIONS, rangeQuery } from './filters.js';

const STATUSES = ['open', 'resolved', 'all'] as const;
const ORDINAL = ['first', 'second'];

/** One line per version, the conflict's own cells only on its first line. */
function conflictsTable(conflicts: readonly Conflict[], c: Palette): string {
  const rows = conflicts.flatMap((k) => k.versions.map((v, i) => ({ k, v, head: i === 0 })));
  return renderTable(
    rows,
    [
      { header: 'ID', value: (r) => (r.head ? r.k.id : '') },
      { header: 'UNIT', value: (r) => (r.head ? r.k.unitId : '') },
      { header: 'TS', value: (r) => (r.head ? formatInstant(r.k.ts) : '') },
      { header: 'VERSION', value: (r) => ORDINAL[r.v.ordinal - 1] ?? String(r.v.ordinal) },
      { header: 'ENGINE H', value: (r) => String(r.v.engineHours), align: 'right' },
      {
        header: 'IDLE H',
        value: (r) => (r.v.idleHours === null ? '' : String(r.v.idleHours)),
        align: 'right',
      },
      { header: 'RECEIVED', value: (r) => formatInstant(r.v.receivedAt) },
      { header: 'BATCH', value: (r) => r.v.batchId },
      {
        header: 'STATUS',
        value: (r) => r.v.status,
        style: (s, r) =>
          r.v.status === 'ok' ? c.green(s) : r.v.status === 'superseded' ? c.dim(s) : c.yellow(s),
      },
      {
        header: 'RESOLUTION',
        value: (r) =>
          r.head && r.k.resolution
            ? oneLine(`${r.k.resolution.by} kept ${r.k.resolution.keep}: ${r.k.resolution.reason}`)
            : '',
      },
    ],
    { headerStyle: c.dim },
  );
}

const list: CommandSpec = {
  name: 'conflicts list',
  summary: 'Readings with the same unit and time but different content',
  description:
    'Conflicts: two (or more) different readings with the same unit and ts. Both are stored and\nneither is used until someone keeps one with `ironledger conflicts resolve`. Versions are\nlisted in the order they arrived (first, second).',
  role: 'viewer',
  options: {
    ...RANGE_OPTIONS,
    unit: { type: 'string', value: 'id', description: 'Only this unit' },
    status: { type: 'string', value: 'status', description: 'open (default), resolved or all' },
    ...JSON_OPTION,
  },
  examples: [
    ['What needs a decision?', 'ironledger conflicts list'],
    ['What was decided for a unit', 'ironledger conflicts list --unit EXC-0042 --status resolved'],
  ],
  async run(ctx, a) {
    const status = str(a, 'status');
    if (status !== undefined && !(STATUSES as readonly string[]).includes(status))
      throw new UsageError(`bad status '${status}' for --status`, `one of: ${STATUSES.join(', ')}`);
    const query = { ...rangeQuery(a), unit: str(a, 'unit'), status };
    const { data, raw } = await ctx.api().get('/v1/conflicts', ConflictsResponseSchema, query);
    if (bool(a, 'json')) {
      ctx.json(raw);
      return EXIT.OK;
    }
    if (data.conflicts.length === 0) {
      ctx.out(`no ${status === 'all' ? '' : `${status ?? 'open'} `}conflicts\n`);
      return EXIT.OK;
    }
    ctx.out(conflictsTable(data.conflicts, ctx.c));
    return EXIT.OK;
  },
};

const resolve: CommandSpec = {
  name: 'conflicts resolve',
  summary: 'Keep the first or second version of a conflicting reading',
  description:
    'Resolves a conflict: the kept version becomes the reading usage is computed from; the other\nstays stored as superseded evidence. The reason goes to the audit trail. Run\n`ironledger consolidate` (or wait for the schedule) to see the usage change; a posted day\ngets an adjustment.',
  args: '<id>',
  minPositionals: 1,
  maxPositionals: 1,
  role: 'approver',
  options: {
    keep: { type: 'string', value: 'first|second', description: 'Which version to keep (required)' },
    reason: { type: 'string', value: 'text', description: 'Why (required; kept in the audit trail)' },
    ...JSON_OPTION,
  },
  examples: [
    [
      'The unit resent a corrected reading',
      'ironledger conflicts resolve 42 --keep second --reason "resent after meter calibration"',
    ],
  ],
  async run(ctx, a) {
    const keepRaw = required(a, 'keep', 'say which version: --keep first or --keep second');
    const keep = ConflictKeepSchema.safeParse(keepRaw);
    if (!keep.success) throw new UsageError(`bad value '${keepRaw}' for --keep`, 'one of: first, second');
    const reason = required(a, 'reason', 'say why, e.g. --reason "resent after meter calibration"');
    const id = a.positionals[0]!;
    const { data, raw } = await ctx
      .api()
      .post(`/v1/conflicts/${encodeURIComponent(id)}/resolve`, ConflictSchema, { keep: keep.data, reason });
    if (bool(a, 'json')) {
      ctx.json(raw);
      return EXIT.OK;
    }
    const kept = data.versions.find((v) => v.readingId === data.resolution?.readingId);
    ctx.out(
      `${ctx.c.green('resolved')} conflict ${data.id} (${data.unitId} at ${formatInstant(data.ts)}): kept the ${keep.data} version${
        kept
          ? ` (${kept.engineHours} h${kept.status === 'held' ? ', still held: its clock is impossible' : ''})`
          : ''
      }\n`,
    );
    ctx.note("usage changes at the next consolidation ('ironledger consolidate' runs it now)");
    return EXIT.OK;
  },
};

export const conflicts: CommandSpec[] = [list, resolve];
