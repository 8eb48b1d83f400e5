/**
 * The Odoo the double pretends to be: Odoo 19 Community with account, analytic, project
 * (hr_timesheet) and maintenance, a generic chart of accounts in USD, user admin (uid 2), and
 * the accounting behaviours IronLedger depends on:
 * - a draft journal entry has no name and no analytic lines; `action_post` names it
 *   `<JOURNAL>/<YYYY>/<MM>/<NNNN>` and generates one analytic line per analytic account in
 *   each line's `analytic_distribution`, with `unit_amount` = the line's `quantity`;
 * - posting an entry dated inside the lock period silently moves its date to today (or the
 *   day after the lock); changing or deleting a posted entry there raises UserError;
 * - a posted entry can't be deleted; reversals post at once with the opposite amounts;
 * - a new project gets a Project-plan analytic account; a new root plan adds an
 *   `x_plan<N>_id` column to analytic lines.
 *
 * Not in the recordings, and answered as Odoo's code does it (IronLedger's internal rental
 * relies on these): a credit line with an `analytic_distribution` (the transcripts only
 * distribute a debit line, 21 and 124), a distribution key naming one account of a non-first
 * plan alone (`{"2": 100}`: its analytic line has `account_id` false), and the generated
 * line's `amount` = −balance × percentage (positive for a credit).
 */
import { randomBytes } from 'node:crypto';
import { ANALYTIC_LINE_FIELDS, COMPANY_LOCK_FIELDS } from './field-meta.js';
import {
  accessError,
  Db,
  type FieldDef,
  OdooFault,
  type Rec,
  userError,
  validationError,
  valueError,
} from './orm.js';

export const ANALYTIC_GROUP_ID = 18;
export const ADMIN_UID = 2;

export interface WorldOptions {
  db: string;
  login: string;
  password: string;
  apiKey: string;
  /** The server's "today" (YYYY-MM-DD); defaults to the UTC date of the call. */
  today?: string | (() => string);
  /** Give admin the Analytic Accounting group from the start (a fresh database has not). */
  analyticGroup?: boolean;
  /** The server's clock for `write_date` (UTC "YYYY-MM-DD HH:MM:SS"); default the real clock. */
  now?: string | (() => string);
  /** Records the database holds from the start, beyond a fresh database's (see seeds.ts). */
  seed?: OdooSeed;
  /** The API key's res.users.apikeys.expiration_date (UTC "YYYY-MM-DD HH:MM:SS"); none by default. */
  apiKeyExpiresAt?: string;
}

/** A database's starting state: records with fixed ids, in the order they are stored. */
export interface OdooSeed {
  /** Give admin the Analytic Accounting group. */
  analyticGroup?: boolean;
  records: Array<{ model: string; values: Rec }>;
}

export interface MethodContext {
  world: OdooWorld;
  model: string;
  ids: number[];
  args: Record<string, unknown>;
  context: Record<string, unknown>;
}

export interface MethodSpec {
  params: string[];
  /** Parameters without a default (reported as missing when absent). */
  required: string[];
  /** Called on records: the first positional argument (execute_kw) or `ids` (/json/2). */
  record?: boolean;
  run(ctx: MethodContext): unknown;
}

const GENERIC: Record<string, MethodSpec> = {
  search_read: {
    params: ['domain', 'fields', 'offset', 'limit', 'order'],
    required: [],
    run: ({ world, model, args }) =>
      world.db.read(
        model,
        world.db.search(model, asDomain(args.domain), searchOpts(args)),
        (args.fields as string[] | undefined) ?? undefined,
      ),
  },
  search: {
    params: ['domain', 'offset', 'limit', 'order'],
    required: ['domain'],
    run: ({ world, model, args }) =>
      world.db.search(model, asDomain(args.domain), searchOpts(args)).map((r) => r.id),
  },
  search_count: {
    params: ['domain', 'limit'],
    required: ['domain'],
    run: ({ world, model, args }) => world.db.search(model, asDomain(args.domain)).length,
  },
  read: {
    params: ['fields', 'load'],
    required: [],
    record: true,
    run: ({ world, model, ids, args }) =>
      world.db.read(model, world.db.browse(model, ids), (args.fields as string[] | undefined) ?? undefined),
  },
  create: {
    params: ['vals_list'],
    required: ['vals_list'],
    run: ({ world, model, args }) => {
      const single = !Array.isArray(args.vals_list);
      const list = (single ? [args.vals_list] : args.vals_list) as Array<Record<string, unknown>>;
      // One call is one transaction: a bad record fails the batch and none of it stays,
      // though the ids handed out are used up (168–171).
      world.db.begin();
      try {
        const ids = list.map((v) => world.create(model, v ?? {}).id);
        world.db.commit();
        return single ? ids[0] : ids;
      } catch (e) {
        world.db.rollback();
        throw e;
      }
    },
  },
  write: {
    params: ['vals'],
    required: ['vals'],
    record: true,
    run: ({ world, model, ids, args }) => {
      world.write(model, ids, (args.vals ?? {}) as Record<string, unknown>);
      return true;
    },
  },
  unlink: {
    params: [],
    required: [],
    record: true,
    run: ({ world, model, ids }) => {
      world.unlink(model, ids);
      return true;
    },
  },
  fields_get: {
    params: ['allfields', 'attributes'],
    required: [],
    run: ({ world, model, args }) =>
      world.fieldsGet(model, args.allfields as string[] | undefined, args.attributes as string[] | undefined),
  },
  formatted_read_group: {
    params: ['domain', 'groupby', 'aggregates', 'having', 'offset', 'limit', 'order'],
    required: ['domain'],
    run: ({ world, model, args }) =>
      world.formattedReadGroup(model, asDomain(args.domain), asList(args.groupby), asList(args.aggregates)),
  },
  read_group: {
    params: ['domain', 'fields', 'groupby', 'offset', 'limit', 'orderby', 'lazy'],
    required: ['domain', 'fields', 'groupby'],
    run: ({ world, model, args }) =>
      world.readGroup(
        model,
        asDomain(args.domain),
        asList(args.fields),
        asList(args.groupby),
        args.lazy !== false,
      ),
  },
};

