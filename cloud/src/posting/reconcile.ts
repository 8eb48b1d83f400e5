/**
 * Reconciliation: what IronLedger allocated for a period against what Odoo holds, per
 * project, to the cent (DESIGN.md, invariant 5). Odoo's side is read back by `ref` (every
 * allocation key) plus every IronLedger-keyed record (`ref =like 'IL-%'`) dated in the
 * period, so records missing on either side show up. Project totals on the Odoo side come
 * from Odoo's own aggregate (`formatted_read_group`, or `read_group` before Odoo 19) in
 * analytic mode, and every difference is listed by key.
 *
 * Journal-entry mode reads two sides per key: the move line that carries the analytic
 * distribution (the ledger: picked client-side, since `analytic_distribution != false`
 * matches every line in Odoo 19, transcripts 132–135) and the analytic lines posting generated
 * from it (what project managers see; they can be edited alone, 140–147). A difference names
 * the side it was found on. Hours compare at the digits Odoo keeps (`quantity` rounds to
 * "Product Unit", 120–131); money compares to the cent.
 */
import type { ReconcileResponse } from '@ironledger/contracts';
import type { OdooClient } from '@ironledger/odoo';
import { currencyDigits, decimalToMinor, minorToDecimalString, toMilliHours } from '../allocation/money.js';
import type { PostingConfig } from './config.js';
import type { MasterData } from './master-data.js';
import { projectHints } from './odoo-poster.js';
import type { PostableAllocation } from './types.js';
import { roundHours } from './vals.js';

export type LocalPosted = PostableAllocation & { odooId: number | null };

/** One allocation as Odoo (or the dry-run journal) has it. */
export interface RemoteFigure {
  key: string;
  projectId: string | null;
  amountMinor: number;
  milliHours: number;
  date: string;
  count: number;
}

export type ReconcileSide = NonNullable<ReconcileResponse['differences'][number]['side']>;

export function periodBounds(period: string): { from: string; to: string } {
  const [y, m] = period.split('-').map(Number) as [number, number];
  const last = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return { from: `${period}-01`, to: `${period}-${String(last).padStart(2, '0')}` };
}

/** Compares local allocations with remote figures; pure. */
export function compare(
  period: string,
  local: LocalPosted[],
  remote: RemoteFigure[],
  remoteTotals?: Map<string, { amountMinor: number; milliHours: number }>,
  hoursDigits: number | null = null,
): ReconcileResponse {
  const { from, to } = periodBounds(period);
  const inPeriod = local.filter((a) => a.day >= from && a.day <= to);
  const currency = inPeriod[0]?.currency ?? local[0]?.currency ?? 'USD';
  const digits = currencyDigits(currency);
  const money = (m: number) => minorToDecimalString(m, digits);
  const byKey = new Map<string, RemoteFigure>();
  for (const r of remote) {
    const prev = byKey.get(r.key);
    byKey.set(
      r.key,
      prev
        ? {
            ...r,
            amountMinor: prev.amountMinor + r.amountMinor,
            milliHours: prev.milliHours + r.milliHours,
            count: prev.count + r.count,
          }
        : r,
    );
  }
  const localKeys = new Set(inPeriod.map((a) => a.key));
  const differences: ReconcileResponse['differences'] = [];
  const totals = new Map<string, { lh: number; oh: number; la: number; oa: number }>();
  const tot = (p: string) => {
    const t = totals.get(p) ?? { lh: 0, oh: 0, la: 0, oa: 0 };
    totals.set(p, t);
    return t;
  };
  for (const a of inPeriod) {
    const t = tot(a.projectId);
    const mh = toMilliHours(roundHours(a.engineHours, hoursDigits));
    t.lh += mh;
    t.la += a.amountMinor;
    const r = byKey.get(a.key);
    if (!r) {
      differences.push({
        projectId: a.projectId,
        key: a.key,
        kind: 'missing_in_odoo',
        local: money(a.amountMinor),
        odoo: null,
      });
      continue;
    }
    t.oh += r.milliHours;
    t.oa += r.amountMinor;
    if (r.amountMinor !== a.amountMinor || r.count > 1) {
      differences.push({
        projectId: a.projectId,
        key: a.key,
        kind: 'amount',
        local: money(a.amountMinor),
        odoo: r.count > 1 ? `${money(r.amountMinor)} (${r.count} records)` : money(r.amountMinor),
      });
    }
    if (r.milliHours !== mh)
      differences.push({
        projectId: a.projectId,
        key: a.key,
        kind: 'hours',
        local: String(mh / 1000),
        odoo: String(r.milliHours / 1000),
      });
    if (r.date !== a.day)
      differences.push({ projectId: a.projectId, key: a.key, kind: 'date', local: a.day, odoo: r.date });
  }
  for (const r of byKey.values()) {
    if (localKeys.has(r.key) || local.some((a) => a.key === r.key)) continue;
    if (r.date < from || r.date > to) continue;
    const p = r.projectId ?? 'unknown';
    const t = tot(p);
    t.oh += r.milliHours;
    t.oa += r.amountMinor;
    differences.push({
      projectId: p,
      key: r.key,
      kind: 'missing_locally',
      local: null,
      odoo: money(r.amountMinor),
    });
  }
  if (remoteTotals) {
    // Odoo's own aggregate is the authority for the project totals.
    for (const [p, t] of totals) {
      const agg = remoteTotals.get(p);
      t.oa = agg?.amountMinor ?? 0;
      t.oh = agg?.milliHours ?? 0;
    }
  }
  const rows = [...totals.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([projectId, t]) => ({
      projectId,
      localHours: t.lh / 1000,
      odooHours: t.oh / 1000,
      localAmountMinor: t.la,
      odooAmountMinor: t.oa,
      ok: t.lh === t.oh && t.la === t.oa && !differences.some((d) => d.projectId === projectId),
    }));
  return { period, currency, rows, differences };
}

