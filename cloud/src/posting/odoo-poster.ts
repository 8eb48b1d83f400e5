/**
 * Posting to a live Odoo, exactly once per allocation key (DESIGN.md, invariant 4):
 *
 * 1. connect (an authentication failure stops the whole run before anything is sent);
 * 2. hold what Odoo must not receive: a project without an analytic account, a unit without
 *    its maintenance.equipment (by serial number) or Equipment-plan account when that plan is
 *    configured (never posted half-mapped), a journal entry dated inside Odoo's lock period
 *    (Odoo would silently re-date it: reconciliation could not match it to its day). Analytic
 *    lines are not held for the lock: Odoo's lock dates don't apply to them and it keeps
 *    their date (transcripts 148–153). A hold note left by an earlier run is cleared once its
 *    condition is gone;
 *    hours are rounded to the digits Odoo keeps (read on every run), money stays exact;
 * 3. look every key up by `ref`; a key found is recorded, never created again — that is what
 *    resolves a crash between Odoo's commit and our ledger write;
 * 4. create the rest in batches (ids return in order); a batch Odoo rejects is retried one
 *    record at a time so one bad allocation dead-letters alone; a create whose answer was
 *    lost is looked up by ref again before any new attempt;
 * 5. journal entries are posted (`action_post`) when configured, and the date Odoo booked is
 *    recorded.
 */
import type { PostResponse } from '@ironledger/contracts';
import { IronLedgerError, isIronLedgerError, toIronLedgerError } from '@ironledger/errors';
import type { Logger } from '@ironledger/logger';
import type { OdooClient } from '@ironledger/odoo';
import type { PostingConfig } from './config.js';
import type { MasterData } from './master-data.js';
import type { PostableAllocation, PostingLedger, ProjectHint } from './types.js';
import { type AnalyticTargets, analyticLineVals, moveVals } from './vals.js';

export interface OdooPostDeps {
  client: OdooClient;
  master: MasterData;
  ledger: PostingLedger;
  log: Logger;
}

interface Found {
  id: number;
  ref: string;
  date: string;
  state?: string;
}

/** IronLedger's own master data about each project's place in Odoo, from the allocations. */
export function projectHints(allocations: PostableAllocation[]): Map<string, ProjectHint> {
  const out = new Map<string, ProjectHint>();
  for (const a of allocations) if (a.project) out.set(a.projectId, a.project);
  return out;
}

export function targetModel(cfg: PostingConfig): 'account.analytic.line' | 'account.move' {
  return cfg.target === 'analytic' ? 'account.analytic.line' : 'account.move';
}

