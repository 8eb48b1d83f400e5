/**
 * Master data read from Odoo (Odoo owns it): each project's analytic account, the units'
 * Equipment-plan analytic accounts and maintenance.equipment by serial number, and the
 * company's lock date. Cached for `refreshMs`; a refresh re-reads everything.
 */
import type { OdooClient } from '@ironledger/odoo';
import type { PostingConfig } from './config.js';

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
  private lock: Cached<string | null> | null = null;
  private projectAccountField: string | null = null;

  constructor(
    private readonly client: OdooClient,
    private readonly cfg: PostingConfig,
    private readonly now: () => number = Date.now,
  ) {}

  private fresh<T>(c: Cached<T> | null | undefined): c is Cached<T> {
    return c !== null && c !== undefined && this.now() - c.at < this.cfg.masterDataRefreshMs;
  }

  /** The latest of the company's global and hard lock dates, or null. */
  async lockDate(signal?: AbortSignal): Promise<string | null> {
    if (this.fresh(this.lock)) return this.lock.value;
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
    const value = dates.sort().at(-1) ?? null;
    this.lock = { at: this.now(), value };
    return value;
  }

  /**
   * project.project's analytic account field is `account_id` on Odoo 18+, `analytic_account_id`
   * before: ask fields_get rather than assume.
   */
  private async accountField(signal?: AbortSignal): Promise<string> {
    if (this.projectAccountField) return this.projectAccountField;
    const fields = await this.client.fieldsGet('project.project', ['type', 'relation'], { signal });
    const candidates = ['account_id', 'analytic_account_id'];
    const found = candidates.find((f) => fields[f]?.relation === 'account.analytic.account') ?? 'account_id';
    this.projectAccountField = found;
    return found;
  }

  /** Analytic accounts for projects: from config, else project.project by name. */
  async projectAccounts(projectIds: string[], signal?: AbortSignal): Promise<Map<string, ProjectAccount>> {
    const out = new Map<string, ProjectAccount>();
    const toLookUp: Array<{ projectId: string; name: string }> = [];
    for (const p of new Set(projectIds)) {
      const conf = this.cfg.projects[p];
      if (conf?.analyticAccountId) {
        out.set(p, { analyticAccountId: conf.analyticAccountId });
        continue;
      }
      const c = this.projects.get(p);
      if (this.fresh(c)) out.set(p, c.value);
      else toLookUp.push({ projectId: p, name: conf?.odooProjectName ?? p });
    }
    if (toLookUp.length > 0) {
      const field = await this.accountField(signal);
      const rows = await this.client.searchRead<Record<string, unknown> & { name: string }>(
        'project.project',
        [['name', 'in', toLookUp.map((x) => x.name)]],
        ['name', field],
        { signal },
      );
      for (const { projectId, name } of toLookUp) {
        const matches = rows.filter((r) => r.name === name);
        let value: ProjectAccount;
        if (matches.length === 0)
          value = {
            analyticAccountId: null,
            reason: `project "${name}" (${projectId}) not found in Odoo project.project`,
          };
        else if (matches.length > 1)
          value = {
            analyticAccountId: null,
            reason: `project name "${name}" (${projectId}) is ambiguous in Odoo: ${matches.length} projects`,
          };
        else {
          const acct = matches[0]?.[field];
          value =
            Array.isArray(acct) && typeof acct[0] === 'number'
              ? { analyticAccountId: acct[0] }
              : {
                  analyticAccountId: null,
                  reason: `Odoo project "${name}" (${projectId}) has no analytic account (${field})`,
                };
        }
        this.projects.set(projectId, { at: this.now(), value });
        out.set(projectId, value);
      }
    }
    return out;
  }

  /** Equipment-plan analytic accounts, matched by their reference (`code`) = serial number or unit id. */
  async equipmentAccounts(codes: string[], signal?: AbortSignal): Promise<Map<string, number | null>> {
    const out = new Map<string, number | null>();
    const missing = [...new Set(codes)].filter((c) => {
      const e = this.equipmentAccountCache.get(c);
      if (this.fresh(e)) out.set(c, e.value);
      return !this.fresh(e);
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
      if (this.fresh(e)) out.set(s, e.value);
      return !this.fresh(e);
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
