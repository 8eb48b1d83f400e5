/**
 * A small in-memory stand-in for Odoo's ORM: models with field definitions, records with
 * incrementing ids, domains, ordering, and values formatted the way the external API
 * returns them (many2one as `[id, display_name]`, empty values as `false`).
 */

export type FieldType =
  | 'integer'
  | 'float'
  | 'monetary'
  | 'char'
  | 'text'
  | 'date'
  | 'datetime'
  | 'boolean'
  | 'selection'
  | 'json'
  | 'many2one'
  | 'one2many'
  | 'many2many';

export interface FieldDef {
  type: FieldType | string;
  string: string;
  required?: boolean;
  readonly?: boolean;
  relation?: string;
  help?: string;
  /** one2many: the many2one field on `relation` pointing back. */
  inverse?: string;
  /** Computed on read (not stored). */
  compute?: (rec: Rec, db: Db) => unknown;
  default?: (db: Db) => unknown;
  /** Float precision: a `decimal.precision` name (read when a value is stored) or fixed digits. */
  digits?: string | [number, number];
}

export type Rec = Record<string, unknown> & { id: number };

/** An Odoo exception, raised by the double and rendered by the transports. */
export class OdooFault extends Error {
  constructor(
    readonly odooName: string,
    message: string,
    readonly json2Status = 422,
    readonly extraArgs: unknown[] = [],
  ) {
    super(message);
  }
}

export const userError = (m: string) => new OdooFault('odoo.exceptions.UserError', m, 422);
export const validationError = (m: string) => new OdooFault('odoo.exceptions.ValidationError', m, 422);
export const accessError = (m: string) => new OdooFault('odoo.exceptions.AccessError', m, 403);
export const valueError = (m: string) => new OdooFault('builtins.ValueError', m, 422);

export interface ModelDef {
  name: string;
  description: string;
  fields: Map<string, FieldDef>;
  order: string;
  displayName?: (rec: Rec, db: Db) => string;
  /** Access check before any operation (e.g. the analytic group). */
  access?: (db: Db) => void;
  /** Keep `write_date` (UTC "YYYY-MM-DD HH:MM:SS", whole seconds) on every create and write. */
  trackWriteDate?: boolean;
}

export class Db {
  readonly models = new Map<string, ModelDef>();
  readonly tables = new Map<string, Map<number, Rec>>();
  private readonly seq = new Map<string, number>();
  /** Hooks a model can set: after create, on methods. */
  readonly afterCreate = new Map<string, (rec: Rec, db: Db) => void>();

  /** Records inserted since `begin()`, removed again by `rollback()` (ids stay used). */
  private txInserts: Array<[string, number]> | undefined;

  constructor(
    public today: () => string,
    /** The server's clock as Odoo stores datetimes: UTC "YYYY-MM-DD HH:MM:SS". */
    public now: () => string = () => new Date().toISOString().slice(0, 19).replace('T', ' '),
  ) {}

  /** Starts an all-or-nothing unit of work (one RPC call is one transaction in Odoo). */
  begin(): void {
    this.txInserts = [];
  }

  commit(): void {
    this.txInserts = undefined;
  }

  /** Undoes the inserts since `begin()`; the sequences keep the ids they handed out. */
  rollback(): void {
    for (const [model, id] of (this.txInserts ?? []).reverse()) this.tables.get(model)?.delete(id);
    this.txInserts = undefined;
  }

  /** The digits a float field rounds to, or undefined when it keeps full precision. */
  digitsOf(f: FieldDef): [number, number] | undefined {
    if (Array.isArray(f.digits)) return f.digits;
    if (typeof f.digits !== 'string') return undefined;
    const name = f.digits;
    const p = [...(this.tables.get('decimal.precision')?.values() ?? [])].find((r) => r.name === name);
    return [16, typeof p?.digits === 'number' ? p.digits : 2];
  }