export async function reconcileWithOdoo(
  cfg: PostingConfig,
  deps: { client: OdooClient; master: MasterData },
  period: string,
  local: LocalPosted[],
  signal?: AbortSignal,
): Promise<ReconcileResponse> {
  const { client, master } = deps;
  await client.connect({ signal });
  const hoursDigits = await master.hoursDigits(cfg.target, signal);
  const { from, to } = periodBounds(period);
  const keys = [...new Set(local.map((a) => a.key))];
  const currency = local[0]?.currency ?? 'USD';
  const projectOf = new Map(local.map((a) => [a.key, a.projectId]));
  const accounts = await master.projectAccounts(
    [...new Set(local.map((a) => a.projectId))],
    signal,
    projectHints(local),
  );
  const accountToProject = new Map<number, string>();
  for (const [p, acc] of accounts) if (acc.analyticAccountId) accountToProject.set(acc.analyticAccountId, p);
  const ours = [
    '|',
    ['ref', 'in', keys],
    '&',
    '&',
    ['ref', '=like', 'IL-%'],
    ['date', '>=', from],
    ['date', '<=', to],
  ];

  const remote: RemoteFigure[] = [];
  let remoteTotals: Map<string, { amountMinor: number; milliHours: number }> | undefined;
  if (cfg.target === 'analytic') {
    const rows = await client.searchRead<{
      ref: string;
      amount: number;
      unit_amount: number;
      date: string;
      account_id: [number, string] | false;
    }>('account.analytic.line', ours, ['ref', 'amount', 'unit_amount', 'date', 'account_id'], {
      order: 'id',
      signal,
    });
    for (const r of rows) {
      const acct = r.account_id ? r.account_id[0] : null;
      remote.push({
        key: r.ref,
        projectId:
          projectOf.get(r.ref) ??
          (acct !== null ? (accountToProject.get(acct) ?? master.projectForAccount(acct) ?? null) : null),
        amountMinor: decimalToMinor(-r.amount, currency),
        milliHours: toMilliHours(r.unit_amount),
        date: r.date,
        count: 1,
      });
    }
    // Totals by Odoo itself, over the same records, grouped by project account.
    const groups = await client.readGroup(
      'account.analytic.line',
      ['&', ['date', '>=', from], ['date', '<=', to], ...ours],
      ['account_id'],
      ['amount:sum', 'unit_amount:sum', '__count'],
      { signal },
    );
    remoteTotals = new Map();
    for (const g of groups) {
      const acct = Array.isArray(g.account_id) ? (g.account_id[0] as number) : null;
      const p =
        acct !== null
          ? (accountToProject.get(acct) ?? master.projectForAccount(acct) ?? 'unknown')
          : 'unknown';
      const t = remoteTotals.get(p) ?? { amountMinor: 0, milliHours: 0 };
      t.amountMinor += decimalToMinor(-Number(g['amount:sum'] ?? 0), currency);
      t.milliHours += toMilliHours(Number(g['unit_amount:sum'] ?? 0));
      remoteTotals.set(p, t);
    }
  } else {
    return reconcileMoves(
      cfg,
      client,
      master,
      period,
      local,
      ours,
      projectOf,
      accountToProject,
      hoursDigits,
      signal,
    );
  }
  return compare(period, local, remote, remoteTotals, hoursDigits);
}

