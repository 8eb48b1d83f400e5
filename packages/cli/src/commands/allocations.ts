import {
  type Allocation,
  AllocationsResponseSchema,
  type DecisionResponse,
  DecisionResponseSchema,
} from '@ironledger/contracts';
import {
  type Args,
  bool,
  type CommandSpec,
  CSV_OPTION,
  type Ctx,
  JSON_OPTION,
  outputMode,
  required,
  str,
} from '../command.js';
import { EXIT, UsageError } from '../errors.js';
import type { Palette } from '../format/colour.js';
import type { CsvValue } from '../format/csv.js';
import { type Field, type Fields, fieldsCsv, tableColumns } from '../format/fields.js';
import { formatMinorAmount, formatMoney, formatTotals, totalsByCurrency } from '../format/money.js';
import { oneLine, renderTable } from '../format/table.js';
import { formatHours } from '../format/time.js';
import { RANGE_OPTIONS, rangeQuery, SCOPE_OPTIONS, statusFilter } from './filters.js';

export function statusStyle(c: Palette, status: string): (s: string) => string {
  switch (status) {
    case 'pending':
      return c.yellow;
    case 'approved':
      return c.cyan;
    case 'posted':
      return c.green;
    case 'rejected':
      return c.red;
    default:
      return c.dim;
  }
}

function note(a: Allocation): string {
  if (a.holdReason) return `held: ${a.holdReason}`;
  if (a.status === 'rejected' && a.rejectReason) return `rejected: ${a.rejectReason}`;
  if (a.kind === 'adjustment') return `adjusts ${a.adjusts ?? '?'}`;
  if (a.evidence.anomalies.length)
    return `${a.evidence.anomalies.length} anomal${a.evidence.anomalies.length === 1 ? 'y' : 'ies'}`;
  return '';
}

type AllocationField =
  | 'id'
  | 'key'
  | 'kind'
  | 'adjusts'
  | 'day'
  | 'unit'
  | 'project'
  | 'engine'
  | 'idle'
  | 'working'
  | 'workingRate'
  | 'idleRate'
  | 'currency'
  | 'amountMinor'
  | 'amount'
  | 'status'
  | 'holdReason'
  | 'note'
  | 'approvedBy'
  | 'approvedAt'
  | 'rejectedBy'
  | 'rejectReason'
  | 'postedAt'
  | 'odooId';

const csvOnly = (header: string, value: (x: Allocation) => CsvValue): Field<Allocation> => ({
  csv: { header, value },
});