const SPECIFIC: Record<string, Record<string, MethodSpec>> = {
  'account.move': {
    action_post: {
      params: [],
      required: [],
      record: true,
      run: ({ world, ids }) => {
        world.postMoves(ids);
        return false;
      },
    },
    button_draft: {
      params: [],
      required: [],
      record: true,
      run: ({ world, ids }) => {
        world.draftMoves(ids);
        return false;
      },
    },
  },
  'account.move.reversal': {
    reverse_moves: {
      params: ['is_modify'],
      required: [],
      record: true,
      run: ({ world, ids }) => world.reverseMoves(ids),
    },
  },
  'res.users.apikeys.description': {
    make_key: {
      params: [],
      required: [],
      record: true,
      run: ({ world }) => {
        const check = world.db.insert('res.users.identitycheck', {});
        return {
          type: 'ir.actions.act_window',
          res_model: 'res.users.identitycheck',
          res_id: check.id,
          name: 'Access Control',
          target: 'new',
          views: [[false, 'form']],
          context: { dialog_size: 'medium' },
        };
      },
    },
  },
  'res.users.identitycheck': {
    run_check: {
      params: [],
      required: [],
      record: true,
      run: ({ world, context }) => {
        if (context.password !== world.opts.password)
          throw userError(
            'Incorrect Password, try again or click on Forgot Password to reset your password.',
          );
        const key = randomBytes(20).toString('hex');
        world.apiKeys.add(key);
        return {
          type: 'ir.actions.act_window',
          res_model: 'res.users.apikeys.show',
          name: 'API Key Ready',
          views: [[false, 'form']],
          target: 'new',
          context: { default_key: key },
        };
      },
    },
  },
};

export class OdooWorld {
  readonly db: Db;
  readonly apiKeys = new Set<string>();
  /** The res.users.apikeys record of each key that has one (expiry, revocation by unlink). */
  readonly apiKeyRecords = new Map<string, number>();
  private readonly moveSeq = new Map<string, number>();

  constructor(readonly opts: WorldOptions) {
    const today = opts.today;
    const now = opts.now;
    this.db = new Db(
      typeof today === 'function' ? today : () => today ?? new Date().toISOString().slice(0, 10),
      typeof now === 'function'
        ? now
        : now !== undefined
          ? () => now
          : () => new Date().toISOString().slice(0, 19).replace('T', ' '),
    );
    this.apiKeys.add(opts.apiKey);
    defineModels(this);
    seed(this, opts.analyticGroup ?? opts.seed?.analyticGroup ?? false);
    if (opts.seed) applySeed(this, opts.seed);
    const keyRec = this.db.insert('res.users.apikeys', {
      name: 'IronLedger',
      user_id: ADMIN_UID,
      scope: false,
      expiration_date: opts.apiKeyExpiresAt ?? false,
    });
    this.apiKeyRecords.set(opts.apiKey, keyRec.id);
  }

  today(): string {
    return this.db.today();
  }

  /** A method of a model, or an Odoo-like error. */
  method(model: string, name: string): MethodSpec {
    if (name.startsWith('_'))
      throw accessError(`Private methods (such as '${model}.${name}') cannot be called remotely.`);
    this.db.model(model);
    const m = SPECIFIC[model]?.[name] ?? GENERIC[name];
    if (!m)
      throw new OdooFault(
        'builtins.AttributeError',
        `The method '${name}' does not exist on the model '${model}'`,
        404,
      );
    return m;
  }

  authPassword(login: string, password: string): number | false {
    if (login !== this.opts.login) return false;
    return password === this.opts.password || this.keyValid(password) ? ADMIN_UID : false;
  }

  /** An API key Odoo accepts: issued, not revoked (its record unlinked), not past its expiry. */
  keyValid(key: string): boolean {
    if (!this.apiKeys.has(key)) return false;
    const id = this.apiKeyRecords.get(key);
    if (id === undefined) return true;
    const rec = this.db.tables.get('res.users.apikeys')?.get(id);
    if (!rec) return false;
    const exp = rec.expiration_date;
    return !(typeof exp === 'string' && exp <= this.db.now());
  }

  create(model: string, vals: Record<string, unknown>): Rec {
    if (model === 'account.move') return this.createMove(vals);
    return this.db.insert(model, vals);
  }

