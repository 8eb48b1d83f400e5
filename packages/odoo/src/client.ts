/**
 * Odoo external API client over undici. Speaks both APIs and says which one it used:
 *
 * - `/json/2/<model>/<method>` (Odoo 19+): `Authorization: bearer <api key>`,
 *   `X-Odoo-Database`, arguments as named keys in the body (`ids` for record methods).
 * - `/jsonrpc` (Odoo 16–19, deprecated from 19): `common.version`, `common.authenticate`,
 *   `object.execute_kw(db, uid, key, model, method, args, kwargs)`.
 *
 * With `api: 'auto'` the server's version (`/web/version`, else `common.version`) decides:
 * /json/2 from Odoo 19 on, /jsonrpc before. Every call has a timeout; transient failures are
 * retried with back-off (retry-policy.ts). The API key never appears in logs or errors.
 */
import { IronLedgerError, isIronLedgerError } from '@ironledger/errors';
import { type Logger, silentLogger } from '@ironledger/logger';
import { Agent, type Dispatcher, request } from 'undici';
import {
  fromHttpStatus,
  fromNetworkError,
  fromOdooError,
  type OdooCallInfo,
  type OdooErrorBody,
} from './errors.js';
import { DEFAULT_RETRY_POLICY, parseRetryAfter, type RetryPolicy, retryDelayMs } from './retry-policy.js';

export type OdooApi = 'json2' | 'jsonrpc';
export type Domain = unknown[];

export interface OdooClientOptions {
  url: string;
  db: string;
  login: string;
  apiKey: string;
  api?: 'auto' | OdooApi;
  timeoutMs?: number;
  retries?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  logger?: Logger;
  /** Random source for jitter (tests pass a fixed one). */
  random?: () => number;
  /** Sleep (tests pass a fast one). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export interface OdooVersion {
  version: string;
  major: number;
  info: unknown[];
}

export interface CallOptions {
  signal?: AbortSignal | undefined;
  context?: Record<string, unknown> | undefined;
}

export interface SearchReadOptions extends CallOptions {
  limit?: number;
  offset?: number;
  order?: string;
}

export interface FormattedGroup {
  [key: string]: unknown;
  __extra_domain?: Domain;
}

const DEFAULT_TIMEOUT_MS = 30 * 1000; // 30 s per HTTP exchange

/** Methods whose receiver is a recordset: /json/2 takes their first argument as `ids`. */
const RECORD_METHODS = new Set([
  'read',
  'write',
  'unlink',
  'action_post',
  'button_draft',
  'button_cancel',
  'reverse_moves',
  'copy',
  'name_get',
  'make_key',
  'run_check',
]);
/** Positional parameter names of model methods, for mapping execute_kw args to /json/2 keys. */
const MODEL_METHOD_PARAMS: Record<string, string[]> = {
  search_read: ['domain', 'fields', 'offset', 'limit', 'order'],
  search: ['domain', 'offset', 'limit', 'order'],
  search_count: ['domain', 'limit'],
  create: ['vals_list'],
  fields_get: ['allfields', 'attributes'],
  formatted_read_group: ['domain', 'groupby', 'aggregates', 'having', 'offset', 'limit', 'order'],
  read_group: ['domain', 'fields', 'groupby', 'offset', 'limit', 'orderby', 'lazy'],
  name_search: ['name', 'domain', 'operator', 'limit'],
  default_get: ['fields_list'],
};
const RECORD_METHOD_PARAMS: Record<string, string[]> = {
  read: ['fields'],
  write: ['vals'],
};
/** Methods that change data: retried only when Odoo surely did not run them. */
const READ_ONLY_METHODS = new Set([
  'search_read',
  'search',
  'search_count',
  'read',
  'fields_get',
  'formatted_read_group',
  'read_group',
  'name_search',
  'default_get',
  'version',
  'authenticate',
  'login',
]);

export class OdooClient {
  readonly url: string;
  readonly db: string;
  readonly login: string;
  private readonly apiKey: string;
  private readonly requested: 'auto' | OdooApi;
  private readonly timeoutMs: number;
  private readonly policy: RetryPolicy;
  private readonly log: Logger;
  private readonly random: () => number;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly agent: Agent;
  private resolvedApi: OdooApi | null = null;
  private uidValue: number | null = null;
  private versionValue: OdooVersion | null = null;
  private rpcId = 0;

