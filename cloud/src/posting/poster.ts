/**
 * The poster: sends approved allocations to Odoo exactly once, or, with no Odoo configured
 * (or `dryRun`), writes the calls it would make to the dry-run journal.
 *
 * A dry run is a preview and never consumes an allocation: with no Odoo configured and with
 * `--dry-run` alike, the journal gets the exact calls (once per key) and every allocation stays
 * approved, so configuring Odoo later and posting sends them.
 */
import type { PostResponse, ReconcileResponse } from '@ironledger/contracts';
import { IronLedgerError, toIronLedgerError } from '@ironledger/errors';
import type { Logger } from '@ironledger/logger';
import { OdooClient } from '@ironledger/odoo';
import { decimalToMinor, toMilliHours } from '../allocation/money.js';
import type { PostingConfig } from './config.js';
import { DryRunJournal, executeKwRequest, type JournalEntry } from './journal.js';
import { MasterData } from './master-data.js';
import { postToOdoo } from './odoo-poster.js';
import { syncFromOdoo } from './odoo-sync.js';
import { compare, type RemoteFigure, reconcileWithOdoo } from './reconcile.js';
import type { PostableAllocation, Poster, PostingLedger } from './types.js';
import { type AnalyticTargets, analyticLineVals, moveVals } from './vals.js';

export interface PosterDeps {
  logger: Logger;
  ledger: PostingLedger;
  /** Clock for journal timestamps and master-data freshness; tests pass a fixed one. */
  now?: () => Date;
  /** Overrides for the Odoo client (tests: fast retries). */
  clientOptions?: Partial<ConstructorParameters<typeof OdooClient>[0]>;
}

const UID_PLACEHOLDER = '<uid>';
const DB_PLACEHOLDER = '<db>';