  write(model: string, ids: number[], vals: Record<string, unknown>): void {
    const recs = this.db.browse(model, ids);
    if (model === 'account.move') {
      for (const r of recs) {
        if (r.state === 'posted') this.checkLock(String(r.date));
      }
      for (const r of recs) {
        if (r.state === 'posted' && 'line_ids' in vals)
          throw userError('You cannot modify the following readonly fields on a posted move: line_ids');
      }
    }
    if (model === 'account.move.line' && ('debit' in vals || 'credit' in vals)) {
      // A posted entry must stay balanced line by line: a one-sided amount edit fails (140–141).
      for (const r of recs) {
        const move = this.db.get('account.move', r.move_id as number);
        if (move?.state !== 'posted') continue;
        const cents = (x: unknown) => Math.round(((x as number) ?? 0) * 100);
        let balance = 0;
        for (const l of this.moveLines(move.id)) {
          const v = l.id === r.id ? { ...l, ...vals } : l;
          balance += cents(v.debit) - cents(v.credit);
        }
        if (balance !== 0) throw userError('The entry is not balanced.');
      }
    }
    for (const r of recs) this.db.update(model, r, vals);
  }

  unlink(model: string, ids: number[]): void {
    const recs = this.db.browse(model, ids);
    if (model === 'account.move') {
      for (const r of recs) if (r.state === 'posted') this.checkLock(String(r.date));
      for (const r of recs) {
        if (r.state === 'posted') {
          throw userError(
            "You can't delete a posted journal item. Don\u2019t play games with your accounting records; reset the journal entry to draft before deleting it.",
          );
        }
      }
      for (const r of recs) {
        for (const l of this.moveLines(r.id)) this.db.table('account.move.line').delete(l.id);
      }
    }
    for (const r of recs) this.db.table(model).delete(r.id);
  }

  fieldsGet(
    model: string,
    allfields?: string[],
    attributes?: string[],
  ): Record<string, Record<string, unknown>> {
    const m = this.db.model(model);
    const attrs =
      attributes && attributes.length > 0
        ? attributes
        : ['string', 'type', 'required', 'readonly', 'relation', 'help'];
    const out: Record<string, Record<string, unknown>> = {};
    for (const [name, f] of m.fields) {
      if (allfields && allfields.length > 0 && !allfields.includes(name)) continue;
      const d: Record<string, unknown> = {};
      for (const a of attrs) {
        if (a === 'required' || a === 'readonly') d[a] = f[a] ?? (a === 'readonly' && !!f.compute);
        else if (a === 'string' || a === 'type') d[a] = f[a];
        else if (a === 'relation' && f.relation) d[a] = f.relation;
        else if (a === 'help' && f.help) d[a] = f.help;
        else if (a === 'digits' && f.type === 'float') {
          const digits = this.db.digitsOf(f);
          if (digits) d[a] = digits;
        }
      }
      out[name] = d;
    }
    return out;
  }

  // ---- aggregates --------------------------------------------------------------------

  formattedReadGroup(
    model: string,
    domain: unknown[],
    groupby: string[],
    aggregates: string[],
  ): Array<Record<string, unknown>> {
    const specs = aggregates.map((a) => {
      if (a === '__count') return { key: a, field: '', fn: 'count' };
      const [field, fn] = a.split(':');
      if (!fn) throw valueError(`Aggregate method is mandatory for '${field}'`);
      return { key: a, field: field as string, fn };
    });
    return this.groups(model, domain, groupby).map(({ key, recs }) => {
      const row: Record<string, unknown> = {};
      groupby.forEach((g, i) => {
        row[g] = this.groupValue(model, g, key[i]);
      });
      row.__extra_domain = groupby.map((g, i) => [g, '=', key[i]]);
      for (const s of specs)
        row[s.key] = s.fn === 'count' ? recs.length : this.aggregate(model, recs, s.field, s.fn);
      return row;
    });
  }

  readGroup(
    model: string,
    domain: unknown[],
    fields: string[],
    groupby: string[],
    lazy: boolean,
  ): Array<Record<string, unknown>> {
    const gb = lazy ? groupby.slice(0, 1) : groupby;
    return this.groups(model, domain, gb).map(({ key, recs }) => {
      const row: Record<string, unknown> = {};
      gb.forEach((g, i) => {
        row[g] = this.groupValue(model, g, key[i]);
      });
      row[lazy && gb[0] ? `${gb[0]}_count` : '__count'] = recs.length;
      for (const f of fields) {
        const [field, fn = 'sum'] = f.split(':');
        if (!field || gb.includes(field)) continue;
        row[field] = this.aggregate(model, recs, field, fn);
      }
      row.__domain = andDomains(
        domain,
        gb.map((g, i) => [g, '=', key[i]]),
      );
      return row;
    });
  }

  private groups(
    model: string,
    domain: unknown[],
    groupby: string[],
  ): Array<{ key: unknown[]; recs: Rec[] }> {
    const recs = this.db.search(model, domain);
    const map = new Map<string, { key: unknown[]; recs: Rec[] }>();
    for (const r of recs) {
      const key = groupby.map((g) => {
        const v = this.db.raw(model, r, g);
        return v === undefined || v === null ? false : v;
      });
      const k = JSON.stringify(key);
      const g = map.get(k) ?? { key, recs: [] };
      g.recs.push(r);
      map.set(k, g);
    }
    return [...map.values()].sort((a, b) => {
      for (let i = 0; i < groupby.length; i++) {
        const x = a.key[i];
        const y = b.key[i];
        if (x === y) continue;
        if (x === false) return 1;
        if (y === false) return -1;
        return (x as number) < (y as number) ? -1 : 1;
      }
      return 0;
    });
  }