function chunks<T>(xs: T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

export async function postToOdoo(
  cfg: PostingConfig,
  deps: OdooPostDeps,
  allocations: PostableAllocation[],
  signal?: AbortSignal,
): Promise<PostResponse> {
  const { client, master, ledger, log } = deps;
  const model = targetModel(cfg);
  const res: PostResponse = {
    mode: 'odoo',
    api: null,
    target: cfg.target,
    considered: allocations.length,
    posted: [],
    alreadyInOdoo: [],
    held: [],
    failed: [],
    journal: null,
  };

  try {
    await client.connect({ signal });
  } catch (e) {
    if (isIronLedgerError(e, 'ODOO_AUTH')) {
      throw new IronLedgerError(
        'ODOO_AUTH',
        `posting stopped, nothing was sent: ${e.message}. Check posting.odoo.login and the API key (ODOO_API_KEY): Odoo refuses a key that is wrong, expired or revoked`,
        { cause: e },
      );
    }
    throw e;
  }
  res.api = client.api;

  // Keys must be unique in a run, or the ref lookup could not tell them apart.
  const seen = new Set<string>();
  const unique: PostableAllocation[] = [];
  for (const a of allocations) {
    if (seen.has(a.key)) {
      res.failed.push({
        id: a.id,
        code: 'CONFLICT',
        message: `allocation key ${a.key} appears twice in this run`,
        deadLettered: false,
      });
      continue;
    }
    seen.add(a.key);
    unique.push(a);
  }

  // 2. holds
  const hoursDigits = await master.hoursDigits(cfg.target, signal);
  const lock = cfg.target === 'move' ? await master.lockDate(signal) : null;
  const accounts = await master.projectAccounts(
    unique.map((a) => a.projectId),
    signal,
    projectHints(unique),
  );
  const serial = (a: PostableAllocation) => a.serialNo ?? a.unitId;
  const equipment = cfg.equipmentPlanField
    ? await master.equipmentAccounts(unique.map(serial), signal)
    : new Map<string, number | null>();
  const machines = cfg.equipmentPlanField
    ? await master.equipmentBySerial(unique.map(serial), signal)
    : new Map<string, { id: number; name: string } | null>();
  const targets = new Map<string, AnalyticTargets>();
  const ready: PostableAllocation[] = [];
  for (const a of unique) {
    const acct = accounts.get(a.projectId);
    let reason: string | null = null;
    const eq = cfg.equipmentPlanField ? equipment.get(serial(a)) : undefined;
    if (!acct?.analyticAccountId)
      reason = acct?.reason ?? `project ${a.projectId} has no analytic account in Odoo`;
    else if (a.odooEquipment === null)
      reason = `unit ${a.unitId} has no equipment in Odoo: the last master-data sync found no active maintenance.equipment with serial number "${serial(a)}" (ironledger sync)`;
    else if (cfg.equipmentPlanField && !machines.get(serial(a)))
      reason = `unit ${a.unitId} has no equipment in Odoo: no maintenance.equipment with serial number "${serial(a)}"`;
    else if (cfg.equipmentPlanField && !eq)
      reason = `unit ${a.unitId} has no Equipment-plan analytic account in Odoo (reference "${serial(a)}"); not posted on the project alone`;
    else if (lock && a.day <= lock)
      reason = `period locked in Odoo: ${a.day} is on or before the lock date ${lock}; Odoo would move the journal entry to a later date`;
    if (reason) {
      await ledger.hold(a.id, reason);
      res.held.push({ id: a.id, reason });
      log.warn({ event: 'posting.held', allocationKey: a.key, reason }, 'allocation held');
      continue;
    }
    // Clearing the note is a change (a new version): what is sent is recorded against that.
    const version = a.holdReason ? await ledger.clearHold(a) : null;
    targets.set(a.id, {
      analyticAccountId: acct?.analyticAccountId as number,
      equipment: cfg.equipmentPlanField && eq ? { field: cfg.equipmentPlanField, accountId: eq } : undefined,
    });
    ready.push(version === null ? a : { ...a, version });
  }

  const vals = (a: PostableAllocation): Record<string, unknown> => {
    const t = targets.get(a.id) as AnalyticTargets;
    if (cfg.target === 'analytic') return analyticLineVals(a, t, hoursDigits);
    if (!cfg.accounts)
      throw new IronLedgerError('CONFIG_INVALID', 'posting.accounts is required for target "move"');
    return moveVals(a, t, cfg.accounts, hoursDigits);
  };

  const lookUp = async (batch: PostableAllocation[]): Promise<Map<string, Found>> => {
    const fields = cfg.target === 'move' ? ['ref', 'date', 'state'] : ['ref', 'date'];
    const rows = await client.searchRead<Found>(model, [['ref', 'in', batch.map((a) => a.key)]], fields, {
      order: 'id',
      signal,
    });
    const map = new Map<string, Found>();
    for (const r of rows) if (!map.has(r.ref)) map.set(r.ref, r);
    return map;
  };

  /** Posts draft moves when configured; returns the date Odoo booked for each id. */
  const finishMoves = async (ids: number[]): Promise<Map<number, string>> => {
    const dates = new Map<number, string>();
    if (cfg.target !== 'move' || ids.length === 0) return dates;
    if (cfg.movePost) await client.callRecords('account.move', 'action_post', ids, {}, { signal });
    const rows = await client.read<{ id: number; date: string }>('account.move', ids, ['date'], { signal });
    for (const r of rows) dates.set(r.id, r.date);
    return dates;
  };

  const record = async (a: PostableAllocation, odooId: number, date: string, already: boolean) => {
    await ledger.markPosted(a, { model, odooId, date, alreadyInOdoo: already });
    if (already) res.alreadyInOdoo.push(a.id);
    else res.posted.push({ id: a.id, key: a.key, odooId });
    if (date !== a.day)
      log.warn(
        { event: 'posting.date_moved', allocationKey: a.key, day: a.day, odooDate: date },
        'Odoo booked a different date',
      );
  };

  const deadLetter = async (a: PostableAllocation, e: IronLedgerError) => {
    const message = String(e.details?.odooMessage || e.message);
    await ledger.deadLetter(a.id, e.code, message);
    res.failed.push({ id: a.id, code: e.code, message, deadLettered: true });
    log.error(
      { event: 'posting.dead_letter', allocationKey: a.key, code: e.code, odooMessage: message },
      'allocation dead-lettered',
    );
  };

  const fatal = (e: unknown) =>
    isIronLedgerError(e, 'ODOO_AUTH') || isIronLedgerError(e, 'ODOO_ACCESS') || !isIronLedgerError(e);

  /** Creates `batch`; on a lost answer, re-checks by ref before trying again. */
  const createBatch = async (batch: PostableAllocation[], attemptsLeft: number): Promise<void> => {
    let ids: number[];
    try {
      ids = await client.create(model, batch.map(vals), { signal });
    } catch (e) {
      if (fatal(e)) throw e;
      const err = e as IronLedgerError;
      if (err.code === 'ODOO_TRANSIENT') {
        const found = await lookUp(batch);
        const notThere = batch.filter((a) => !found.has(a.key));
        await recordFound(
          batch.filter((a) => found.has(a.key)),
          found,
        );
        if (notThere.length === 0) return;
        if (attemptsLeft > 0) return createBatch(notThere, attemptsLeft - 1);
        for (const a of notThere)
          res.failed.push({ id: a.id, code: err.code, message: err.message, deadLettered: false });
        log.warn(
          { event: 'posting.transient_failure', keys: notThere.map((a) => a.key), err: err.message },
          'left for the next run',
        );
        return;
      }
      if (batch.length > 1) {
        // Odoo rolled the whole call back: find the culprit(s) one by one.
        for (const a of batch) await createBatch([a], attemptsLeft);
        return;
      }
      await deadLetter(batch[0] as PostableAllocation, err);
      return;
    }
    let dates = new Map<number, string>();
    try {
      dates = await finishMoves(ids);
    } catch (e) {
      if (fatal(e)) throw e;
      // Created but not posted: the next run finds the drafts by ref and posts them.
      const err = toIronLedgerError(e);
      for (const a of batch)
        res.failed.push({
          id: a.id,
          code: err.code,
          message: `created in Odoo but not posted: ${err.message}`,
          deadLettered: false,
        });
      return;
    }
    for (const [i, a] of batch.entries())
      await record(a, ids[i] as number, dates.get(ids[i] as number) ?? a.day, false);
  };

  const recordFound = async (batch: PostableAllocation[], found: Map<string, Found>) => {
    if (batch.length === 0) return;
    const drafts =
      cfg.target === 'move' && cfg.movePost
        ? batch.map((a) => found.get(a.key) as Found).filter((f) => f.state === 'draft')
        : [];
    const dates = drafts.length > 0 ? await finishMoves(drafts.map((f) => f.id)) : new Map<number, string>();
    for (const a of batch) {
      const f = found.get(a.key) as Found;
      await record(a, f.id, dates.get(f.id) ?? f.date, true);
    }
  };

  const attempts = cfg.odoo?.retries ?? 2;
  for (const batch of chunks(ready, cfg.batchSize)) {
    if (signal?.aborted) break;
    // 3. look up by ref before creating
    const found = await lookUp(batch);
    await recordFound(
      batch.filter((a) => found.has(a.key)),
      found,
    );
    const toCreate = batch.filter((a) => !found.has(a.key));
    // 4. create
    if (toCreate.length > 0) await createBatch(toCreate, attempts);
  }
  log.info(
    {
      event: 'posting.run',
      api: res.api,
      target: cfg.target,
      considered: res.considered,
      posted: res.posted.length,
      alreadyInOdoo: res.alreadyInOdoo.length,
      held: res.held.length,
      failed: res.failed.length,
    },
    'posting run finished',
  );
  return res;
}