/** Every allocation column, once: what the table shows and what the CSV carries. */
function allocationFields(c: Palette): Fields<Allocation, AllocationField> {
  return {
    id: { table: { header: 'ID', value: (x) => x.id }, csv: { header: 'id', value: (x) => x.id } },
    key: csvOnly('key', (x) => x.key),
    kind: csvOnly('kind', (x) => x.kind),
    adjusts: csvOnly('adjusts', (x) => x.adjusts),
    day: { table: { header: 'DAY', value: (x) => x.day }, csv: { header: 'day', value: (x) => x.day } },
    unit: {
      table: { header: 'UNIT', value: (x) => x.unitId },
      csv: { header: 'unit_id', value: (x) => x.unitId },
    },
    project: {
      table: { header: 'PROJECT', value: (x) => x.projectId },
      csv: { header: 'project_id', value: (x) => x.projectId },
    },
    engine: csvOnly('engine_hours', (x) => x.engineHours),
    idle: {
      table: { header: 'IDLE H', value: (x) => formatHours(x.idleHours), align: 'right' },
      csv: { header: 'idle_hours', value: (x) => x.idleHours },
    },
    working: {
      table: { header: 'WORK H', value: (x) => formatHours(x.workingHours), align: 'right' },
      csv: { header: 'working_hours', value: (x) => x.workingHours },
    },
    workingRate: csvOnly('working_rate_minor', (x) => x.workingRateMinor),
    idleRate: csvOnly('idle_rate_minor', (x) => x.idleRateMinor),
    currency: csvOnly('currency', (x) => x.currency),
    amountMinor: csvOnly('amount_minor', (x) => x.amountMinor),
    amount: {
      table: { header: 'AMOUNT', value: (x) => formatMoney(x.amountMinor, x.currency), align: 'right' },
      csv: {
        header: 'amount',
        value: (x) => formatMinorAmount(x.amountMinor, x.currency, { grouping: false }),
      },
    },
    status: {
      table: { header: 'STATUS', value: (x) => x.status, style: (s, x) => statusStyle(c, x.status)(s) },
      csv: { header: 'status', value: (x) => x.status },
    },
    holdReason: csvOnly('hold_reason', (x) => x.holdReason),
    note: {
      table: {
        header: 'NOTE',
        value: note,
        style: (s, x) => (x.holdReason || x.evidence.anomalies.length ? c.yellow(s) : c.dim(s)),
      },
    },
    approvedBy: csvOnly('approved_by', (x) => x.approvedBy),
    approvedAt: csvOnly('approved_at', (x) => x.approvedAt),
    rejectedBy: csvOnly('rejected_by', (x) => x.rejectedBy),
    rejectReason: csvOnly('reject_reason', (x) => x.rejectReason),
    postedAt: csvOnly('posted_at', (x) => x.postedAt),
    odooId: csvOnly('odoo_id', (x) => x.odoo?.id),
  };
}
const TABLE_ORDER: AllocationField[] = [
  'id',
  'day',
  'unit',
  'project',
  'working',
  'idle',
  'amount',
  'status',
  'note',
];
const CSV_ORDER: AllocationField[] = [
  'id',
  'key',
  'kind',
  'adjusts',
  'day',
  'unit',
  'project',
  'engine',
  'idle',
  'working',
  'workingRate',
  'idleRate',
  'currency',
  'amountMinor',
  'amount',
  'status',
  'holdReason',
  'approvedBy',
  'approvedAt',
  'rejectedBy',
  'rejectReason',
  'postedAt',
  'odooId',
];

export function allocationsTable(rows: readonly Allocation[], c: Palette): string {
  const cols = tableColumns(allocationFields(c), TABLE_ORDER);
  const live = rows.filter((x) => x.status !== 'rejected' && x.status !== 'superseded');
  return renderTable(rows, cols, {
    headerStyle: c.dim,
    ruleStyle: c.dim,
    footer: [
      [
        'TOTAL',
        `${rows.length} shown`,
        '',
        '',
        formatHours(live.reduce((t, x) => t + x.workingHours, 0)),
        formatHours(live.reduce((t, x) => t + x.idleHours, 0)),
        formatTotals(totalsByCurrency(live)),
        '',
        rows.length !== live.length ? 'rejected/superseded not in totals' : '',
      ],
    ],
  });
}

const list: CommandSpec = {
  name: 'allocations list',
  summary: 'List allocations (filter by status, days, project, unit)',
  role: 'viewer',
  options: {
    status: {
      type: 'string',
      value: 'status',
      description: 'pending, approved, posted, rejected or superseded',
    },
    ...RANGE_OPTIONS,
    ...SCOPE_OPTIONS,
    ...JSON_OPTION,
    ...CSV_OPTION,
  },
  examples: [
    ['What waits for approval', 'ironledger allocations list --status pending'],
    [
      'November for one project, as CSV',
      'ironledger allocations list --from 2026-11-01 --to 2026-11-30 --project P-RIVERSIDE --csv',
    ],
  ],
  async run(ctx, a) {
    const mode = outputMode(a);
    const query = {
      status: statusFilter(a),
      ...rangeQuery(a),
      project: str(a, 'project'),
      unit: str(a, 'unit'),
    };
    const { data, raw } = await ctx.api().get('/v1/allocations', AllocationsResponseSchema, query);
    if (mode === 'json') {
      ctx.json(raw);
      return EXIT.OK;
    }
    if (mode === 'csv') {
      ctx.out(fieldsCsv(data.allocations, allocationFields(ctx.c), CSV_ORDER));
      return EXIT.OK;
    }
    if (data.allocations.length === 0) {
      ctx.out('no allocations match\n');
      return EXIT.OK;
    }
    ctx.out(allocationsTable(data.allocations, ctx.c));
    return EXIT.OK;
  },
};