  private groupValue(model: string, field: string, v: unknown): unknown {
    const f = this.db.models.get(model)?.fields.get(field);
    if (f?.type === 'many2one')
      return typeof v === 'number' ? [v, this.db.displayName(f.relation as string, v)] : false;
    return v;
  }

  /** Sums exactly on decimals (PostgreSQL sums numeric columns exactly). */
  private aggregate(model: string, recs: Rec[], field: string, fn: string): unknown {
    const vals = recs
      .map((r) => this.db.raw(model, r, field))
      .filter((v): v is number => typeof v === 'number');
    const scale = 1e6;
    switch (fn) {
      case 'sum':
        return vals.reduce((s, v) => s + Math.round(v * scale), 0) / scale;
      case 'avg':
        return vals.length
          ? vals.reduce((s, v) => s + Math.round(v * scale), 0) / scale / vals.length
          : false;
      case 'min':
        return vals.length ? Math.min(...vals) : false;
      case 'max':
        return vals.length ? Math.max(...vals) : false;
      case 'count':
        return recs.length;
      default:
        throw valueError(`Invalid aggregate function '${fn}'`);
    }
  }

  // ---- accounting ----------------------------------------------------------------------

  lockDate(): string | false {
    const c = this.db.get('res.company', 1) as Rec;
    const dates = [c.fiscalyear_lock_date, c.hard_lock_date].filter(
      (d): d is string => typeof d === 'string',
    );
    return dates.length ? (dates.sort().at(-1) ?? false) : false;
  }

  private checkLock(date: string): void {
    const lock = this.lockDate();
    if (lock && date <= lock) {
      const [y, m, d] = lock.split('-');
      throw userError(
        `You cannot add/modify entries prior to and inclusive of: Global Lock Date (${m}/${d}/${y}).`,
      );
    }
  }

  moveLines(moveId: number): Rec[] {
    return [...this.db.table('account.move.line').values()].filter((l) => l.move_id === moveId);
  }

  private createMove(vals: Record<string, unknown>): Rec {
    const { line_ids: lineCmds, ...moveVals } = vals;
    this.db.checkFields('account.move', moveVals);
    const lines = Array.isArray(lineCmds) ? lineCmds : [];
    for (const c of lines) {
      if (!Array.isArray(c) || c[0] !== 0) continue;
      const lv = (c[2] ?? {}) as Record<string, unknown>;
      this.db.checkFields('account.move.line', lv);
      const dist = lv.analytic_distribution;
      if (dist && typeof dist === 'object') {
        for (const key of Object.keys(dist)) {
          for (const id of key.split(',')) {
            if (!this.db.get('account.analytic.account', Number(id))) {
              throw validationError(`Invalid analytic distribution: analytic account ${id} does not exist.`);
            }
          }
        }
      }
    }
    const move = this.db.insert('account.move', moveVals);
    for (const c of lines) {
      if (Array.isArray(c) && c[0] === 0)
        this.db.insert('account.move.line', { ...(c[2] as Record<string, unknown>), move_id: move.id });
    }
    return move;
  }

  postMoves(ids: number[]): void {
    for (const move of this.db.browse('account.move', ids)) {
      if (move.state === 'posted') continue;
      const lock = this.lockDate();
      if (lock && String(move.date) <= lock) {
        // Odoo moves the accounting date out of the locked period instead of failing.
        const today = this.today();
        move.date = today > lock ? today : addDays(lock, 1);
      }
      if (!move.name) {
        const journal = this.db.get('account.journal', move.journal_id as number);
        const [y, m] = String(move.date).split('-');
        const prefix = `${journal?.code ?? 'MISC'}/${y}/${m}/`;
        const n = (this.moveSeq.get(prefix) ?? 0) + 1;
        this.moveSeq.set(prefix, n);
        move.name = `${prefix}${String(n).padStart(4, '0')}`;
      }
      move.state = 'posted';
      for (const line of this.moveLines(move.id)) this.generateAnalytic(move, line);
    }
  }

  draftMoves(ids: number[]): void {
    for (const move of this.db.browse('account.move', ids)) {
      if (move.state === 'posted') this.checkLock(String(move.date));
      move.state = 'draft';
      const lineIds = new Set(this.moveLines(move.id).map((l) => l.id));
      const analytic = this.db.table('account.analytic.line');
      for (const a of [...analytic.values()])
        if (lineIds.has(a.move_line_id as number)) analytic.delete(a.id);
    }
  }

  private generateAnalytic(move: Rec, line: Rec): void {
    const dist = line.analytic_distribution;
    if (!dist || typeof dist !== 'object') return;
    const balance = (line.debit as number) - (line.credit as number);
    for (const [key, pct] of Object.entries(dist as Record<string, number>)) {
      const vals: Record<string, unknown> = {
        name: line.name,
        date: move.date,
        ref: move.ref,
        amount: Math.round(((-balance * pct) / 100) * 100) / 100,
        unit_amount: line.quantity,
        general_account_id: line.account_id,
        move_line_id: line.id,
        journal_id: move.journal_id,
      };
      for (const idText of key.split(',')) {
        const acct = this.db.get('account.analytic.account', Number(idText));
        if (!acct) continue;
        vals[planColumn(acct.plan_id as number)] = acct.id;
      }
      this.db.insert('account.analytic.line', vals);
    }
  }