  /** A value as the column stores it: floats rounded half away from zero to their digits. */
  private store(f: FieldDef, v: unknown, current: unknown): unknown {
    const out = normaliseValue(f, v, current);
    const digits = f.type === 'float' ? this.digitsOf(f) : undefined;
    if (digits && typeof out === 'number') return roundHalfUp(out, digits[1]);
    return out;
  }

  define(
    name: string,
    description: string,
    fields: Array<[string, FieldDef]>,
    opts: Partial<Omit<ModelDef, 'name' | 'description' | 'fields'>> = {},
  ): ModelDef {
    const base: Array<[string, FieldDef]> = [
      ['id', { type: 'integer', string: 'ID', readonly: true }],
      ['display_name', { type: 'char', string: 'Display Name', readonly: true }],
    ];
    const map = new Map<string, FieldDef>([...base, ...fields]);
    const m: ModelDef = { name, description, fields: map, order: opts.order ?? 'id', ...opts };
    this.models.set(name, m);
    this.tables.set(name, new Map());
    this.seq.set(name, 0);
    return m;
  }

  model(name: string): ModelDef {
    const m = this.models.get(name);
    if (!m) throw userError(`Object ${name} doesn't exist`);
    m.access?.(this);
    return m;
  }

  table(name: string): Map<number, Rec> {
    const t = this.tables.get(name);
    if (!t) throw userError(`Object ${name} doesn't exist`);
    return t;
  }

  /** Next id, as a PostgreSQL sequence hands it out: consumed even if the insert then fails. */
  nextId(model: string): number {
    const n = (this.seq.get(model) ?? 0) + 1;
    this.seq.set(model, n);
    return n;
  }

  /** Seeds a record with a fixed id (the sequence moves past it). */
  seed(model: string, rec: Rec): void {
    this.table(model).set(rec.id, { ...rec });
    if ((this.seq.get(model) ?? 0) < rec.id) this.seq.set(model, rec.id);
  }

  get(model: string, id: number): Rec | undefined {
    return this.table(model).get(id);
  }

  browse(model: string, ids: number[]): Rec[] {
    const t = this.table(model);
    return ids.map((id) => {
      const r = t.get(id);
      if (!r) {
        throw new OdooFault(
          'odoo.exceptions.MissingError',
          `Record does not exist or has been deleted.\n(Record: ${model}(${id},), User: 2)`,
          404,
        );
      }
      return r;
    });
  }

  displayName(model: string, id: number): string {
    const m = this.models.get(model);
    const rec = this.tables.get(model)?.get(id);
    if (!m || !rec) return `${model},${id}`;
    if (m.displayName) return m.displayName(rec, this);
    return String(rec.name ?? `${model},${id}`);
  }

  /** Checks vals against the model's fields (Odoo raises ValueError for unknown names). */
  checkFields(model: string, vals: Record<string, unknown>): void {
    const m = this.model(model);
    for (const k of Object.keys(vals)) {
      if (!m.fields.has(k)) throw valueError(`Invalid field '${k}' in '${model}'`);
    }
  }

  /** Inserts one record: defaults, then the required check (after the id is consumed). */
  insert(model: string, vals: Record<string, unknown>): Rec {
    const m = this.model(model);
    this.checkFields(model, vals);
    const id = this.nextId(model);
    const rec: Rec = { id };
    for (const [name, f] of m.fields) {
      if (name === 'id' || name === 'display_name' || f.compute || f.type === 'one2many') continue;
      if (name in vals) rec[name] = this.store(f, vals[name], rec[name]);
      else if (f.default) rec[name] = f.default(this);
    }
    if (m.trackWriteDate) rec.write_date = this.now();
    for (const [name, f] of m.fields) {
      const v = rec[name];
      if (
        f.type === 'many2one' &&
        typeof v === 'number' &&
        this.tables.has(f.relation as string) &&
        !this.get(f.relation as string, v)
      ) {
        throw foreignKeyError(m, name, f, v);
      }
      if (
        f.required &&
        (rec[name] === undefined || rec[name] === false || rec[name] === null || rec[name] === '')
      ) {
        throw validationError(
          `The operation cannot be completed: Missing required value for the field '${f.string}' (${name}).\nModel: '${m.description}' (${model})\n- create/update: a mandatory field is not set\n- delete: another model requires the record being deleted, you can archive it instead\n`,
        );
      }
    }
    this.table(model).set(id, rec);
    this.txInserts?.push([model, id]);
    this.afterCreate.get(model)?.(rec, this);
    return rec;
  }

