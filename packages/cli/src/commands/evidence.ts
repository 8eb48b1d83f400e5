/**
 * Evidence per allocation (README "Billing rules"):
 *   ironledger allocations show <key|id>             what the allocation rests on: readings, meter deltas,
 *                                                    geofence changes, gaps, resets, status hours, rate lines, sha256
 *   ironledger allocations bill-unverified <key>     an approver bills a reset's unverified hours (audited)
 *   ironledger verify                                every posted allocation's readings still hash the same
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  BillUnverifiedResponseSchema,
  type EvidenceResponse,
  EvidenceResponseSchema,
  VerifyResponseSchema,
} from '@ironledger/contracts';
import { bool, type CommandSpec, JSON_OPTION, required, str } from '../command.js';
import { CliError, EXIT } from '../errors.js';
import type { Palette } from '../format/colour.js';
import { formatMoney } from '../format/money.js';
import { renderFields, renderTable } from '../format/table.js';
import { formatHours, formatInstant } from '../format/time.js';
import { renderEvidencePage } from '../report/evidence-page.js';
import { statusStyle } from './allocations.js';

const h3 = (x: number | null) => (x === null ? '—' : x.toFixed(3));

function evidenceText(x: EvidenceResponse, c: Palette): string {
  const money = (m: number) => formatMoney(m, x.currency);
  const b = x.billing;
  const fields: [string, string][] = [
    ['id', x.id],
    ['key', x.key],
    ['status', statusStyle(c, x.status)(x.status)],
    ['kind', x.kind === 'adjustment' ? `adjustment of ${x.adjusts ?? '?'}` : 'normal'],
    ['unit', x.unitId],
    ['project', x.projectId],
    ['day', x.day],
    [
      'hours',
      `engine ${formatHours(x.engineHours)} · idle ${formatHours(x.idleHours)} · working ${formatHours(x.workingHours)}`,
    ],
    ['rates', `working ${money(x.workingRateMinor)}/h · idle ${money(x.idleRateMinor)}/h`],
    ['amount', c.bold(money(x.amountMinor))],
    [
      'meter',
      `${x.evidence.meterFrom ?? '?'} → ${x.evidence.meterTo ?? '?'} h over ${x.evidence.readings} readings`,
    ],
    ['created', formatInstant(x.createdAt)],
  ];
  if (x.holdReason) fields.push(['held', c.yellow(x.holdReason)]);
  if (x.approvedBy) fields.push(['approved', `${x.approvedBy} at ${formatInstant(x.approvedAt)}`]);
  if (x.rejectedBy)
    fields.push(['rejected', `${x.rejectedBy} at ${formatInstant(x.rejectedAt)}: ${x.rejectReason ?? ''}`]);
  if (x.postedAt)
    fields.push([
      'posted',
      `${formatInstant(x.postedAt)}${x.odoo ? ` → ${x.odoo.model} #${x.odoo.id}` : ''}`,
    ]);
  if (b) {
    fields.push(['rate card', `${b.model}${b.scope ? ` (${b.scope})` : ''}`]);
    if (b.unverifiedHours > 0)
      fields.push([
        'unverified',
        c.yellow(
          `${h3(b.unverifiedHours)} h${x.unverifiedDecision ? `, billed by ${x.unverifiedDecision.by}: ${x.unverifiedDecision.reason}` : ', not billed (ironledger allocations bill-unverified)'}`,
        ),
      ]);
    if (b.inferredHours > 0)
      fields.push(['inferred', c.yellow(`${h3(b.inferredHours)} h spread by an offline gap`)]);
  }
  if (x.lifetime)
    fields.push([
      'lifetime',
      `${h3(x.lifetime.lifetimeHours)} h at ${formatInstant(x.lifetime.asOf)}${x.lifetime.replacements.length > 0 ? ` (meter ${h3(x.lifetime.meterHours)} + ${h3(x.lifetime.replacedHours)} on ${x.lifetime.replacements.length} replaced meter${x.lifetime.replacements.length > 1 ? 's' : ''})` : ''}`,
    ]);
  fields.push([
    'sha256',
    `${x.sha256.stored ?? '—'} ${x.sha256.matches ? c.green('matches the store') : c.red('DOES NOT match the store')}`,
  ]);
  const out = [renderFields(fields, c.dim)];
  const section = (t: string) => out.push(`\n${c.bold(t)}\n`);
  if (b) {
    section('STATUS HOURS');
    out.push(
      renderTable(
        (['working', 'idle', 'standby', 'offHours'] as const).map((s) => ({ s, v: b.statusHours[s] })),
        [
          { header: 'STATUS', value: (r) => r.s },
          { header: 'HOURS', value: (r) => h3(r.v), align: 'right' },
        ],
        { headerStyle: c.dim },
      ),
    );
    section('RATE LINES');
    out.push(
      renderTable(
        b.lines,
        [
          { header: 'STATUS', value: (l) => l.status },
          { header: 'HOURS', value: (l) => h3(l.milliHours / 1000), align: 'right' },
          { header: 'BILLED', value: (l) => h3(l.billedMilliHours / 1000), align: 'right' },
          {
            header: 'OWNING',
            value: (l) => `${money(l.owningRateMinor)} × ${l.owningFactor}`,
            align: 'right',
          },
          {
            header: 'OPERATING',
            value: (l) => `${money(l.operatingRateMinor)} × ${l.operatingFactor}`,
            align: 'right',
          },
          { header: 'AMOUNT', value: (l) => money(l.amountMinor), align: 'right' },
          { header: 'NOTE', value: (l) => l.note ?? '' },
        ],
        { headerStyle: c.dim },
      ),
    );
    if (b.gaps.length) {
      section('GAPS');
      for (const g of b.gaps)
        out.push(
          `  ${g.fromTs} → ${g.toTs}  ${g.elapsedHours.toFixed(2)} h offline, ${h3(g.engineHours)} engine h${g.inferred ? c.yellow(` inferred over ${g.days.join(', ')} (${g.fromProjectId} → ${g.toProjectId})`) : ''}\n`,
        );
    }
  }
  if (x.resets.length) {
    section('RESETS');
    for (const r of x.resets) out.push(`  ${formatInstant(r.ts)}  ${r.detail}\n`);
  }
  const other = x.evidence.anomalies.filter((a) => a.kind !== 'meter_reset');
  if (other.length) {
    section('ANOMALIES');
    for (const a of other) out.push(`  ${formatInstant(a.ts)}  ${c.yellow(a.kind)}  ${a.detail}\n`);
  }
  if (x.geofenceChanges.length) {
    section('GEOFENCE CHANGES');
    for (const g of x.geofenceChanges) out.push(`  ${g.ts}  ${g.fromProjectId} → ${g.toProjectId}\n`);
  }
  if (x.readings.length) {
    section(`READINGS (${x.readings.length})`);
    out.push(
      renderTable(
        x.readings,
        [
          { header: 'TS', value: (r) => r.ts },
          { header: 'ENGINE', value: (r) => h3(r.engineHours), align: 'right' },
          { header: 'Δ', value: (r) => h3(r.engineDelta), align: 'right' },
          { header: 'IDLE', value: (r) => h3(r.idleHours), align: 'right' },
          { header: 'PROJECT', value: (r) => r.projectId ?? '—' },
          { header: 'BATCH', value: (r) => r.batchId ?? 'missing' },
          {
            header: 'SHA256',
            value: (r) => `${r.storedSha256.slice(0, 12)}${r.matches ? '' : ' CHANGED'}`,
            style: (s, r) => (r.matches ? s : c.red(s)),
          },
        ],
        { headerStyle: c.dim },
      ),
    );
  }
  return out.join('');
}

export const allocationsShow: CommandSpec = {
  name: 'allocations show',
  summary: 'One allocation with its evidence: readings, deltas, gaps, resets, status hours, rate lines, hash',
  description:
    'Shows what an allocation rests on: every reading behind it (meter deltas, project by\ngeofence, batch, sha256 checked against the store now), geofence changes, offline gaps\n(inferred hours), meter resets (unverified hours and any decision to bill them), hours per\nstatus and the rate card lines applied. --html writes the same as one self-contained page\nfor a billing dispute.',
  args: '<key|id>',
  minPositionals: 1,
  maxPositionals: 1,
  role: 'viewer',
  options: {
    ...JSON_OPTION,
    html: { type: 'string', value: 'file', description: 'Write a self-contained HTML evidence page' },
  },
  examples: [
    ['Why is this one held?', 'ironledger allocations show al_01J9'],
    [
      'Evidence for a dispute',
      'ironledger allocations show IL-EXC-0042-P-RIVERSIDE-20261123-1 --html ev.html',
    ],
  ],
  async run(ctx, a) {
    const ref = a.positionals[0]!;
    const { data: x, raw } = await ctx
      .api()
      .get(`/v1/evidence/${encodeURIComponent(ref)}`, EvidenceResponseSchema);
    const html = str(a, 'html');
    if (html) {
      const page = renderEvidencePage(x);
      try {
        fs.mkdirSync(path.dirname(path.resolve(html)), { recursive: true });
        const tmp = `${html}.tmp-${process.pid}`;
        fs.writeFileSync(tmp, page);
        fs.renameSync(tmp, html);
      } catch (e) {
        throw new CliError(`cannot write ${html}: ${(e as Error).message}`, {
          hint: 'choose another --html file',
        });
      }
      ctx.note(ctx.ec.dim(`wrote ${html}: ${x.readings.length} readings`));
    }
    if (bool(a, 'json')) ctx.json(raw);
    else if (html) ctx.out(`${html}\n`);
    else ctx.out(evidenceText(x, ctx.c));
    return EXIT.OK;
  },
};

export const allocationsBillUnverified: CommandSpec = {
  name: 'allocations bill-unverified',
  summary: "Bill an allocation's unverified hours (a meter reset's starting value): audited",
  description:
    "Hours across a meter reset, a meter replacement or a unit swap are unverified: the new\nmeter's first reading is its baseline and nothing bills them automatically. This bills the\nunverified hours the allocation shows now (as working time), with your name and reason in\nthe audit log; if the allocation changed since you looked, the server refuses (409). A\npending allocation is repriced in the same step (an approved one goes back to pending with\nthe new amount); a posted one gets an adjustment to approve.",
  args: '<key|id>',
  minPositionals: 1,
  maxPositionals: 1,
  role: 'approver',
  options: {
    ...JSON_OPTION,
    reason: { type: 'string', value: 'text', description: 'Why these hours are billable (required)' },
  },
  examples: [
    [
      'The ECU was swapped on site; the workshop log shows 0.4 h run',
      'ironledger allocations bill-unverified IL-EXC-0042-P-RIVERSIDE-20261123-1 --reason "workshop log WO-118: 0.4 h on site"',
    ],
  ],
  async run(ctx, a) {
    const ref = a.positionals[0]!;
    const reason = required(a, 'reason', 'e.g. --reason "workshop log WO-118 shows the hours"');
    const api = ctx.api();
    const { data: x } = await api.get(`/v1/evidence/${encodeURIComponent(ref)}`, EvidenceResponseSchema);
    const hours = x.billing?.unverifiedHours ?? 0;
    if (hours <= 0) throw new CliError(`allocation ${x.key} has no unverified hours`);
    const { data, raw } = await api.post(
      `/v1/evidence/${encodeURIComponent(x.key)}/bill-unverified`,
      BillUnverifiedResponseSchema,
      { expectedHours: hours, expectedVersion: x.version, reason },
    );
    if (bool(a, 'json')) {
      ctx.json(raw);
      return EXIT.OK;
    }
    ctx.out(
      `${ctx.c.green(`billing ${hours.toFixed(3)} unverified h of ${x.key}`)}${data.allocation ? `: ${data.allocation.key} is ${data.allocation.status}, ${formatMoney(data.allocation.amountMinor, data.allocation.currency)}` : ''}\n`,
    );
    return EXIT.OK;
  },
};

export const verify: CommandSpec = {
  name: 'verify',
  summary: 'Check that no reading behind a posted allocation changed since it was priced',
  description:
    'Recomputes the sha256 of the readings behind every posted allocation from the store and\ncompares it with the one kept since the allocation was priced. Exit 1 and the allocations\nnamed when any reading changed or vanished; 0 when all hold.',
  role: 'viewer',
  options: {
    ...JSON_OPTION,
    from: { type: 'string', value: 'day', description: 'Only allocations on or after this day' },
    to: { type: 'string', value: 'day', description: 'Only allocations on or before this day' },
  },
  examples: [['Before closing the month', 'ironledger verify --from 2026-11-01 --to 2026-11-30']],
  async run(ctx, a) {
    const query = { from: str(a, 'from'), to: str(a, 'to') };
    const { data, raw } = await ctx.api().get('/v1/verify', VerifyResponseSchema, query);
    if (bool(a, 'json')) ctx.json(raw);
    else {
      for (const f of data.failed)
        ctx.out(
          `${ctx.c.red('CHANGED')} ${f.key}: ${f.reason}${f.changedReadings.length ? ` (changed: ${f.changedReadings.join(', ')})` : ''}${f.missingReadings.length ? ` (missing: ${f.missingReadings.join(', ')})` : ''}\n`,
        );
      ctx.out(
        `${data.checked} posted allocation${data.checked === 1 ? '' : 's'} checked, ${data.failed.length} changed${data.withoutEvidence ? `, ${data.withoutEvidence} priced before evidence was kept` : ''}\n`,
      );
    }
    return data.failed.length > 0 ? EXIT.FAILURE : EXIT.OK;
  },
};
