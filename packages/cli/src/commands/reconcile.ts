import { ReconcileResponseSchema } from '@ironledger/contracts';
import { bool, type CommandSpec, JSON_OPTION, required } from '../command.js';
import { EXIT } from '../errors.js';
import { formatMoney } from '../format/money.js';
import { renderTable } from '../format/table.js';
import { formatHours } from '../format/time.js';
import { parsePeriod } from '../values.js';

type Row = import('zod').infer<typeof ReconcileResponseSchema>['rows'][number];

const HOURS_EPSILON = 0.005; // below display precision

export const reconcile: CommandSpec = {
  name: 'reconcile',
  summary: 'Month end: local vs Odoo hours and amounts per project',
  description:
    'Compares, per project, what IronLedger allocated with what Odoo holds for the period, to the\ncent. Differences are listed one by one. Exits 1 when the period does not reconcile (like\n`diff`), so a month-end script can stop there.',
  role: 'viewer',
  options: {
    period: { type: 'string', value: 'YYYY-MM', description: 'The month (required)' },
    ...JSON_OPTION,
  },
  examples: [
    ['Close November', 'ironledger reconcile --period 2026-11'],
    ['In a script', 'ironledger reconcile --period 2026-11 --json > recon.json || echo "differences"'],
  ],
  async run(ctx, a) {
    const period = parsePeriod(required(a, 'period', 'e.g. --period 2026-11'));
    const { data, raw } = await ctx.api().get('/v1/reconcile', ReconcileResponseSchema, { period });
    const ok = data.rows.every((r) => r.ok) && data.differences.length === 0;
    if (bool(a, 'json')) {
      ctx.json(raw);
      return ok ? EXIT.OK : EXIT.FAILURE;
    }
    const { c } = ctx;
    const money = (m: number) => formatMoney(m, data.currency);
    const dh = (r: Row) => r.odooHours - r.localHours;
    const dm = (r: Row) => r.odooAmountMinor - r.localAmountMinor;
    const signed = (s: string, n: number) => (n > 0 ? `+${s}` : s);
    const hi = (s: string, r: Row) => (r.ok ? s : c.red(c.bold(s)));
    ctx.out(`${c.bold(`RECONCILIATION ${data.period}`)} (${data.currency})\n`);
    if (data.rows.length === 0) ctx.out(c.dim('no allocations and no Odoo lines in this period\n'));
    else {
      const sumH = (f: (r: Row) => number) => data.rows.reduce((t, r) => t + f(r), 0);
      const sumM = (f: (r: Row) => number) => data.rows.reduce((t, r) => t + f(r), 0);
      ctx.out(
        renderTable(
          data.rows,
          [
            { header: 'PROJECT', value: (r) => r.projectId, style: hi },
            { header: 'LOCAL H', value: (r) => formatHours(r.localHours), align: 'right' },
            { header: 'ODOO H', value: (r) => formatHours(r.odooHours), align: 'right' },
            {
              header: 'Δ H',
              value: (r) => (Math.abs(dh(r)) < HOURS_EPSILON ? '' : signed(formatHours(dh(r)), dh(r))),
              align: 'right',
              style: hi,
            },
            { header: 'LOCAL AMOUNT', value: (r) => money(r.localAmountMinor), align: 'right' },
            { header: 'ODOO AMOUNT', value: (r) => money(r.odooAmountMinor), align: 'right' },
            {
              header: 'Δ AMOUNT',
              value: (r) => (dm(r) === 0 ? '' : signed(money(dm(r)), dm(r))),
              align: 'right',
              style: hi,
            },
            {
              header: 'OK',
              value: (r) => (r.ok ? 'ok' : 'DIFF'),
              style: (s, r) => (r.ok ? c.green(s) : c.red(c.bold(s))),
            },
          ],
          {
            headerStyle: c.dim,
            ruleStyle: c.dim,
            footer: [
              [
                'TOTAL',
                formatHours(sumH((r) => r.localHours)),
                formatHours(sumH((r) => r.odooHours)),
                '',
                money(sumM((r) => r.localAmountMinor)),
                money(sumM((r) => r.odooAmountMinor)),
                '',
                ok ? 'ok' : 'DIFF',
              ],
            ],
          },
        ),
      );
    }
    if (data.differences.length) {
      ctx.out(`\n${c.red(c.bold(`DIFFERENCES (${data.differences.length})`))}\n`);
      ctx.out(
        renderTable(
          data.differences,
          [
            { header: 'PROJECT', value: (d) => d.projectId },
            { header: 'KIND', value: (d) => d.kind.replace(/_/g, ' '), style: (s) => c.red(s) },
            { header: 'KEY', value: (d) => d.key ?? '-' },
            { header: 'LOCAL', value: (d) => d.local ?? '-' },
            { header: 'ODOO', value: (d) => d.odoo ?? '-' },
            ...(data.differences.some((d) => d.side)
              ? [
                  {
                    header: 'SIDE',
                    value: (d: (typeof data.differences)[0]) => (d.side ?? '-').replace(/_/g, ' '),
                  },
                ]
              : []),
          ],
          { headerStyle: c.dim },
        ),
      );
    }
    ctx.out(
      ok
        ? `${c.green('reconciled')}: Odoo matches the allocations to the cent\n`
        : `${c.red('does not reconcile')}\n`,
    );
    return ok ? EXIT.OK : EXIT.FAILURE;
  },
};