  reverseMoves(wizardIds: number[]): Record<string, unknown> {
    const created: number[] = [];
    for (const w of this.db.browse('account.move.reversal', wizardIds)) {
      for (const orig of this.db.browse('account.move', (w.move_ids as number[]) ?? [])) {
        const rev = this.db.insert('account.move', {
          move_type: orig.move_type,
          journal_id: w.journal_id || orig.journal_id,
          date: w.date || this.today(),
          ref: `Reversal of: ${orig.name}${w.reason ? `, ${w.reason}` : ''}`,
          reversed_entry_id: orig.id,
        });
        for (const l of this.moveLines(orig.id)) {
          this.db.insert('account.move.line', {
            move_id: rev.id,
            name: l.name,
            account_id: l.account_id,
            debit: l.credit,
            credit: l.debit,
            analytic_distribution: l.analytic_distribution ?? false,
            quantity: l.quantity,
          });
        }
        this.postMoves([rev.id]);
        created.push(rev.id);
      }
    }
    if (created.length === 1) {
      return {
        name: 'Reverse Moves',
        type: 'ir.actions.act_window',
        res_model: 'account.move',
        view_mode: 'form',
        res_id: created[0],
        context: { default_move_type: 'entry' },
      };
    }
    return {
      name: 'Reverse Moves',
      type: 'ir.actions.act_window',
      res_model: 'account.move',
      view_mode: 'list,form',
      domain: [['id', 'in', created]],
      context: { default_move_type: 'entry' },
    };
  }
}

/** Stores a seed's records as they are (ids fixed); a root plan adds its analytic-line column. */
function applySeed(w: OdooWorld, seed: OdooSeed): void {
  for (const { model, values } of seed.records) {
    const existing = w.db.get(model, values.id);
    if (existing) Object.assign(existing, values);
    else w.db.seed(model, values);
    if (model === 'account.analytic.plan' && !values.parent_id && values.id !== 1) {
      w.db.models
        .get('account.analytic.line')
        ?.fields.set(planColumn(values.id), m2o('account.analytic.account', String(values.name)));
    }
  }
}

/** The analytic line column of a root plan: the first plan ("Project") is `account_id`. */
export function planColumn(planId: number): string {
  return planId === 1 ? 'account_id' : `x_plan${planId}_id`;
}

function addDays(day: string, n: number): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

function asDomain(v: unknown): unknown[] {
  if (v === undefined || v === null || v === false) return [];
  if (!Array.isArray(v)) throw valueError(`Invalid domain: ${JSON.stringify(v)}`);
  return v;
}

function asList(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  return (Array.isArray(v) ? v : [v]) as string[];
}

function searchOpts(args: Record<string, unknown>): { order?: string; limit?: number; offset?: number } {
  const o: { order?: string; limit?: number; offset?: number } = {};
  if (typeof args.order === 'string') o.order = args.order;
  if (typeof args.limit === 'number') o.limit = args.limit;
  if (typeof args.offset === 'number') o.offset = args.offset;
  return o;
}

/** Number of top-level terms in a domain in Polish notation (implicitly AND-ed). */
function topLevelTerms(domain: unknown[]): unknown[][] {
  const terms: unknown[][] = [];
  let i = 0;
  const term = (): unknown[] => {
    const it = domain[i++];
    if (it === '&' || it === '|') return [it, ...term(), ...term()];
    if (it === '!') return [it, ...term()];
    return [it];
  };
  while (i < domain.length) terms.push(term());
  return terms;
}

/** AND of a domain and leaves, normalised with explicit '&' operators as Odoo prints it. */
function andDomains(domain: unknown[], leaves: unknown[][]): unknown[] {
  const terms = [...topLevelTerms(domain), ...leaves.map((l) => [l])];
  if (terms.length === 0) return [];
  return [...Array(terms.length - 1).fill('&'), ...terms.flat()];
}

// ---- models -------------------------------------------------------------------------------

function f(type: string, string: string, extra: Partial<FieldDef> = {}): FieldDef {
  return { type, string, required: false, readonly: false, ...extra };
}
const m2o = (relation: string, string: string, extra: Partial<FieldDef> = {}) =>
  f('many2one', string, { relation, ...extra });

