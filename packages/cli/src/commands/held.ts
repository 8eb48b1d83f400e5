import { HeldReadingsResponseSchema } from '@ironledger/contracts';
import { bool, type CommandSpec, JSON_OPTION, str } from '../command.js';
import { EXIT } from '../errors.js';
import { renderTable } from '../format/table.js';
import { formatInstant } from '../format/time.js';
import { RANGE_OPTIONS, rangeQuery } from './filters.js';

export const held: CommandSpec = {
  name: 'held',
  summary: 'Readings kept out of usage: impossible clocks and conflicting versions',
  description:
    'Readings the cloud stores but does not count: a timestamp that cannot be true (before 2000,\nor ahead of the gateway clock) or two different readings with the same unit and time.',
  role: 'viewer',
  options: {
    ...RANGE_OPTIONS,
    unit: { type: 'string', value: 'id', description: 'Only this unit' },
    ...JSON_OPTION,
  },
  examples: [['Why is this unit missing hours?', 'ironledger held --unit EXC-0042']],
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
          { header: 'UNIT', value: (r) => r.unitId },
          { header: 'TS', value: (r) => formatInstant(r.ts) },
          { header: 'STATUS', value: (r) => r.status, style: (s) => c.yellow(s) },
          { header: 'ENGINE H', value: (r) => String(r.engineHours), align: 'right' },
          { header: 'RECEIVED', value: (r) => formatInstant(r.receivedAt) },
          { header: 'BATCH', value: (r) => r.batchId },
          { header: 'REASON', value: (r) => r.reason },
        ],
        { headerStyle: c.dim },
      ),
    );
    return EXIT.OK;
  },
};