/** Exit code for a decision: 0 when every named allocation ended as asked (or already was). */
export function decisionExit(d: DecisionResponse): number {
  const bad = d.refused.length + d.notFound.length;
  if (bad === 0) return EXIT.OK;
  return d.changed.length + d.unchanged.length > 0 ? EXIT.PARTIAL : EXIT.FAILURE;
}

export function decisionSummary(d: DecisionResponse, verb: string, c: Palette): string {
  const lines: string[] = [];
  const n = (k: number) => `${k} allocation${k === 1 ? '' : 's'}`;
  lines.push(d.changed.length ? c.green(`${verb} ${n(d.changed.length)}`) : `${verb} none`);
  if (d.unchanged.length) lines.push(c.dim(`already ${verb}, unchanged: ${n(d.unchanged.length)}`));
  for (const r of d.refused) lines.push(c.red(`refused ${r.id}: ${oneLine(r.reason)}`));
  for (const id of d.notFound) lines.push(c.red(`not found: ${id}`));
  return `${lines.join('\n')}\n`;
}

function filterFrom(a: Args) {
  const range = rangeQuery(a);
  const project = str(a, 'project');
  const unit = str(a, 'unit');
  const f = { ...range, ...(project ? { project } : {}), ...(unit ? { unit } : {}) };
  return Object.keys(f).length ? f : undefined;
}

const approve: CommandSpec = {
  name: 'allocations approve',
  summary: 'Approve pending allocations by id, by filter or --all',
  description:
    'Approves pending allocations so `ironledger post` sends them to Odoo. Name them by id, by\nfilter (--from/--to/--project/--unit) or with --all. A bulk approval shows what it would\napprove and asks first; --yes skips the question (required without a terminal). Approving\nan allocation that is already approved changes nothing.',
  args: '[<id>...]',
  maxPositionals: Number.POSITIVE_INFINITY,
  role: 'approver',
  options: {
    all: { type: 'boolean', description: 'Every pending allocation' },
    ...RANGE_OPTIONS,
    ...SCOPE_OPTIONS,
    yes: { type: 'boolean', short: 'y', description: 'Do not ask for confirmation' },
    ...JSON_OPTION,
  },
  examples: [
    ['Approve two allocations', 'ironledger allocations approve al_01J9 al_01JA'],
    [
      "Approve a project's week after review",
      'ironledger allocations approve --project P-RIVERSIDE --from 2026-11-16 --to 2026-11-22',
    ],
    ['In a script (no prompt)', 'ironledger allocations approve --all --yes'],
  ],
  async run(ctx, a) {
    const ids = a.positionals;
    const filter = filterFrom(a);
    const all = bool(a, 'all');
    if (ids.length && (all || filter)) {
      throw new UsageError(
        'name allocations either by id or by --all/filter, not both',
        "see 'ironledger allocations approve --help'",
      );
    }
    if (!ids.length && !all && !filter) {
      throw new UsageError(
        'nothing to approve: give ids, a filter or --all',
        "e.g. 'ironledger allocations approve --all'",
      );
    }
    if (all && filter) throw new UsageError('--all approves everything pending; drop the filter or --all');
    const json = bool(a, 'json');
    let body: { ids?: string[]; filter?: typeof filter; all?: boolean };
    if (ids.length) body = { ids };
    else if (bool(a, 'yes')) body = all ? { all: true } : { filter };
    else {
      if (!ctx.io.stdin.isTTY) {
        throw new UsageError(
          `refusing to approve ${all ? 'all pending allocations' : 'by filter'} without confirmation (no terminal to ask)`,
          'pass --yes to confirm in scripts',
        );
      }
      const { data } = await ctx
        .api()
        .get('/v1/allocations', AllocationsResponseSchema, { status: 'pending', ...(filter ?? {}) });
      if (data.allocations.length === 0) {
        ctx.out('nothing pending matches; nothing to approve\n');
        return EXIT.OK;
      }
      ctx.err(allocationsTable(data.allocations, ctx.ec));
      const total = formatTotals(totalsByCurrency(data.allocations));
      const ok = await ctx.confirm(`Approve these ${data.allocations.length} allocations (${total})?`);
      if (!ok) {
        ctx.note('not approved');
        return EXIT.FAILURE;
      }
      // Exactly what was shown and confirmed, not whatever became pending meanwhile.
      body = { ids: data.allocations.map((x) => x.id) };
    }
    const { data, raw } = await ctx.api().post('/v1/allocations/approve', DecisionResponseSchema, body);
    if (json) ctx.json(raw);
    else ctx.out(decisionSummary(data, 'approved', ctx.c));
    return decisionExit(data);
  },
};