interface MoveLineRow {
  id: number;
  ref: string;
  balance: number;
  quantity: number;
  date: string;
  account_id: [number, string] | false;
  analytic_distribution: Record<string, number> | false;
}

/**
 * Journal-entry mode. The job's side is the line with an analytic distribution (with internal
 * rental, the one on the expense account); with internal rental (`accounts.equipmentRevenueAccountId`)
 * the equipment's side is the line on that account, compared as a credit (its balance negated)
 * and, once posted, with the analytic line generated from it. Each side is compared to the cent
 * and its differences are named by side.
 */
async function reconcileMoves(
  cfg: PostingConfig,
  client: OdooClient,
  master: MasterData,
  period: string,
  local: LocalPosted[],
  ours: unknown[],
  projectOf: Map<string, string>,
  accountToProject: Map<number, string>,
  hoursDigits: number | null,
  signal: AbortSignal | undefined,
): Promise<ReconcileResponse> {
  const currency = local[0]?.currency ?? 'USD';
  const revenueAccount = cfg.accounts?.equipmentRevenueAccountId;
  const rows = await client.searchRead<MoveLineRow>(
    'account.move.line',
    ours,
    ['ref', 'balance', 'quantity', 'date', 'account_id', 'analytic_distribution'],
    { order: 'id', signal },
  );
  const accountOf = (r: MoveLineRow) => (r.account_id ? r.account_id[0] : null);
  const isEquipment = (r: MoveLineRow) => revenueAccount !== undefined && accountOf(r) === revenueAccount;
  const hasDistribution = (r: MoveLineRow) =>
    Boolean(r.analytic_distribution && Object.keys(r.analytic_distribution).length > 0);
  const figure = (r: MoveLineRow, sign: 1 | -1): RemoteFigure => {
    const first = Number(Object.keys(r.analytic_distribution || {})[0]?.split(',')[0]);
    return {
      key: r.ref,
      projectId:
        projectOf.get(r.ref) ?? accountToProject.get(first) ?? master.projectForAccount(first) ?? null,
      amountMinor: decimalToMinor(sign * r.balance, currency),
      milliHours: toMilliHours(r.quantity),
      date: r.date,
      count: 1,
    };
  };
  // With internal rental, two lines carry a distribution: the job's is the one on the expense account.
  const isJob = (r: MoveLineRow) =>
    hasDistribution(r) && (revenueAccount === undefined || accountOf(r) === cfg.accounts?.expenseAccountId);
  const jobLines = rows.filter(isJob);
  const equipmentLines = rows.filter(isEquipment);
  const remote = jobLines.map((r) => figure(r, 1));
  const ledger = tagSide(compare(period, local, remote, undefined, hoursDigits), 'move_line');
  const withEntry = new Set(remote.map((r) => r.key));
  const differences: ReconcileResponse['differences'] = [];
  if (revenueAccount !== undefined) {
    differences.push(...(await wrongAccounts(cfg, master, period, local, jobLines, equipmentLines, signal)));
    // The equipment's credit: the same amount and hours as the job's debit, per key.
    const side = compare(
      period,
      local.filter((a) => withEntry.has(a.key)),
      equipmentLines.map((r) => figure(r, -1)),
      undefined,
      hoursDigits,
    ).differences.filter((d) => d.kind !== 'missing_locally');
    differences.push(...side.map((d) => ({ ...d, side: 'equipment_move_line' as const })));
  }
  const lineRef = (ls: MoveLineRow[]) => new Map(ls.map((r) => [r.id, r.ref]));
  const jobRef = lineRef(jobLines);
  const equipmentRef = lineRef(equipmentLines.filter(hasDistribution));
  if (cfg.movePost && jobRef.size + equipmentRef.size > 0) {
    // The analytic lines that posting generated from those move lines.
    const generated = await client.searchRead<{
      amount: number;
      unit_amount: number;
      date: string;
      move_line_id: [number, string] | false;
    }>(
      'account.analytic.line',
      [['move_line_id', 'in', [...jobRef.keys(), ...equipmentRef.keys()]]],
      ['amount', 'unit_amount', 'date', 'move_line_id'],
      { order: 'id', signal },
    );
    const sideOf = (refs: Map<number, string>, sign: 1 | -1, name: ReconcileSide) => {
      const analytic: RemoteFigure[] = [];
      for (const g of generated) {
        const key = g.move_line_id ? refs.get(g.move_line_id[0]) : undefined;
        if (!key) continue;
        analytic.push({
          key,
          projectId: projectOf.get(key) ?? null,
          amountMinor: decimalToMinor(-sign * g.amount, currency),
          milliHours: toMilliHours(g.unit_amount),
          date: g.date,
          count: 1,
        });
      }
      // Only keys whose line is in Odoo: a missing line is already that line's difference.
      const present = new Set(refs.values());
      return compare(
        period,
        local.filter((a) => present.has(a.key)),
        analytic,
        undefined,
        hoursDigits,
      )
        .differences.filter((d) => d.kind !== 'missing_locally')
        .map((d) => ({ ...d, side: name }));
    };
    if (jobRef.size > 0) differences.push(...sideOf(jobRef, 1, 'analytic_line'));
    if (equipmentRef.size > 0) differences.push(...sideOf(equipmentRef, -1, 'equipment_analytic_line'));
  }
  return mergeSides(ledger, differences);
}