  constructor(opts: OdooClientOptions) {
    this.url = opts.url.replace(/\/+$/, '');
    this.db = opts.db;
    this.login = opts.login;
    this.apiKey = opts.apiKey;
    this.requested = opts.api ?? 'auto';
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.policy = {
      ...DEFAULT_RETRY_POLICY,
      ...(opts.retries !== undefined ? { retries: opts.retries } : {}),
      ...(opts.retryBaseMs !== undefined ? { baseMs: opts.retryBaseMs } : {}),
      ...(opts.retryMaxMs !== undefined ? { maxMs: opts.retryMaxMs } : {}),
    };
    this.log = (opts.logger ?? silentLogger()).child({ component: 'odoo' });
    this.random = opts.random ?? Math.random;
    this.sleep = opts.sleep ?? defaultSleep;
    this.agent = new Agent({
      connectTimeout: this.timeoutMs,
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
      keepAliveTimeout: 10_000,
    });
    if (this.requested !== 'auto') this.resolvedApi = this.requested;
  }

  /** The API this client uses, once known (after `connect()` or the first call). */
  get api(): OdooApi | null {
    return this.resolvedApi;
  }

  get uid(): number | null {
    return this.uidValue;
  }

  /** Detects the API (if auto) and authenticates. Throws ODOO_AUTH on bad credentials. */
  async connect(opts: CallOptions = {}): Promise<{ api: OdooApi; version: OdooVersion; uid: number }> {
    const version = await this.version(opts);
    if (this.resolvedApi === null) this.resolvedApi = version.major >= 19 ? 'json2' : 'jsonrpc';
    const uid = await this.authenticate(opts);
    this.log.info(
      { event: 'odoo.connected', api: this.resolvedApi, version: version.version, uid, db: this.db },
      'connected to Odoo',
    );
    return { api: this.resolvedApi, version, uid };
  }

  /** Server version: GET /web/version, falling back to jsonrpc common.version. */
  async version(opts: CallOptions = {}): Promise<OdooVersion> {
    if (this.versionValue) return this.versionValue;
    let v: OdooVersion;
    try {
      const body = (await this.withRetry({ method: 'version', api: 'web' }, false, opts.signal, () =>
        this.http('GET', '/web/version', undefined, {}, { method: 'version', api: 'web' }, opts.signal),
      )) as { version?: unknown; version_info?: unknown };
      v = parseVersion(body.version, body.version_info);
    } catch (e) {
      if (!isIronLedgerError(e) || e.code === 'ODOO_TRANSIENT') throw e;
      const r = (await this.rpc('common', 'version', [], opts.signal)) as {
        server_version?: unknown;
        server_version_info?: unknown;
      };
      v = parseVersion(r.server_version, r.server_version_info);
    }
    this.versionValue = v;
    return v;
  }

  /**
   * Checks the credentials and returns the user id. jsonrpc: `common.authenticate`, whose
   * `false` means wrong login or key. json2: the key is checked on every call; the user is
   * read from `res.users` by login.
   */
  async authenticate(opts: CallOptions = {}): Promise<number> {
    const api = await this.ensureApi(opts);
    let uid: unknown;
    if (api === 'jsonrpc') {
      uid = await this.rpc('common', 'authenticate', [this.db, this.login, this.apiKey, {}], opts.signal);
    } else {
      const rows = (await this.json2(
        'res.users',
        'search_read',
        { domain: [['login', '=', this.login]], fields: ['id'], limit: 1 },
        opts.signal,
      )) as Array<{ id: number }>;
      uid = rows[0]?.id ?? false;
    }
    if (typeof uid !== 'number' || uid <= 0) {
      throw new IronLedgerError(
        'ODOO_AUTH',
        `Odoo rejected login "${this.login}" on database "${this.db}" at ${this.url}: wrong login, or the API key is wrong, expired or revoked`,
        {
          details: { api, db: this.db, login: this.login },
        },
      );
    }
    this.uidValue = uid;
    return uid;
  }

  async searchRead<T = Record<string, unknown>>(
    model: string,
    domain: Domain,
    fields: string[],
    opts: SearchReadOptions = {},
  ): Promise<T[]> {
    const kw: Record<string, unknown> = { fields };
    if (opts.limit !== undefined) kw.limit = opts.limit;
    if (opts.offset !== undefined) kw.offset = opts.offset;
    if (opts.order !== undefined) kw.order = opts.order;
    return (await this.call(model, 'search_read', [domain], kw, opts)) as T[];
  }

  async read<T = Record<string, unknown>>(
    model: string,
    ids: number[],
    fields: string[],
    opts: CallOptions = {},
  ): Promise<T[]> {
    return (await this.call(model, 'read', [ids], { fields }, opts)) as T[];
  }

  async searchCount(model: string, domain: Domain, opts: CallOptions = {}): Promise<number> {
    return (await this.call(model, 'search_count', [domain], {}, opts)) as number;
  }

