import { type DeadLetter, DeadLettersResponseSchema, PostResponseSchema } from '@ironledger/contracts';
import { bool, type CommandSpec, JSON_OPTION } from '../command.js';
import { EXIT, UsageError } from '../errors.js';
import { type Column, renderTable } from '../format/table.js';
import { formatInstant } from '../format/time.js';
import { postExit, postSummary } from './post.js';

const list: CommandSpec = {
  name: 'deadletters list',
  summary: 'Postings Odoo refused and retrying cannot fix',
  role: 'viewer',
  options: { ...JSON_OPTION },
  examples: [['What failed to post, and why', 'ironledger deadletters list']],
  async run(ctx, a) {
    const { data, raw } = await ctx.api().get('/v1/deadletters', DeadLettersResponseSchema);
    if (bool(a, 'json')) {
      ctx.json(raw);
      return EXIT.OK;
    }
    if (data.deadLetters.length === 0) {
      ctx.out('no dead letters\n');
      return EXIT.OK;
    }
    const { c } = ctx;
    const cols: Column<DeadLetter>[] = [
      { header: 'ID', value: (d) => d.id },
      { header: 'ALLOCATION', value: (d) => d.allocationId },
      { header: 'KEY', value: (d) => d.key },
      { header: 'CODE', value: (d) => d.code, style: (s) => c.red(s) },
      { header: 'ATTEMPTS', value: (d) => String(d.attempts), align: 'right' },
      { header: 'LAST ATTEMPT', value: (d) => formatInstant(d.lastAttemptAt) },
      { header: 'MESSAGE', value: (d) => d.message },
    ];
    ctx.out(renderTable(data.deadLetters, cols, { headerStyle: c.dim }));
    ctx.note(c.dim("fix the cause (e.g. the project in Odoo), then 'ironledger deadletters replay <id>'"));
    return EXIT.OK;
  },
};

const replay: CommandSpec = {
  name: 'deadletters replay',
  summary: 'Try dead-lettered postings again (by id or --all)',
  description:
    'Posts dead-lettered allocations again, once the cause is fixed. Safe to repeat: an\nallocation already in Odoo is found by its ref and not sent twice.',
  args: '[<id>...]',
  maxPositionals: Number.POSITIVE_INFINITY,
  role: 'approver',
  options: { all: { type: 'boolean', description: 'Every dead letter' }, ...JSON_OPTION },
  examples: [
    ['Replay one', 'ironledger deadletters replay dl_01JB'],
    ['Replay all after fixing Odoo', 'ironledger deadletters replay --all'],
  ],
  async run(ctx, a) {
    const all = bool(a, 'all');
    if (!all && a.positionals.length === 0)
      throw new UsageError('name dead letters to replay, or --all', "see 'ironledger deadletters list'");
    if (all && a.positionals.length) throw new UsageError('give ids or --all, not both');
    const { data, raw } = await ctx
      .api()
      .post('/v1/deadletters/replay', PostResponseSchema, all ? { all: true } : { ids: a.positionals }, {
        timeoutMs: 10 * 60 * 1000,
      });
    if (bool(a, 'json')) ctx.json(raw);
    else ctx.out(postSummary(data, ctx.c));
    return postExit(data);
  },
};

export const deadletters: CommandSpec[] = [list, replay];
