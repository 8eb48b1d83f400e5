/**
 * Master data read from Odoo (Odoo owns it): each project's analytic account, the units'
 * Equipment-plan analytic accounts and maintenance.equipment by serial number, and the
 * company's lock date.
 *
 * Freshness: what was found is cached for `masterDataRefreshMs`; what was *not* found (a
 * project with no analytic account, a unit with no Equipment account) is asked again on every
 * run, because that is what an operator fixes in Odoo before posting again. The lock date is
 * read on every run: a stale one would let Odoo silently re-date an entry (README, lock dates).
 */
import type { OdooClient } from '@ironledger/odoo';
import type { PostingConfig } from './config.js';
import type { ProjectHint } from './types.js';

interface Cached<T> {
  at: number;
  value: T;
}

export interface ProjectAccount {
  analyticAccountId: number | null;
  /** Why there is none, for the hold reason. */
  reason?: string;
}

export class MasterData {
  private projects = new Map<string, Cached<ProjectAccount>>();
  private equipmentAccountCache = new Map<string, Cached<number | null>>();
  private equipment = new Map<string, Cached<{ id: number; name: string } | null>>();
  private projectAccountField: string | null = null;

  constructor(
    private readonly client: OdooClient,
    private readonly cfg: PostingConfig,
    private readonly now: () => number = Date.now,
  ) {}

  private fresh<T>(c: Cached<T> | null | undefined): c is Cached<T> {
    return c !== null && c !== undefined && this.now() - c.at < this.cfg.masterDataRefreshMs;
  }

  /** The latest of the company's global and hard lock dates, or null; read from Odoo every time. */
  async lockDate(signal?: AbortSignal): Promise<string | null> {
    const rows = await this.client.searchRead<{
      fiscalyear_lock_date: string | false;
      hard_lock_date?: string | false;
    }>('res.company', [], ['fiscalyear_lock_date', 'hard_lock_date'], { limit: 1, order: 'id', signal });
    const r = rows[0];
    const dates = r
      ? [r.fiscalyear_lock_date, r.hard_lock_date].filter(
          (d): d is string => typeof d === 'string' && d > '1-01-01',
        )
      : [];
    return dates.sort().at(-1) ?? null;
  }

  /**
   * The decimals Odoo keeps of the field that carries the hours: `quantity` of a journal item
   * ("Product Unit" precision), `unit_amount` of an analytic line. Read on every run, so a
   * precision raised in Odoo (Settings → Technical → Decimal Accuracy) applies at once.
   * null: the field reports no digits and keeps what it is sent.
   */
  async hoursDigits(target: 'analytic' | 'move', signal?: AbortSignal): Promise<number | null> {
    const [model, field] =
      target === 'move' ? ['account.move.line', 'quantity'] : ['account.analytic.line', 'unit_amount'];
    const fields = await this.client.call(
      model,
      'fields_get',
      [[field]],
      { attributes: ['type', 'digits'] },
      { signal },
    );
    const digits = (fields as Record<string, { digits?: unknown }>)[field]?.digits;
    return Array.isArray(digits) && typeof digits[1] === 'number' ? digits[1] : null;
  }

  /**
   * project.project's analytic account field is `account_id` on Odoo 18+, `analytic_account_id`
   * before: ask fields_get rather than assume.
   */
  async projectAccountFieldName(signal?: AbortSignal): Promise<string> {
    return this.accountField(signal);
  }

  private async accountField(signal?: AbortSignal): Promise<string> {
    if (this.projectAccountField) return this.projectAccountField;
    const fields = await this.client.fieldsGet('project.project', ['type', 'relation'], { signal });
    const candidates = ['account_id', 'analytic_account_id'];
    const found = candidates.find((f) => fields[f]?.relation === 'account.analytic.account') ?? 'account_id';
    this.projectAccountField = found;
    return found;
  }