  /** Creates records in one call; ids return in the order of `valsList`. */
  async create(
    model: string,
    valsList: Array<Record<string, unknown>>,
    opts: CallOptions = {},
  ): Promise<number[]> {
    const res = await this.call(model, 'create', [valsList], {}, opts);
    const ids = typeof res === 'number' ? [res] : res;
    if (!Array.isArray(ids) || ids.length !== valsList.length || !ids.every((i) => Number.isInteger(i))) {
      throw new IronLedgerError(
        'ODOO_PROTOCOL',
        `Odoo ${model}.create returned ${JSON.stringify(res)} for ${valsList.length} records`,
      );
    }
    return ids as number[];
  }

  async write(
    model: string,
    ids: number[],
    vals: Record<string, unknown>,
    opts: CallOptions = {},
  ): Promise<boolean> {
    return (await this.call(model, 'write', [ids, vals], {}, opts)) as boolean;
  }

  async unlink(model: string, ids: number[], opts: CallOptions = {}): Promise<boolean> {
    return (await this.call(model, 'unlink', [ids], {}, opts)) as boolean;
  }

  async fieldsGet(
    model: string,
    attributes: string[] = ['string', 'type', 'required', 'relation', 'readonly'],
    opts: CallOptions = {},
  ): Promise<Record<string, Record<string, unknown>>> {
    return (await this.call(model, 'fields_get', [], { attributes }, opts)) as Record<
      string,
      Record<string, unknown>
    >;
  }

  /**
   * Totals by group. Odoo 19: `formatted_read_group` (keys `"<field>:<agg>"`); Odoo 16–18 only
   * have `read_group` (keys are the bare field names). The result is normalised to the
   * Odoo 19 shape, so callers read `row['amount:sum']` on either.
   */
  async readGroup(
    model: string,
    domain: Domain,
    groupby: string[],
    aggregates: string[],
    opts: CallOptions = {},
  ): Promise<FormattedGroup[]> {
    const v = await this.version(opts);
    if (v.major >= 19) {
      return (await this.call(
        model,
        'formatted_read_group',
        [domain],
        { groupby, aggregates },
        opts,
      )) as FormattedGroup[];
    }
    const fields = aggregates.filter((a) => a !== '__count');
    const rows = (await this.call(
      model,
      'read_group',
      [domain, fields, groupby],
      { lazy: false },
      opts,
    )) as Array<Record<string, unknown>>;
    return rows.map((r) => {
      const out: FormattedGroup = {};
      for (const g of groupby) out[g] = r[g];
      for (const a of aggregates) {
        if (a === '__count') out.__count = r.__count;
        else out[a] = r[a.split(':')[0] ?? a];
      }
      return out;
    });
  }

  /**
   * Any method. `args` are execute_kw's positional arguments; on /json/2 they become named
   * keys (`ids` first for record methods, then the method's parameter names).
   */
  async call(
    model: string,
    method: string,
    args: unknown[] = [],
    kwargs: Record<string, unknown> = {},
    opts: CallOptions = {},
  ): Promise<unknown> {
    const api = await this.ensureApi(opts);
    const kw = opts.context
      ? { ...kwargs, context: { ...(kwargs.context as object | undefined), ...opts.context } }
      : kwargs;
    if (api === 'jsonrpc') {
      const uid = this.uidValue ?? (await this.authenticate(opts));
      return this.rpc(
        'object',
        'execute_kw',
        [this.db, uid, this.apiKey, model, method, args, kw],
        opts.signal,
        { model, method },
      );
    }
    return this.json2(model, method, toNamedArgs(method, args, kw), opts.signal);
  }