function defineModels(w: OdooWorld): void {
  const db = w.db;
  const today = () => w.today();
  db.define('res.currency', 'Currency', [
    ['name', f('char', 'Currency', { required: true })],
    ['symbol', f('char', 'Symbol')],
    ['decimal_places', f('integer', 'Decimal Places')],
  ]);
  db.define('res.company', 'Companies', [
    ['name', f('char', 'Company Name', { required: true })],
    ['currency_id', m2o('res.currency', 'Currency', { required: true })],
    ...COMPANY_LOCK_FIELDS,
    [
      'user_fiscalyear_lock_date',
      f('date', 'User Fiscal Year Lock Date', {
        readonly: true,
        compute: (rec) => {
          const ds = [rec.fiscalyear_lock_date, rec.hard_lock_date]
            .filter((d): d is string => typeof d === 'string')
            .sort();
          return ds.at(-1) ?? '1-01-01'; // Python's date.min, as Odoo prints it
        },
      }),
    ],
  ]);
  db.define(
    'decimal.precision',
    'Decimal Precision',
    [
      ['name', f('char', 'Usage', { required: true })],
      ['digits', f('integer', 'Digits', { required: true })],
    ],
    { order: 'name' },
  );
  db.define('res.partner', 'Contact', [
    ['name', f('char', 'Name')],
    ['email', f('char', 'Email')],
  ]);
  db.define('res.groups', 'Access Groups', [['name', f('char', 'Name', { required: true })]]);
  db.define('res.users', 'User', [
    ['name', f('char', 'Name')],
    ['login', f('char', 'Login', { required: true })],
    ['partner_id', m2o('res.partner', 'Related Partner')],
    ['company_id', m2o('res.company', 'Company')],
    ['group_ids', f('many2many', 'Groups', { relation: 'res.groups' })],
    ['active', f('boolean', 'Active', { default: () => true })],
  ]);
  db.define('ir.model.data', 'Model Data', [
    ['module', f('char', 'Module')],
    ['name', f('char', 'External Identifier', { required: true })],
    ['model', f('char', 'Model Name', { required: true })],
    ['res_id', f('integer', 'Record ID')],
  ]);
  db.define('res.users.apikeys.description', 'API Key Description', [
    ['name', f('char', 'Description', { required: true })],
    ['duration', f('selection', 'Duration')],
  ]);
  db.define('res.users.apikeys', 'Users API Keys', [
    ['name', f('char', 'Description', { required: true, readonly: true })],
    ['user_id', m2o('res.users', 'User', { required: true, readonly: true })],
    ['scope', f('char', 'Scope', { readonly: true })],
    ['expiration_date', f('datetime', 'Expiration Date', { readonly: true })],
  ]);
  db.define('res.users.identitycheck', 'Password Check Wizard', [['request', f('char', 'Request')]]);

  db.define(
    'account.analytic.plan',
    'Analytic Plans',
    [
      ['name', f('char', 'Name', { required: true })],
      ['parent_id', m2o('account.analytic.plan', 'Parent')],
      ['default_applicability', f('selection', 'Default Applicability', { default: () => 'optional' })],
    ],
    {
      access: (d) => {
        const admin = d.get('res.users', ADMIN_UID);
        if (!((admin?.group_ids as number[] | undefined) ?? []).includes(ANALYTIC_GROUP_ID)) {
          throw accessError(
            "You are not allowed to access 'Analytic Plans' (account.analytic.plan) records.\n\nThis operation is allowed for the following groups:\n\t- Analytic Accounting\n\t- Show Full Accounting Features\n\nContact your administrator to request access if necessary.",
          );
        }
      },
    },
  );
  db.afterCreate.set('account.analytic.plan', (plan, d) => {
    if (plan.parent_id) return;
    // Each further root plan is a column of account.analytic.line.
    d.models
      .get('account.analytic.line')
      ?.fields.set(planColumn(plan.id), m2o('account.analytic.account', String(plan.name)));
  });
  db.define(
    'account.analytic.account',
    'Analytic Account',
    [
      ['name', f('char', 'Analytic Account', { required: true })],
      ['code', f('char', 'Reference')],
      ['plan_id', m2o('account.analytic.plan', 'Plan', { required: true })],
      ['company_id', m2o('res.company', 'Company')],
      ['active', f('boolean', 'Active', { default: () => true })],
    ],
    { order: 'plan_id, name asc', displayName: (r) => (r.code ? `[${r.code}] ${r.name}` : String(r.name)) },
  );
  const lineFields = ANALYTIC_LINE_FIELDS.filter(([n]) => n !== 'id' && n !== 'display_name').map(
    ([n, def]): [string, FieldDef] => {
      const d = { ...def };
      if (n === 'date') d.default = today;
      if (n === 'amount' || n === 'unit_amount') d.default = () => 0;
      if (n === 'company_id') d.default = () => 1;
      if (n === 'currency_id') d.compute = () => 1;
      if (n === 'category') d.default = () => 'other';
      return [n, d];
    },
  );
  db.define('account.analytic.line', 'Analytic Line', lineFields, { order: 'date desc, id desc' });

  db.define(
    'account.account',
    'Account',
    [
      ['code', f('char', 'Code')],
      ['name', f('char', 'Account Name', { required: true })],
      ['account_type', f('selection', 'Type', { required: true })],
      ['company_ids', f('many2many', 'Companies', { relation: 'res.company' })],
    ],
    { order: 'code' },
  );
  db.define(
    'account.journal',
    'Journal',
    [
      ['name', f('char', 'Journal Name', { required: true })],
      ['code', f('char', 'Short Code', { required: true })],
      ['type', f('selection', 'Type', { required: true })],
      ['company_id', m2o('res.company', 'Company', { required: true })],
      ['sequence', f('integer', 'Sequence')],
    ],
    { order: 'sequence, type, code' },
  );
  db.define(
    'account.move',
    'Journal Entry',
    [
      ['name', f('char', 'Number', { readonly: true })],
      ['state', f('selection', 'Status', { readonly: true, default: () => 'draft' })],
      ['move_type', f('selection', 'Type', { default: () => 'entry' })],
      ['ref', f('char', 'Reference')],
      ['date', f('date', 'Date', { required: true, default: today })],
      ['journal_id', m2o('account.journal', 'Journal', { required: true, default: () => 3 })],
      ['line_ids', f('one2many', 'Journal Items', { relation: 'account.move.line', inverse: 'move_id' })],
      [
        'amount_total',
        f('monetary', 'Total', {
          readonly: true,
          compute: (rec, d) =>
            [...d.table('account.move.line').values()]
              .filter((l) => l.move_id === rec.id)
              .reduce((s, l) => s + Math.round(((l.debit as number) ?? 0) * 100), 0) / 100,
        }),
      ],
      ['auto_post', f('selection', 'Auto-post', { default: () => 'no' })],
      ['reversed_entry_id', m2o('account.move', 'Reversal of')],
      [
        'reversal_move_ids',
        f('one2many', 'Reversal Move', { relation: 'account.move', inverse: 'reversed_entry_id' }),
      ],
      ['payment_state', f('selection', 'Payment Status', { readonly: true, default: () => 'not_paid' })],
      ['company_id', m2o('res.company', 'Company', { default: () => 1 })],
      ['currency_id', m2o('res.currency', 'Currency', { default: () => 1 })],
      ['partner_id', m2o('res.partner', 'Partner')],
      ['narration', f('text', 'Terms and Conditions')],
    ],
    {
      order: 'date desc, name desc, id desc',
      displayName: (r) => {
        const base = r.name ? String(r.name) : 'Draft Entry';
        return r.ref ? `${base} (${r.ref})` : base;
      },
    },
  );
  db.define(
    'account.move.line',
    'Journal Item',
    [
      ['move_id', m2o('account.move', 'Journal Entry', { required: true })],
      ['account_id', m2o('account.account', 'Account')],
      ['name', f('char', 'Label')],
      ['debit', f('monetary', 'Debit', { default: () => 0 })],
      ['credit', f('monetary', 'Credit', { default: () => 0 })],
      [
        'balance',
        f('monetary', 'Balance', {
          readonly: true,
          compute: (r) => Math.round(((r.debit as number) - (r.credit as number)) * 100) / 100,
        }),
      ],
      ['analytic_distribution', f('json', 'Analytic Distribution')],
      ['quantity', f('float', 'Quantity', { default: () => 1, digits: 'Product Unit' })],
      [
        'analytic_line_ids',
        f('one2many', 'Analytic lines', { relation: 'account.analytic.line', inverse: 'move_line_id' }),
      ],
      [
        'parent_state',
        f('selection', 'Status', {
          readonly: true,
          compute: (r, d) => d.get('account.move', r.move_id as number)?.state ?? false,
        }),
      ],
      [
        'date',
        f('date', 'Date', {
          readonly: true,
          compute: (r, d) => d.get('account.move', r.move_id as number)?.date ?? false,
        }),
      ],
      [
        'ref',
        f('char', 'Reference', {
          readonly: true,
          compute: (r, d) => d.get('account.move', r.move_id as number)?.ref ?? false,
        }),
      ],
      ['partner_id', m2o('res.partner', 'Partner')],
    ],
    {
      order: 'date desc, move_id desc, id',
      displayName: (r, d) => `${d.displayName('account.move', r.move_id as number)} ${r.name ?? ''}`.trim(),
    },
  );
  db.define('account.move.reversal', 'Account move reversal', [
    ['move_ids', f('many2many', 'Move', { relation: 'account.move' })],
    ['date', f('date', 'Reversal date', { default: today })],
    ['journal_id', m2o('account.journal', 'Journal')],
    ['reason', f('char', 'Reason displayed on Credit Note')],
    ['company_id', m2o('res.company', 'Company', { default: () => 1 })],
  ]);

  db.define('maintenance.equipment.category', 'Maintenance Equipment Category', [
    ['name', f('char', 'Category Name', { required: true })],
  ]);
  db.define(
    'maintenance.equipment',
    'Maintenance Equipment',
    [
      ['name', f('char', 'Equipment Name', { required: true })],
      ['serial_no', f('char', 'Serial Number')],
      ['category_id', m2o('maintenance.equipment.category', 'Equipment Category')],
      ['active', f('boolean', 'Active', { default: () => true })],
      ['write_date', f('datetime', 'Last Updated on', { readonly: true })],
    ],
    { order: 'name', trackWriteDate: true },
  );
  db.define(
    'project.project',
    'Project',
    [
      ['name', f('char', 'Name', { required: true })],
      ['account_id', m2o('account.analytic.account', 'Analytic Account')],
      ['allow_timesheets', f('boolean', 'Timesheets', { default: () => true })],
      ['active', f('boolean', 'Active', { default: () => true })],
      ['write_date', f('datetime', 'Last Updated on', { readonly: true })],
    ],
    { order: 'id', trackWriteDate: true },
  );
  db.afterCreate.set('project.project', (p, d) => {
    // hr_timesheet gives a project with timesheets its own Project-plan analytic account.
    if (p.account_id || !p.allow_timesheets) return;
    p.account_id = d.insert('account.analytic.account', { name: p.name, plan_id: 1, company_id: false }).id;
  });
}

