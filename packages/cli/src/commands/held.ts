import { HeldReadingsResponseSchema, HeldReleaseResponseSchema, InstantSchema } from '@ironledger/contracts';
import { bool, type CommandSpec, JSON_OPTION, required, str } from '../command.js';
import { EXIT, UsageError } from '../errors.js';
import { oneLine, renderTable } from '../format/table.js';
import { formatInstant } from '../format/time.js';
import { RANGE_OPTIONS, rangeQuery } from './filters.js';

const list: CommandSpec = {
  name: 'held',
  summary: 'Readings kept out of usage (impossible clocks, conflicts); held release',
  description:
    'Readings the cloud stores but does not count: a timestamp that cannot be true (before 2000,\nor ahead of the gateway clock) or two different readings with the same unit and time.\nRelease a held one with `ironledger held release`; settle a conflict with\n`ironledger conflicts resolve`.',
  role: 'viewer',
  options: {
    ...RANGE_OPTIONS,
    unit: { type: 'string', value: 'id', description: 'Only this unit' },
    ...JSON_OPTION,
  },
  examples: [
    ['Why is this unit missing hours?', 'ironledger held --unit EXC-0042'],
    ['Ids of held readings, for a script', "ironledger held --json | jq -r '.readings[].id'"],
  ],
  async run(ctx, a) {
    const query = { ...rangeQuery(a), unit: str(a, 'unit') };
    const { data, raw } = await ctx.api().get('/v1/held', HeldReadingsResponseSchema, query);
    if (bool(a, 'json')) {
      ctx.json(raw);
      return EXIT.OK;
    }
    if (data.readings.length === 0) {
      ctx.out('no held readings\n');
      return EXIT.OK;
    }
    const { c } = ctx;
    ctx.out(
      renderTable(
        data.readings,
        [
          { header: 'ID', value: (r) => r.id },
          { header: 'UNIT', value: (r) => r.unitId },
          { header: 'TS', value: (r) => formatInstant(r.ts) },
          // A conflict version names its conflict: that id is what `conflicts resolve` takes.
          {
            header: 'STATUS',
            value: (r) => (r.conflictId ? `conflict ${r.conflictId}` : r.status),
            style: (s) => c.yellow(s),
          },
          { header: 'ENGINE H', value: (r) => String(r.engineHours), align: 'right' },
          { header: 'RECEIVED', value: (r) => formatInstant(r.receivedAt) },
          { header: 'BATCH', value: (r) => r.batchId },
          { header: 'REASON', value: (r) => oneLine(r.reason) },
        ],
        { headerStyle: c.dim },
      ),
    );
    return EXIT.OK;
  },
};

const release: CommandSpec = {
  name: 'held release',
  summary: 'Let a held reading into usage, at a rebased ts or as it is',
  description:
    'Releases a held reading so consolidation counts it. With --rebase-ts the reading is used at\nthat time (its reported ts stays stored as evidence); with --as-is at its own ts, when that\nts is possible after all. The reason goes to the audit trail. Run `ironledger consolidate`\n(or wait for the schedule) to see the usage change; a posted day gets an adjustment.',
  args: '<id>',
  minPositionals: 1,
  maxPositionals: 1,
  role: 'approver',
  options: {
    'rebase-ts': {
      type: 'string',
      value: 'iso',
      description: 'Use the reading at this instant, e.g. 2026-11-23T08:15:00Z',
    },
    'as-is': { type: 'boolean', description: 'Use the reading at its own ts' },
    reason: { type: 'string', value: 'text', description: 'Why (required; kept in the audit trail)' },
    ...JSON_OPTION,
  },
  examples: [
    [
      'A unit stamped 1970 before its GPS fix; the gateway received it at 08:15',
      'ironledger held release 1187 --rebase-ts 2026-11-23T08:15:00Z --reason "no GPS fix; gateway receive time"',
    ],
    [
      'The gateway flagged a clock that was right after all',
      'ironledger held release 1190 --as-is --reason "gateway clock drifted, unit clock fine"',
    ],
  ],
  async run(ctx, a) {
    const rebaseRaw = str(a, 'rebase-ts');
    const asIs = bool(a, 'as-is');
    if ((rebaseRaw === undefined) === !asIs)
      throw new UsageError(
        'give exactly one of --rebase-ts <iso> or --as-is',
        "see 'ironledger held release --help'",
      );
    let rebaseTs: string | undefined;
    if (rebaseRaw !== undefined) {
      const p = InstantSchema.safeParse(rebaseRaw);
      if (!p.success)
        throw new UsageError(
          `bad instant '${rebaseRaw}' for --rebase-ts`,
          'use ISO 8601 with a time zone, e.g. 2026-11-23T08:15:00Z',
        );
      rebaseTs = p.data;
    }
    const reason = required(a, 'reason', 'say why, e.g. --reason "no GPS fix; gateway receive time"');
    const id = a.positionals[0]!;
    const { data, raw } = await ctx
      .api()
      .post(
        `/v1/held/${encodeURIComponent(id)}/release`,
        HeldReleaseResponseSchema,
        rebaseTs ? { rebaseTs, reason } : { asIs: true, reason },
      );
    if (bool(a, 'json')) {
      ctx.json(raw);
      return EXIT.OK;
    }
    ctx.out(
      `${ctx.c.green('released')} reading ${data.id} of ${data.unitId}: ${
        data.rebased
          ? `used at ${formatInstant(data.ts)} (reported ${formatInstant(data.reportedTs)})`
          : `used at ${formatInstant(data.ts)}`
      }\n`,
    );
    ctx.note("usage changes at the next consolidation ('ironledger consolidate' runs it now)");
    return EXIT.OK;
  },
};

export const held: CommandSpec[] = [list, release];