  update(model: string, rec: Rec, vals: Record<string, unknown>): void {
    const m = this.model(model);
    this.checkFields(model, vals);
    for (const [k, v] of Object.entries(vals)) {
      const f = m.fields.get(k) as FieldDef;
      if (f.compute || f.type === 'one2many') continue;
      rec[k] = this.store(f, v, rec[k]);
    }
    if (m.trackWriteDate) rec.write_date = this.now();
  }

  /** The raw value of a field (computed fields computed, one2many as ids). */
  raw(model: string, rec: Rec, field: string): unknown {
    const m = this.models.get(model) as ModelDef;
    const f = m.fields.get(field);
    if (field === 'id') return rec.id;
    if (field === 'display_name') return this.displayName(model, rec.id);
    if (!f) throw valueError(`Invalid field '${field}' on model '${model}'`);
    if (f.compute) return f.compute(rec, this);
    if (f.type === 'one2many') {
      const inv = f.inverse as string;
      return [...this.table(f.relation as string).values()].filter((r) => r[inv] === rec.id).map((r) => r.id);
    }
    return rec[field];
  }

  /** A field's value as read() returns it. */
  format(model: string, rec: Rec, field: string): unknown {
    const f = this.models.get(model)?.fields.get(field);
    const v = this.raw(model, rec, field);
    if (!f) return v;
    switch (f.type) {
      case 'many2one':
        return typeof v === 'number' ? [v, this.displayName(f.relation as string, v)] : false;
      case 'one2many':
      case 'many2many':
        return Array.isArray(v) ? [...v] : [];
      case 'float':
      case 'monetary':
      case 'integer':
        return typeof v === 'number' ? v : 0;
      case 'boolean':
        return v === true;
      default:
        return v === undefined || v === null || v === '' ? false : structuredClone(v);
    }
  }

  read(model: string, recs: Rec[], fields: string[] | undefined): Array<Record<string, unknown>> {
    const m = this.model(model);
    const names = fields && fields.length > 0 ? fields : [...m.fields.keys()];
    for (const n of names) if (!m.fields.has(n)) throw valueError(`Invalid field '${n}' on model '${model}'`);
    return recs.map((r) => {
      const out: Record<string, unknown> = { id: r.id };
      for (const n of names) out[n] = this.format(model, r, n);
      return out;
    });
  }

  search(
    model: string,
    domain: unknown[],
    opts: { order?: string; limit?: number; offset?: number } = {},
  ): Rec[] {
    const m = this.model(model);
    // Odoo's active_test: archived records are left out unless the domain speaks of `active`.
    const activeTest = m.fields.has('active') && !mentionsField(domain, 'active');
    const recs = [...this.table(model).values()].filter(
      (r) => (!activeTest || r.active !== false) && this.matches(model, r, domain),
    );
    const sorted = this.sort(model, recs, opts.order || m.order);
    const off = opts.offset ?? 0;
    return sorted.slice(off, opts.limit ? off + opts.limit : undefined);
  }

  sort(model: string, recs: Rec[], order: string): Rec[] {
    const keys = order
      .split(',')
      .map((s) => s.trim().split(/\s+/))
      .filter((p) => p[0])
      .map(([field, dir]) => ({ field: field as string, desc: (dir ?? 'asc').toLowerCase() === 'desc' }));
    return [...recs].sort((a, b) => {
      for (const k of keys) {
        const c = compareForOrder(this.raw(model, a, k.field), this.raw(model, b, k.field), k.desc);
        if (c !== 0) return c;
      }
      return 0;
    });
  }