function seed(w: OdooWorld, analyticGroup: boolean): void {
  const db = w.db;
  db.seed('res.currency', { id: 1, name: 'USD', symbol: '$', decimal_places: 2 });
  db.seed('res.company', {
    id: 1,
    name: 'My Company',
    currency_id: 1,
    fiscalyear_lock_date: false,
    sale_lock_date: false,
    purchase_lock_date: false,
    tax_lock_date: false,
    hard_lock_date: false,
  });
  const precisions: Array<[string, number]> = [
    ['Product Unit', 2],
    ['Percentage Analytic', 2],
    ['Product Price', 2],
    ['Discount', 2],
    ['Stock Weight', 2],
    ['Volume', 2],
    ['Payment Terms', 6],
  ];
  precisions.forEach(([name, digits], i) => {
    db.seed('decimal.precision', { id: i + 1, name, digits });
  });
  db.seed('res.partner', { id: 2, name: 'OdooBot', email: 'odoobot@example.com' });
  db.seed('res.partner', { id: 3, name: 'Administrator', email: false });
  db.seed('res.groups', { id: 1, name: 'Internal User' });
  db.seed('res.groups', { id: ANALYTIC_GROUP_ID, name: 'Analytic Accounting' });
  db.seed('res.users', {
    id: 1,
    name: 'OdooBot',
    login: '__system__',
    partner_id: 2,
    company_id: 1,
    group_ids: [1],
    active: false,
  });
  db.seed('res.users', {
    id: ADMIN_UID,
    name: 'Administrator',
    login: w.opts.login,
    partner_id: 3,
    company_id: 1,
    group_ids: analyticGroup ? [1, ANALYTIC_GROUP_ID] : [1],
    active: true,
  });
  db.seed('ir.model.data', {
    id: 14817,
    module: 'analytic',
    name: 'group_analytic_accounting',
    model: 'res.groups',
    res_id: ANALYTIC_GROUP_ID,
  });
  db.seed('account.analytic.plan', {
    id: 1,
    name: 'Project',
    parent_id: false,
    default_applicability: 'optional',
  });
  db.seed('account.analytic.account', {
    id: 1,
    name: 'Internal',
    code: false,
    plan_id: 1,
    company_id: 1,
    active: true,
  });
  db.seed('project.project', {
    id: 1,
    name: 'Internal',
    account_id: 1,
    allow_timesheets: true,
    active: true,
  });
  // Two zero-amount lines on the Internal account that the fresh database already holds.
  for (const id of [1, 2]) {
    db.seed('account.analytic.line', {
      id,
      name: '/',
      date: w.today(),
      amount: 0,
      unit_amount: 0,
      account_id: 1,
      company_id: 1,
      category: 'other',
      ref: false,
    });
  }
  const accounts: Array<[number, string, string, string]> = [
    [6, '101401', 'Bank', 'asset_cash'],
    [7, '121000', 'Account Receivable', 'asset_receivable'],
    [14, '201000', 'Current Liabilities', 'liability_current'],
    [15, '211000', 'Account Payable', 'liability_payable'],
    [16, '211100', 'Bills to receive', 'liability_current'],
    [17, '212000', 'Deferred Revenue', 'liability_current'],
    [18, '230000', 'Salary Payable', 'liability_current'],
    [19, '230100', 'Employee Payroll Taxes', 'liability_current'],
    [20, '230200', 'Employer Payroll Taxes', 'liability_current'],
    [21, '251000', 'Tax Received', 'liability_current'],
    [26, '400000', 'Product Sales', 'income'],
    [29, '443000', 'Cash Discount Loss', 'expense'],
    [31, '500000', 'Cost of Goods Sold', 'expense_direct_cost'],
    [32, '600000', 'Expenses', 'expense'],
    [33, '610000', 'Stock Variation', 'expense'],
    [34, '611000', 'Purchase of Equipments', 'expense'],
    [35, '612000', 'Rent', 'expense'],
    [36, '620000', 'Bank Fees', 'expense'],
    [37, '630000', 'Salary Expenses', 'expense'],
    [38, '641000', 'Foreign Exchange Loss', 'expense'],
    [39, '642000', 'Cash Difference Loss', 'expense'],
    [41, '961000', 'RD Expenses', 'expense'],
    [42, '962000', 'Sales Expenses', 'expense'],
  ];
  for (const [id, code, name, account_type] of accounts)
    db.seed('account.account', { id, code, name, account_type, company_ids: [1] });
  const journals: Array<[number, string, string, string, number]> = [
    [1, 'Customer Invoices', 'INV', 'sale', 5],
    [2, 'Vendor Bills', 'BILL', 'purchase', 6],
    [3, 'Miscellaneous Operations', 'MISC', 'general', 9],
    [4, 'Exchange Difference', 'EXCH', 'general', 10],
    [5, 'Cash Basis Taxes', 'CABA', 'general', 10],
    [6, 'Bank', 'BNK1', 'bank', 11],
  ];
  for (const [id, name, code, type, sequence] of journals)
    db.seed('account.journal', { id, name, code, type, company_id: 1, sequence });
}
