/**
 * The poster: sends approved allocations to Odoo exactly once, or, with no Odoo configured
 * (or `dryRun`), writes the calls it would make to the dry-run journal.
 */
import type { PostResponse, ReconcileResponse } from '@ironledger/contracts';
import { IronLedgerError } from '@ironledger/errors';
import type { Logger } from '@ironledger/logger';
import type { PostingConfig } from './config.js';
import { DryRunJournal, executeKwRequest, type JournalEntry } from './journal.js';
import type { PostableAllocation, Poster, PostingLedger } from './types.js';
import { type AnalyticTargets, analyticLineVals, moveVals } from './vals.js';

export interface PosterDeps {
  logger: Logger;
  ledger: PostingLedger;
  /** Clock for journal timestamps; tests pass a fixed one. */
  now?: () => Date;
}

const UID_PLACEHOLDER = '<uid>';
const DB_PLACEHOLDER = '<db>';

export function createPoster(cfg: PostingConfig, deps: PosterDeps): Poster {
  const log = deps.logger.child({ component: 'poster' });
  const now = deps.now ?? (() => new Date());
  const journal = new DryRunJournal(cfg.journalPath);

  function dryRunTargets(a: PostableAllocation): AnalyticTargets {
    const acct = cfg.projects[a.projectId]?.analyticAccountId;
    return { analyticAccountId: acct ?? `<analytic-account-of:${a.projectId}>` };
  }

  function journalEntry(a: PostableAllocation): JournalEntry {
    const db = cfg.odoo?.db ?? DB_PLACEHOLDER;
    const t = dryRunTargets(a);
    const base = { ts: now().toISOString(), allocationKey: a.key, allocationId: a.id };
    if (cfg.target === 'analytic') {
      return { ...base, call: executeKwRequest(db, UID_PLACEHOLDER, 'account.analytic.line', 'create', [[analyticLineVals(a, t)]]) };
    }
    const acc = cfg.accounts ?? {
      expenseAccountId: '<expense-account>',
      recoveryAccountId: '<recovery-account>',
      journalId: '<journal>',
    };
    const entry: JournalEntry = {
      ...base,
      call: executeKwRequest(db, UID_PLACEHOLDER, 'account.move', 'create', [[moveVals(a, t, acc)]]),
    };
    if (cfg.movePost) entry.then = [executeKwRequest(db, UID_PLACEHOLDER, 'account.move', 'action_post', [['<created-id>']])];
    return entry;
  }

  async function dryRun(allocations: PostableAllocation[], markPosted: boolean): Promise<PostResponse> {
    const model = cfg.target === 'analytic' ? 'account.analytic.line' : 'account.move';
    const res: PostResponse = {
      mode: 'dry-run',
      api: null,
      target: cfg.target,
      considered: allocations.length,
      posted: [],
      alreadyInOdoo: [],
      held: [],
      failed: [],
      journal: journal.path,
    };
    const known = journal.loadKeys();
    const fresh = allocations.filter((a) => !known.has(a.key));
    journal.append(fresh.map(journalEntry));
    for (const a of allocations) {
      const already = known.has(a.key);
      if (markPosted) deps.ledger.markPosted(a.id, { model, odooId: null, date: a.day, alreadyInOdoo: already });
      if (already) res.alreadyInOdoo.push(a.id);
      else res.posted.push({ id: a.id, key: a.key, odooId: null });
    }
    log.info({ event: 'posting.dry_run', journal: journal.path, written: res.posted.length, known: res.alreadyInOdoo.length }, 'dry run journalled');
    return res;
  }

  return {
    async post(allocations, opts = {}) {
      if (!cfg.odoo) return dryRun(allocations, true);
      // A preview against a configured Odoo changes nothing: allocations stay approved.
      if (opts.dryRun) return dryRun(allocations, false);
      throw new IronLedgerError('ODOO_PROTOCOL', 'posting to Odoo is not available yet');
    },
    async reconcile(period): Promise<ReconcileResponse> {
      if (!cfg.odoo) return { period, currency: 'USD', rows: [], differences: [] };
      throw new IronLedgerError('ODOO_PROTOCOL', 'reconciliation against Odoo is not available yet');
    },
    async close() {},
  };
}