  matches(model: string, rec: Rec, domain: unknown[]): boolean {
    const stack: boolean[] = [];
    // Polish notation, evaluated right to left; leaves are implicitly AND-ed.
    const items = [...domain];
    for (let i = items.length - 1; i >= 0; i--) {
      const it = items[i];
      if (it === '&' || it === '|') {
        const a = stack.pop() ?? true;
        const b = stack.pop() ?? true;
        stack.push(it === '&' ? a && b : a || b);
      } else if (it === '!') {
        stack.push(!(stack.pop() ?? true));
      } else if (Array.isArray(it) && it.length === 3) {
        stack.push(this.leaf(model, rec, it as [string, string, unknown]));
      } else {
        throw valueError(`Invalid leaf ${JSON.stringify(it)}`);
      }
    }
    return stack.every(Boolean);
  }

  private leaf(model: string, rec: Rec, [path, op, value]: [string, string, unknown]): boolean {
    const o = op.toLowerCase();
    const f = path.includes('.') ? undefined : this.models.get(model)?.fields.get(path);
    if (f?.type === 'json' && path === 'analytic_distribution') {
      // Odoo 19 compares analytic_distribution through its analytic-account index:
      // `!= false` holds for every line, `= false` for none, `in [ids]` when a key names one.
      if (value === false && (o === '!=' || o === '=')) return o === '!=';
      if (o === 'in' || o === 'not in') {
        const dist = rec[path];
        const ids = new Set(
          dist && typeof dist === 'object' ? Object.keys(dist).flatMap((k) => k.split(',').map(Number)) : [],
        );
        const hit = Array.isArray(value) && value.some((v) => ids.has(Number(v)));
        return o === 'in' ? hit : !hit;
      }
    }
    if ((f?.type === 'one2many' || f?.type === 'many2many') && value === false) {
      const n = ((this.raw(model, rec, path) as unknown[] | undefined) ?? []).length;
      if (o === '!=') return n > 0;
      if (o === '=') return n === 0;
    }
    const values = this.resolvePath(model, [rec], path.split('.'));
    const test = (v: unknown): boolean => compareLeaf(v, o, value);
    if (o === '!=' || o === 'not in' || o === 'not like' || o === 'not ilike') {
      // Negative operators hold when no value matches the positive form.
      const pos = o === '!=' ? '=' : o.replace('not ', '');
      return !values.some((v) => compareLeaf(v, pos, value));
    }
    if (values.length === 0) return test(false);
    return values.some(test);
  }

  private resolvePath(model: string, recs: Rec[], parts: string[]): unknown[] {
    const [head, ...rest] = parts as [string, ...string[]];
    const m = this.models.get(model) as ModelDef;
    const f = m.fields.get(head);
    if (!f && head !== 'id' && head !== 'display_name')
      throw valueError(`Invalid field ${model}.${head} in leaf ('${parts.join('.')}')`);
    const vals = recs.map((r) => this.raw(model, r, head));
    if (rest.length === 0)
      return vals.flatMap((v) =>
        Array.isArray(v) && f && (f.type === 'one2many' || f.type === 'many2many') ? v : [v],
      );
    const rel = f?.relation as string;
    const ids = vals.flatMap((v) => (Array.isArray(v) ? v : typeof v === 'number' ? [v] : [])) as number[];
    const next = ids.map((id) => this.get(rel, id)).filter((r): r is Rec => r !== undefined);
    return this.resolvePath(rel, next, rest);
  }
}

