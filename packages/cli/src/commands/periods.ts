import { PeriodLockResponseSchema, PeriodsResponseSchema } from '@ironledger/contracts';
import { bool, type CommandSpec, JSON_OPTION } from '../command.js';
import { EXIT } from '../errors.js';
import { parsePeriod } from '../values.js';

const list: CommandSpec = {
  name: 'periods list',
  summary: 'Locked periods (no allocation in them changes any more)',
  role: 'viewer',
  options: { ...JSON_OPTION },
  examples: [['Which months are closed', 'ironledger periods list']],
  async run(ctx, a) {
    const { data, raw } = await ctx.api().get('/v1/periods', PeriodsResponseSchema);
    if (bool(a, 'json')) {
      ctx.json(raw);
      return EXIT.OK;
    }
    ctx.out(
      data.locked.length
        ? `${data.locked.map((p) => `${p.period}  locked`).join('\n')}\n`
        : 'no locked periods\n',
    );
    return EXIT.OK;
  },
};

function lockCommand(action: 'lock' | 'unlock'): CommandSpec {
  return {
    name: `periods ${action}`,
    summary:
      action === 'lock'
        ? 'Close a month: its allocations no longer change; late data becomes adjustments'
        : 'Re-open a closed month',
    args: '<YYYY-MM>',
    minPositionals: 1,
    maxPositionals: 1,
    role: 'admin',
    options: { ...JSON_OPTION },
    examples: [
      [
        action === 'lock' ? 'Close November after reconciling' : 'Re-open November',
        `ironledger periods ${action} 2026-11`,
      ],
    ],
    async run(ctx, a) {
      const period = parsePeriod(a.positionals[0]!, 'period');
      const { data, raw } = await ctx
        .api()
        .post(`/v1/periods/${period}/${action}`, PeriodLockResponseSchema, {});
      if (bool(a, 'json')) ctx.json(raw);
      else
        ctx.out(
          `${period} ${data.locked ? 'locked' : 'unlocked'}${data.changed ? '' : ' (it already was)'}\n`,
        );
      return EXIT.OK;
    },
  };
}

export const periods: CommandSpec[] = [list, lockCommand('lock'), lockCommand('unlock')];