export function createPoster(cfg: PostingConfig, deps: PosterDeps): Poster {
  const log = deps.logger.child({ component: 'poster' });
  const now = deps.now ?? (() => new Date());
  const journal = new DryRunJournal(cfg.journalPath);

  function dryRunTargets(a: PostableAllocation): AnalyticTargets {
    const acct = cfg.projects[a.projectId]?.analyticAccountId;
    const rental = cfg.target === 'move' && cfg.accounts?.equipmentRevenueAccountId && cfg.equipmentPlanField;
    return {
      analyticAccountId: acct ?? `<analytic-account-of:${a.projectId}>`,
      // Internal rental: the credit side names the unit's Equipment-plan account to be looked up.
      equipment: rental
        ? {
            field: cfg.equipmentPlanField as string,
            accountId: `<equipment-account-of:${a.serialNo ?? a.unitId}>`,
          }
        : undefined,
    };
  }

  function journalEntry(a: PostableAllocation): JournalEntry {
    const db = cfg.odoo?.db ?? DB_PLACEHOLDER;
    const t = dryRunTargets(a);
    const base = { ts: now().toISOString(), allocationKey: a.key, allocationId: a.id };
    if (cfg.target === 'analytic') {
      return {
        ...base,
        call: executeKwRequest(db, UID_PLACEHOLDER, 'account.analytic.line', 'create', [
          [analyticLineVals(a, t)],
        ]),
      };
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
    if (cfg.movePost)
      entry.followUp = [
        executeKwRequest(db, UID_PLACEHOLDER, 'account.move', 'action_post', [['<created-id>']]),
      ];
    return entry;
  }

  /** Journals the calls posting would make (a key once); records nothing in the ledger. */
  async function dryRun(allocations: PostableAllocation[]): Promise<PostResponse> {
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
    const written = new Set(journal.append(fresh.map(journalEntry)));
    for (const a of allocations) if (written.has(a.key)) await deps.ledger.journalled?.(a.id, a.key);
    for (const a of allocations) {
      const already = known.has(a.key);
      if (already) res.alreadyInOdoo.push(a.id);
      else res.posted.push({ id: a.id, key: a.key, odooId: null });
    }
    log.info(
      {
        event: 'posting.dry_run',
        journal: journal.path,
        written: res.posted.length,
        known: res.alreadyInOdoo.length,
      },
      'dry run journalled',
    );
    return res;
  }

  /** What the dry-run journal says was sent, as reconciliation's remote side. */
  function journalFigures(currency: string): RemoteFigure[] {
    const out: RemoteFigure[] = [];
    for (const e of journal.entries()) {
      const args = (e.call as { params?: { args?: unknown[] } }).params?.args ?? [];
      const v = ((args[5] as unknown[][] | undefined)?.[0]?.[0] ?? {}) as Record<string, unknown>;
      let amountMinor: number;
      let hours: number;
      if (args[3] === 'account.move') {
        const line = ((v.line_ids as unknown[][] | undefined)?.[0]?.[2] ?? {}) as Record<string, number>;
        amountMinor = decimalToMinor((line.debit ?? 0) - (line.credit ?? 0), currency);
        hours = line.quantity ?? 0;
      } else {
        amountMinor = decimalToMinor(-Number(v.amount ?? 0), currency);
        hours = Number(v.unit_amount ?? 0);
      }
      out.push({
        key: e.allocationKey,
        projectId: null,
        amountMinor,
        milliHours: toMilliHours(hours),
        date: String(v.date ?? ''),
        count: 1,
      });
    }
    return out;
  }

  let client: OdooClient | null = null;
  let master: MasterData | null = null;
  function odoo(): { client: OdooClient; master: MasterData } {
    const o = cfg.odoo;
    if (!o) throw new Error('odoo is not configured');
    if (!client || !master) {
      client = new OdooClient({
        url: o.url,
        db: o.db,
        login: o.login,
        apiKey: o.apiKey,
        api: o.api,
        timeoutMs: o.timeoutMs,
        retries: o.retries,
        logger: log,
        ...deps.clientOptions,
      });
      master = new MasterData(client, cfg, () => now().getTime());
    }
    return { client, master };
  }

  return {
    async post(allocations, opts = {}) {
      // Without Odoo, or asked for a preview: the journal, and allocations stay approved.
      if (!cfg.odoo || opts.dryRun) return dryRun(allocations);
      return postToOdoo(cfg, { ...odoo(), ledger: deps.ledger, log }, allocations, opts.signal);
    },
    async reconcile(period, local): Promise<ReconcileResponse> {
      if (!cfg.odoo) return compare(period, local, journalFigures(local[0]?.currency ?? 'USD'));
      return reconcileWithOdoo(cfg, odoo(), period, local);
    },
    async odooStatus(signal) {
      const o = cfg.odoo;
      const none = { apiKeyName: null, apiKeyExpiresAt: null, daysLeft: null };
      if (!o) return { configured: false, ...none, warning: null };
      // Asked on every `ironledger status`: a slow or unreachable Odoo must not hold it up.
      signal ??= AbortSignal.timeout(5_000); // 5 s
      try {
        const { client: c } = odoo();
        const { uid } = await c.connect({ signal });
        const keys = await c.searchRead<{ name: string; expiration_date: string | false }>(
          'res.users.apikeys',
          [['user_id', '=', uid]],
          ['name', 'expiration_date'],
          { order: 'id', signal },
        );
        const named = o.apiKeyName ? keys.filter((k) => k.name === o.apiKeyName) : keys;
        const expiring = named
          .filter(
            (k): k is { name: string; expiration_date: string } => typeof k.expiration_date === 'string',
          )
          .sort((x, y) => x.expiration_date.localeCompare(y.expiration_date));
        const key = expiring[0] ?? named[0];
        if (!key) return { configured: true, ...none, warning: null };
        const exp = typeof key.expiration_date === 'string' ? key.expiration_date : null;
        const daysLeft =
          exp === null
            ? null
            : Math.floor((Date.parse(`${exp.replace(' ', 'T')}Z`) - now().getTime()) / 86_400_000);
        const warning =
          daysLeft !== null && daysLeft < o.apiKeyWarnDays
            ? `the Odoo API key "${key.name}" expires on ${exp} UTC (${daysLeft} day${daysLeft === 1 ? '' : 's'} left): make a new one and set ODOO_API_KEY before then, or posting stops`
            : null;
        return { configured: true, apiKeyName: key.name, apiKeyExpiresAt: exp, daysLeft, warning };
      } catch (e) {
        const err = toIronLedgerError(e);
        return {
          configured: true,
          ...none,
          warning:
            err.code === 'ODOO_AUTH'
              ? 'Odoo refuses the API key (wrong, expired or revoked): posting is stopped until ODOO_API_KEY is replaced'
              : `Odoo could not be asked about the API key: ${err.message}`,
        };
      }
    },
    async syncMasterData(mirror, masterData, signal) {
      if (!cfg.odoo)
        throw new IronLedgerError(
          'CONFLICT',
          'no Odoo is configured (posting.odoo / ODOO_URL): there is no master data to read',
        );
      const o = odoo();
      await o.client.connect({ signal });
      const projectAccountField = await o.master.projectAccountFieldName(signal);
      const res = await syncFromOdoo(o.client, mirror, masterData, { signal, projectAccountField });
      log.info(
        {
          event: 'master_data.synced',
          equipmentRead: res.equipment.read,
          equipmentAdded: res.equipment.added.length,
          equipmentChanged: res.equipment.changed.length,
          projectsRead: res.projects.read,
          projectsAdded: res.projects.added.length,
          projectsChanged: res.projects.changed.length,
          unmatchedUnits: res.unmatched.units.length,
        },
        'master data read from Odoo',
      );
      return res;
    },
    async close() {
      await client?.close();
      client = null;
      master = null;
    },
  };
}