/** What Odoo reports when PostgreSQL refuses a reference to a record that does not exist. */
export function foreignKeyError(m: ModelDef, field: string, f: FieldDef, id: unknown): OdooFault {
  return validationError(
    `The operation cannot be completed: the record ${f.relation}(${id},) referenced by '${f.string}' (${field}) does not exist.\nModel: '${m.description}' (${m.name})\n`,
  );
}

function normaliseValue(f: FieldDef, v: unknown, current: unknown): unknown {
  if (f.type === 'many2many')
    return applyX2manyCommands(Array.isArray(current) ? (current as number[]) : [], v);
  if (f.type === 'json' && v && typeof v === 'object') {
    // analytic_distribution percentages read back as floats; JSON has one number type.
    return structuredClone(v);
  }
  if ((f.type === 'float' || f.type === 'monetary') && typeof v === 'number') return v;
  return v === null ? false : v;
}

/** many2many commands: (4, id) link, (3, id) unlink, (6, 0, ids) replace, (5) clear; or plain ids. */
export function applyX2manyCommands(current: number[], v: unknown): number[] {
  if (!Array.isArray(v)) return current;
  let ids = [...current];
  for (const c of v) {
    if (typeof c === 'number') {
      if (!ids.includes(c)) ids.push(c);
    } else if (Array.isArray(c)) {
      const [op, id, list] = c as [number, number, number[]];
      if (op === 4 && !ids.includes(id)) ids.push(id);
      else if (op === 3) ids = ids.filter((x) => x !== id);
      else if (op === 5) ids = [];
      else if (op === 6) ids = [...(list ?? [])];
    }
  }
  return ids;
}

/** Float rounding as Odoo's float_round does it (half away from zero), on the decimal value. */
export function roundHalfUp(v: number, digits: number): number {
  const f = 10 ** digits;
  const r = Math.round(Math.abs(v) * f + 1e-9 * Math.max(1, Math.abs(v) * f)) / f;
  return v < 0 ? -r : r;
}

/** Whether any leaf of a domain names `field`. */
function mentionsField(domain: unknown[], field: string): boolean {
  return domain.some((it) => Array.isArray(it) && it[0] === field);
}

function scalar(v: unknown): unknown {
  return v === undefined || v === null ? false : v;
}

function compareLeaf(actual: unknown, op: string, expected: unknown): boolean {
  const a = scalar(actual);
  switch (op) {
    case '=':
      return a === scalar(expected) || (expected === false && (a === false || a === ''));
    case 'in':
      return Array.isArray(expected) && expected.some((e) => scalar(e) === a);
    case '<':
    case '>':
    case '<=':
    case '>=': {
      if (a === false) return false;
      const c =
        (a as number | string) < (expected as number | string)
          ? -1
          : (a as number | string) > (expected as number | string)
            ? 1
            : 0;
      return op === '<' ? c < 0 : op === '>' ? c > 0 : op === '<=' ? c <= 0 : c >= 0;
    }
    case 'like':
    case 'ilike':
    case '=like':
    case '=ilike': {
      if (typeof a !== 'string') return false;
      const raw = String(expected);
      const pattern = op.startsWith('=') ? raw : `%${raw}%`;
      const re = new RegExp(
        `^${pattern
          .replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
          .replace(/%/g, '.*')
          .replace(/_/g, '.')}$`,
        op.includes('ilike') ? 'is' : 's',
      );
      return re.test(a);
    }
    default:
      throw valueError(`Invalid operator '${op}'`);
  }
}

function compareForOrder(a: unknown, b: unknown, desc: boolean): number {
  const na = a === false || a === undefined || a === null;
  const nb = b === false || b === undefined || b === null;
  // PostgreSQL: NULLS LAST ascending, NULLS FIRST descending.
  if (na || nb) {
    if (na && nb) return 0;
    return (na ? 1 : -1) * (desc ? -1 : 1);
  }
  const c =
    (a as number | string) < (b as number | string)
      ? -1
      : (a as number | string) > (b as number | string)
        ? 1
        : 0;
  return desc ? -c : c;
}