const reject: CommandSpec = {
  name: 'allocations reject',
  summary: 'Reject allocations by id, with a reason',
  description: 'Rejects allocations so they are never posted. The reason is kept in the audit trail.',
  args: '<id>...',
  minPositionals: 1,
  maxPositionals: Number.POSITIVE_INFINITY,
  role: 'approver',
  options: {
    reason: { type: 'string', value: 'text', description: 'Why (required; kept in the audit trail)' },
    ...JSON_OPTION,
  },
  examples: [
    [
      'Reject a day the unit was on a trailer',
      'ironledger allocations reject al_01J9 --reason "hauled on trailer, not working"',
    ],
  ],
  async run(ctx: Ctx, a) {
    const reason = required(a, 'reason', 'say why, e.g. --reason "duplicate of al_01J8"');
    const { data, raw } = await ctx
      .api()
      .post('/v1/allocations/reject', DecisionResponseSchema, { ids: a.positionals, reason });
    if (bool(a, 'json')) ctx.json(raw);
    else ctx.out(decisionSummary(data, 'rejected', ctx.c));
    return decisionExit(data);
  },
};

const reopen: CommandSpec = {
  name: 'allocations reopen',
  summary: 'Reopen rejected allocations for a new decision, with a reason',
  description:
    'Puts rejected allocations back to pending, so they can be approved (or rejected again).\nThe reason goes to the audit trail with the original rejection.',
  args: '<id>...',
  minPositionals: 1,
  maxPositionals: Number.POSITIVE_INFINITY,
  role: 'approver',
  options: {
    reason: { type: 'string', value: 'text', description: 'Why (required; kept in the audit trail)' },
    ...JSON_OPTION,
  },
  examples: [
    [
      'The unit was working after all',
      'ironledger allocations reopen al_01J9 --reason "trailer log was for another unit"',
    ],
  ],
  async run(ctx: Ctx, a) {
    const reason = required(a, 'reason', 'say why, e.g. --reason "rejected by mistake"');
    const { data, raw } = await ctx
      .api()
      .post('/v1/allocations/reopen', DecisionResponseSchema, { ids: a.positionals, reason });
    if (bool(a, 'json')) ctx.json(raw);
    else ctx.out(decisionSummary(data, 'reopened', ctx.c));
    return decisionExit(data);
  },
};

/** `allocations show` (with its evidence) is in evidence.ts; help lists it after `list`. */
export const allocationsList: CommandSpec = list;
export const allocationDecisions: CommandSpec[] = [approve, reject, reopen];