/**
 * Internal rental: each line must be on the analytic account it was posted to, the job's on
 * the project's account and the equipment's on the unit's, or the project's equipment cost or
 * the machine's earnings read wrong in Odoo however right the amounts are.
 */
async function wrongAccounts(
  cfg: PostingConfig,
  master: MasterData,
  period: string,
  local: LocalPosted[],
  jobLines: MoveLineRow[],
  equipmentLines: MoveLineRow[],
  signal: AbortSignal | undefined,
): Promise<ReconcileResponse['differences']> {
  const { from, to } = periodBounds(period);
  const inPeriod = local.filter((a) => a.day >= from && a.day <= to);
  const serial = (a: LocalPosted) => a.serialNo ?? a.unitId;
  const projects = await master.projectAccounts(
    [...new Set(inPeriod.map((a) => a.projectId))],
    signal,
    projectHints(inPeriod),
  );
  const units = cfg.equipmentPlanField
    ? await master.equipmentAccounts([...new Set(inPeriod.map(serial))], signal)
    : new Map<string, number | null>();
  const keyOf = (r: MoveLineRow) => Object.keys(r.analytic_distribution || {}).join(' ') || 'none';
  const out: ReconcileResponse['differences'] = [];
  const check = (
    a: LocalPosted,
    lines: MoveLineRow[],
    expected: number | null | undefined,
    side: ReconcileSide,
  ) => {
    if (!expected) return;
    for (const r of lines.filter((l) => l.ref === a.key)) {
      if (keyOf(r) === String(expected)) continue;
      out.push({
        projectId: a.projectId,
        key: a.key,
        kind: 'analytic_account',
        local: String(expected),
        odoo: keyOf(r),
        side,
      });
    }
  };
  for (const a of inPeriod) {
    check(a, jobLines, projects.get(a.projectId)?.analyticAccountId, 'move_line');
    check(a, equipmentLines, units.get(serial(a)), 'equipment_move_line');
  }
  return out;
}

function tagSide(r: ReconcileResponse, side: ReconcileSide): ReconcileResponse {
  return { ...r, differences: r.differences.map((d) => ({ ...d, side })) };
}

/** Adds the other sides' differences to the ledger side's answer; a project with any is not ok. */
function mergeSides(ledger: ReconcileResponse, others: ReconcileResponse['differences']): ReconcileResponse {
  const differences = [...ledger.differences, ...others];
  const bad = new Set(differences.map((d) => d.projectId));
  return {
    ...ledger,
    rows: ledger.rows.map((r) => ({ ...r, ok: r.ok && !bad.has(r.projectId) })),
    differences,
  };
}