  /**
   * Analytic accounts for projects, first match wins: the account IronLedger's master data
   * names (`hints`, set with `ironledger projects add --analytic-account`), the one in
   * `posting.projects`, the account of the Odoo project IronLedger's master data names by id,
   * else the account of the Odoo project found by name: the project's name in IronLedger
   * (`ironledger projects add --name`, "as in Odoo"), else `posting.projects.*.odooProjectName`,
   * else the IronLedger project id.
   */
  async projectAccounts(
    projectIds: string[],
    signal?: AbortSignal,
    hints: ReadonlyMap<string, ProjectHint> = new Map(),
  ): Promise<Map<string, ProjectAccount>> {
    const out = new Map<string, ProjectAccount>();
    const byId: Array<{ projectId: string; odooId: number }> = [];
    const byName: Array<{ projectId: string; name: string }> = [];
    for (const p of new Set(projectIds)) {
      const hint = hints.get(p);
      const conf = this.cfg.projects[p];
      const explicit = hint?.analyticAccountId ?? conf?.analyticAccountId;
      if (explicit) {
        out.set(p, { analyticAccountId: explicit });
        continue;
      }
      const c = this.projects.get(p);
      if (this.fresh(c) && c.value.analyticAccountId !== null) out.set(p, c.value);
      else if (hint?.odooProjectId) byId.push({ projectId: p, odooId: hint.odooProjectId });
      else byName.push({ projectId: p, name: conf?.odooProjectName ?? hint?.name ?? p });
    }
    if (byId.length === 0 && byName.length === 0) return out;
    const field = await this.accountField(signal);
    const found = (
      projectId: string,
      label: string,
      matches: Array<Record<string, unknown>>,
    ): ProjectAccount => {
      if (matches.length === 0)
        return {
          analyticAccountId: null,
          reason: `project ${label} (${projectId}) not found in Odoo project.project`,
        };
      if (matches.length > 1)
        return {
          analyticAccountId: null,
          reason: `project name ${label} (${projectId}) is ambiguous in Odoo: ${matches.length} projects`,
        };
      const acct = matches[0]?.[field];
      return Array.isArray(acct) && typeof acct[0] === 'number'
        ? { analyticAccountId: acct[0] }
        : {
            analyticAccountId: null,
            reason: `Odoo project ${label} (${projectId}) has no analytic account (${field})`,
          };
    };
    const remember = (projectId: string, value: ProjectAccount) => {
      this.projects.set(projectId, { at: this.now(), value });
      out.set(projectId, value);
    };
    if (byId.length > 0) {
      const rows = await this.client.searchRead<Record<string, unknown> & { id: number }>(
        'project.project',
        [['id', 'in', byId.map((x) => x.odooId)]],
        ['name', field],
        { signal },
      );
      for (const { projectId, odooId } of byId)
        remember(
          projectId,
          found(
            projectId,
            `#${odooId}`,
            rows.filter((r) => r.id === odooId),
          ),
        );
    }
    if (byName.length > 0) {
      const rows = await this.client.searchRead<Record<string, unknown> & { name: string }>(
        'project.project',
        [['name', 'in', byName.map((x) => x.name)]],
        ['name', field],
        { signal },
      );
      for (const { projectId, name } of byName)
        remember(
          projectId,
          found(
            projectId,
            `"${name}"`,
            rows.filter((r) => r.name === name),
          ),
        );
    }
    return out;
  }

  /** Equipment-plan analytic accounts, matched by their reference (`code`) = serial number or unit id. */
  async equipmentAccounts(codes: string[], signal?: AbortSignal): Promise<Map<string, number | null>> {
    const out = new Map<string, number | null>();
    const missing = [...new Set(codes)].filter((c) => {
      const e = this.equipmentAccountCache.get(c);
      const hit = this.fresh(e) && e.value !== null;
      if (hit) out.set(c, e.value);
      return !hit;
    });
    if (missing.length > 0) {
      const rows = await this.client.searchRead<{ id: number; code: string | false }>(
        'account.analytic.account',
        [['code', 'in', missing]],
        ['code'],
        { signal },
      );
      for (const c of missing) {
        const id = rows.find((r) => r.code === c)?.id ?? null;
        this.equipmentAccountCache.set(c, { at: this.now(), value: id });
        out.set(c, id);
      }
    }
    return out;
  }

  /** maintenance.equipment by serial number. */
  async equipmentBySerial(
    serials: string[],
    signal?: AbortSignal,
  ): Promise<Map<string, { id: number; name: string } | null>> {
    const out = new Map<string, { id: number; name: string } | null>();
    const missing = [...new Set(serials)].filter((s) => {
      const e = this.equipment.get(s);
      const hit = this.fresh(e) && e.value !== null;
      if (hit) out.set(s, e.value);
      return !hit;
    });
    if (missing.length > 0) {
      const rows = await this.client.searchRead<{ id: number; name: string; serial_no: string }>(
        'maintenance.equipment',
        [['serial_no', 'in', missing]],
        ['name', 'serial_no'],
        { signal },
      );
      for (const s of missing) {
        const r = rows.find((x) => x.serial_no === s);
        const v = r ? { id: r.id, name: r.name } : null;
        this.equipment.set(s, { at: this.now(), value: v });
        out.set(s, v);
      }
    }
    return out;
  }

  /** Project id for an analytic account id (for records Odoo has and we do not). */
  projectForAccount(accountId: number): string | undefined {
    for (const [p, c] of this.projects) if (c.value.analyticAccountId === accountId) return p;
    for (const [p, conf] of Object.entries(this.cfg.projects))
      if (conf.analyticAccountId === accountId) return p;
    return undefined;
  }
}
