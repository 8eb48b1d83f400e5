import { ConsolidateResponseSchema } from '@ironledger/contracts';
import { bool, type CommandSpec, JSON_OPTION } from '../command.js';
import { EXIT } from '../errors.js';

export const consolidate: CommandSpec = {
  name: 'consolidate',
  summary: 'Turn stored readings into usage and pending allocations now',
  description:
    'Runs consolidation now instead of waiting for the schedule: readings become usage per unit,\nday and project, and usage × rates becomes pending allocations (adjustments for posted days).',
  role: 'approver',
  options: {
    all: {
      type: 'boolean',
      description: 'Recompute every unit (after changing sites or rates), not only units with new data',
    },
    ...JSON_OPTION,
  },
  examples: [
    ['Consolidate before reviewing allocations', 'ironledger consolidate'],
    ['Read the counts in a script', 'ironledger consolidate --json | jq .allocationsCreated'],
    ['After changing a rate', 'ironledger consolidate --all'],
  ],
  async run(ctx, a) {
    if (!bool(a, 'json')) ctx.note(ctx.ec.dim('consolidating…'));
    const { data, raw } = await ctx
      .api()
      .post('/v1/consolidate', ConsolidateResponseSchema, bool(a, 'all') ? { all: true } : {}, {
        timeoutMs: 10 * 60 * 1000,
      });
    if (bool(a, 'json')) {
      ctx.json(raw);
      return EXIT.OK;
    }
    ctx.out(
      `consolidated: ${data.unitsTouched} unit${data.unitsTouched === 1 ? '' : 's'} touched, ${data.rowsWritten} usage rows written, ` +
        `${data.allocationsCreated} allocation${data.allocationsCreated === 1 ? '' : 's'} created` +
        `${data.adjustmentsCreated ? `, ${data.adjustmentsCreated} adjustment${data.adjustmentsCreated === 1 ? '' : 's'}` : ''}\n`,
    );
    if (data.allocationsCreated + data.adjustmentsCreated > 0) {
      ctx.note(ctx.ec.dim("next: 'ironledger allocations list --status pending'"));
    }
    return EXIT.OK;
  },
};