  /** Calls a method on records: jsonrpc `args=[[ids]]`, /json/2 `{"ids": [...]}`. */
  async callRecords(
    model: string,
    method: string,
    ids: number[],
    kwargs: Record<string, unknown> = {},
    opts: CallOptions = {},
  ): Promise<unknown> {
    return this.call(model, method, [ids], kwargs, opts);
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  // ---- transport ------------------------------------------------------------------------

  private async ensureApi(opts: CallOptions): Promise<OdooApi> {
    if (this.resolvedApi) return this.resolvedApi;
    const v = await this.version(opts);
    this.resolvedApi = v.major >= 19 ? 'json2' : 'jsonrpc';
    return this.resolvedApi;
  }

  private async json2(
    model: string,
    method: string,
    body: Record<string, unknown>,
    signal?: AbortSignal,
  ): Promise<unknown> {
    const info: OdooCallInfo = { model, method, api: 'json2' };
    const headers = { authorization: `bearer ${this.apiKey}`, 'x-odoo-database': this.db };
    return this.withRetry(info, !READ_ONLY_METHODS.has(method), signal, () =>
      this.http(
        'POST',
        `/json/2/${encodeURIComponent(model)}/${encodeURIComponent(method)}`,
        body,
        headers,
        info,
        signal,
      ),
    );
  }

  private async rpc(
    service: string,
    method: string,
    args: unknown[],
    signal?: AbortSignal,
    what?: { model: string; method: string },
  ): Promise<unknown> {
    const info: OdooCallInfo = {
      model: what?.model,
      method: what?.method ?? `${service}.${method}`,
      api: 'jsonrpc',
    };
    const mutating = what ? !READ_ONLY_METHODS.has(what.method) : false;
    return this.withRetry(info, mutating, signal, async () => {
      const id = ++this.rpcId;
      const body = { jsonrpc: '2.0', method: 'call', params: { service, method, args }, id };
      const res = (await this.http('POST', '/jsonrpc', body, {}, info, signal)) as {
        result?: unknown;
        error?: { message?: string; data?: OdooErrorBody };
      };
      if (res && typeof res === 'object' && 'error' in res && res.error) {
        throw fromOdooError(res.error.data ?? { message: res.error.message }, 200, info);
      }
      if (!res || typeof res !== 'object' || !('result' in res)) {
        throw new IronLedgerError(
          'ODOO_PROTOCOL',
          `Odoo ${info.method} answered a JSON-RPC body without result or error`,
        );
      }
      return res.result;
    });
  }

  private async withRetry<T>(
    info: OdooCallInfo,
    mutating: boolean,
    signal: AbortSignal | undefined,
    fn: () => Promise<T>,
  ): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        if (!isIronLedgerError(e)) throw e;
        if (signal?.aborted) throw e;
        const delay = retryDelayMs(e, attempt, mutating, this.policy, this.random);
        if (delay === null) throw e;
        this.log.warn(
          {
            event: 'odoo.retry',
            model: info.model,
            method: info.method,
            api: info.api,
            attempt: attempt + 1,
            delayMs: delay,
            err: { code: e.code, message: e.message },
          },
          'Odoo call failed, retrying',
        );
        await this.sleep(delay, signal);
      }
    }
  }

  private async http(
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    headers: Record<string, string>,
    info: OdooCallInfo,
    signal?: AbortSignal,
  ): Promise<unknown> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    let res: Dispatcher.ResponseData;
    let text: string;
    try {
      res = await request(`${this.url}${path}`, {
        method,
        dispatcher: this.agent,
        headers: {
          accept: 'application/json',
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...headers,
        },
        body: body === undefined ? null : JSON.stringify(body),
        signal: combined,
      });
      text = await res.body.text();
    } catch (e) {
      if (signal?.aborted)
        throw new IronLedgerError('ODOO_TRANSIENT', `Odoo ${info.method} aborted`, {
          cause: e,
          retryable: false,
        });
      throw fromNetworkError(e, info, this.timeoutMs);
    }
    const retryAfterMs = parseRetryAfter(res.headers['retry-after']);
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      throw fromHttpStatus(res.statusCode, text, info, retryAfterMs);
    }
    if (res.statusCode >= 200 && res.statusCode < 300) return parsed;
    if (parsed && typeof parsed === 'object' && typeof (parsed as OdooErrorBody).name === 'string') {
      throw fromOdooError(parsed as OdooErrorBody, res.statusCode, info, retryAfterMs);
    }
    throw fromHttpStatus(res.statusCode, text, info, retryAfterMs);
  }
}

function toNamedArgs(
  method: string,
  args: unknown[],
  kwargs: Record<string, unknown>,
): Record<string, unknown> {
  const named: Record<string, unknown> = {};
  let rest = args;
  let names = MODEL_METHOD_PARAMS[method];
  if (RECORD_METHODS.has(method) || (names === undefined && args.length > 0)) {
    named.ids = args[0];
    rest = args.slice(1);
    names = RECORD_METHOD_PARAMS[method] ?? [];
  }
  names = names ?? [];
  if (rest.length > names.length) {
    throw new IronLedgerError(
      'ODOO_PROTOCOL',
      `cannot map ${rest.length} positional arguments of ${method} to /json/2 named arguments; pass kwargs`,
    );
  }
  rest.forEach((v, i) => {
    named[names[i] as string] = v;
  });
  // create accepts one dict on execute_kw; /json/2 always takes a list.
  if (method === 'create' && named.vals_list !== undefined && !Array.isArray(named.vals_list))
    named.vals_list = [named.vals_list];
  return { ...named, ...kwargs };
}

function parseVersion(version: unknown, info: unknown): OdooVersion {
  const list = Array.isArray(info) ? info : [];
  const major =
    typeof list[0] === 'number' ? list[0] : Number.parseInt(String(version ?? '').replace(/^saas~/, ''), 10);
  if (!Number.isFinite(major))
    throw new IronLedgerError(
      'ODOO_PROTOCOL',
      `cannot read Odoo's version from ${JSON.stringify({ version, info })}`,
    );
  return { version: typeof version === 'string' ? version : String(major), major, info: list };
}

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}
