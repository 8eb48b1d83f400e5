/**
 * The Odoo double's HTTP face: a real node:http server on 127.0.0.1 (port 0 by default)
 * speaking `/web/version`, `/jsonrpc` (common + object.execute_kw), `/json/2/<model>/<method>`,
 * and the web client's `/web/session/authenticate` + `/web/dataset/call_kw`, with the error
 * shapes a real Odoo 19 sends (see /work/shared/odoo/transcripts via the contract test).
 *
 * Fault knobs for tests: fail the next N calls (HTTP status with Retry-After, a dropped
 * connection, or a dropped connection *after* the call was carried out, which is how a crash
 * between "sent" and "recorded" looks from the client), a delay per call, direct edits to
 * records, and a log of every call.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OdooFault, type Rec } from './orm.js';
import { ADMIN_UID, type MethodSpec, type OdooSeed, OdooWorld, type WorldOptions } from './world.js';

export interface OdooDoubleOptions {
  db?: string;
  login?: string;
  password?: string;
  apiKey?: string;
  port?: number;
  /** The server's "today", YYYY-MM-DD (or a function); default: the UTC date. */
  today?: string | (() => string);
  /** Whether admin already has the Analytic Accounting group (default true). */
  analyticGroup?: boolean;
  /** Major version reported by /web/version and common.version (default 19). */
  version?: number;
  /** Serve /json/2 (default: when version ≥ 19). */
  json2?: boolean;
  /** The server's clock for `write_date`, UTC "YYYY-MM-DD HH:MM:SS"; default the real clock. */
  now?: string | (() => string);
  /** Records the database starts with beyond a fresh one's (e.g. ODOOLAB_REC_SEED). */
  seed?: OdooSeed;
  /** The API key's expiration_date (UTC "YYYY-MM-DD HH:MM:SS"); past it Odoo refuses the key. */
  apiKeyExpiresAt?: string;
}

export interface Fault {
  /** `status`: answer with `status` (default 503) and no work done; `reset`: drop the
   * connection before doing anything; `reset-after`: do the work, then drop the connection. */
  kind?: 'status' | 'reset' | 'reset-after';
  status?: number;
  retryAfterS?: number;
  /** Only calls of this method (e.g. 'create'); default any call. */
  method?: string;
  model?: string;
}

export interface CallRecord {
  api: 'jsonrpc' | 'json2' | 'web';
  service?: string;
  model?: string;
  method: string;
  ok: boolean;
}

export interface OdooDouble {
  url: string;
  db: string;
  apiKey: string;
  login: string;
  password: string;
  port: number;
  world: OdooWorld;
  /** Every record of a model, formatted as search_read returns it (all fields). */
  records(model: string): Array<Record<string, unknown>>;
  /** Fail the next `n` matching calls. */
  failNext(n: number, fault?: Fault): void;
  /**
   * Delay answers by `ms` (0 clears). By default every call waits before it is carried out;
   * `after: true` carries the call out first and holds back only the answer, which is how a
   * client that dies mid-call leaves work done in Odoo it never heard about. `method` and
   * `model` narrow the delay to matching calls.
   */
  setDelay(ms: number, opts?: { after?: boolean; method?: string; model?: string }): void;
  /** Change a record behind IronLedger's back (e.g. an accountant edits an amount). */
  edit(model: string, id: number, vals: Record<string, unknown>): void;
  /** Set or clear the company's fiscal-year lock date. */
  setLockDate(day: string | false): void;
  calls: CallRecord[];
  /** Successful calls of `method` (on `model`, if given). */
  count(method: string, model?: string): number;
  stop(): Promise<void>;
}

export async function startOdooDouble(opts: OdooDoubleOptions = {}): Promise<OdooDouble> {
  const worldOpts: WorldOptions = {
    db: opts.db ?? 'odoolab',
    login: opts.login ?? 'admin',
    password: opts.password ?? 'admin',
    apiKey: opts.apiKey ?? randomBytes(20).toString('hex'),
    analyticGroup: opts.analyticGroup ?? opts.seed?.analyticGroup ?? true,
    ...(opts.today !== undefined ? { today: opts.today } : {}),
    ...(opts.now !== undefined ? { now: opts.now } : {}),
    ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
    ...(opts.apiKeyExpiresAt !== undefined ? { apiKeyExpiresAt: opts.apiKeyExpiresAt } : {}),
  };
  const world = new OdooWorld(worldOpts);
  const major = opts.version ?? 19;
  const json2Enabled = opts.json2 ?? major >= 19;
  const versionInfo = [major, 0, 0, 'final', 0, ''];
  const faults: Array<Fault & { left: number }> = [];
  const sessions = new Set<string>();
  const calls: CallRecord[] = [];
  let delay: { ms: number; after: boolean; method?: string; model?: string } = { ms: 0, after: false };
  const timers = new Set<NodeJS.Timeout>();
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });
  const delays = (model: string | undefined, method: string, after: boolean) =>
    delay.ms > 0 &&
    delay.after === after &&
    (!delay.method || delay.method === method) &&
    (!delay.model || delay.model === model);

  function takeFault(model: string | undefined, method: string): Fault | undefined {
    const f = faults.find(
      (x) => x.left > 0 && (!x.method || x.method === method) && (!x.model || x.model === model),
    );
    if (!f) return undefined;
    f.left--;
    return f;
  }

  /** Binds execute_kw-style or /json/2-style arguments to a method's parameters. */
  function bind(
    spec: MethodSpec,
    method: string,
    positional: unknown[],
    named: Record<string, unknown>,
    style: 'python' | 'json2',
  ): Record<string, unknown> {
    const args: Record<string, unknown> = {};
    if (positional.length > spec.params.length) {
      throw new OdooFault(
        'builtins.TypeError',
        `Base.${method}() takes ${spec.params.length + 1} positional arguments but ${positional.length + 1} were given`,
      );
    }
    positional.forEach((v, i) => {
      args[spec.params[i] as string] = v;
    });
    for (const p of spec.required) {
      if (!(p in args) && !(p in named)) {
        if (style === 'json2')
          throw new OdooFault(
            'werkzeug.exceptions.UnprocessableEntity',
            `missing a required argument: '${p}'`,
            422,
            [422],
          );
        throw new OdooFault(
          'builtins.TypeError',
          `Base.${method}() missing 1 required positional argument: '${p}'`,
        );
      }
    }
    for (const [k, v] of Object.entries(named)) {
      if (!spec.params.includes(k)) {
        if (style === 'json2')
          throw new OdooFault(
            'werkzeug.exceptions.UnprocessableEntity',
            `got an unexpected keyword argument '${k}'`,
            422,
            [422],
          );
        throw new OdooFault(
          'builtins.TypeError',
          `Base.${method}() got an unexpected keyword argument '${k}'`,
        );
      }
      args[k] = v;
    }
    return args;
  }

  function executeKw(
    model: string,
    method: string,
    posArgs: unknown[],
    kwargs: Record<string, unknown>,
  ): unknown {
    const spec = world.method(model, method);
    const { context, ...named } = kwargs;
    const ids = spec.record ? toIds(posArgs[0]) : [];
    const positional = spec.record ? posArgs.slice(1) : posArgs;
    const args = bind(spec, method, positional, named, 'python');
    return spec.run({ world, model, ids, args, context: (context as Record<string, unknown>) ?? {} });
  }

  function json2Call(model: string, method: string, body: Record<string, unknown>): unknown {
    const spec = world.method(model, method);
    const { context, ids, ...named } = body;
    const args = bind(spec, method, [], named, 'json2');
    return spec.run({
      world,
      model,
      ids: toIds(ids ?? []),
      args,
      context: (context as Record<string, unknown>) ?? {},
    });
  }

  function rpcError(id: unknown, e: OdooFault, code = 0) {
    return {
      jsonrpc: '2.0',
      id,
      error: {
        code,
        message: code === 100 ? 'Odoo Session Expired' : 'Odoo Server Error',
        data: {
          name: e.odooName,
          message: e.message,
          arguments: [e.message, ...e.extraArgs],
          context: {},
          debug: traceback(e),
        },
      },
    };
  }

  function asFault(e: unknown): OdooFault {
    if (e instanceof OdooFault) return e;
    return new OdooFault('builtins.Exception', e instanceof Error ? e.message : String(e), 500);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const text = await readBody(req);
    if (delay.ms > 0 && !delay.after && !delay.method && !delay.model) await sleep(delay.ms);
    let body: unknown;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      return send(res, 400, {
        name: 'werkzeug.exceptions.BadRequest',
        message: 'Invalid JSON data',
        arguments: ['Invalid JSON data', 400],
        context: {},
        debug: '',
      });
    }

    if (url.pathname === '/web/version') {
      return send(res, 200, { version_info: versionInfo, version: `${major}.0` });
    }

    if (url.pathname === '/jsonrpc' && req.method === 'POST') {
      const rpc = (body ?? {}) as {
        id?: unknown;
        params?: { service?: string; method?: string; args?: unknown[] };
      };
      const id = rpc.id ?? null;
      const service = rpc.params?.service;
      const method = rpc.params?.method ?? '';
      const args = rpc.params?.args ?? [];
      const model = service === 'object' ? (args[3] as string) : undefined;
      const innerMethod = service === 'object' ? (args[4] as string) : method;
      return withFault(res, model, innerMethod, () => {
        try {
          let result: unknown;
          if (service === 'common') {
            if (method === 'version') {
              result = {
                server_version: `${major}.0`,
                server_version_info: versionInfo,
                server_serie: `${major}.0`,
                protocol_version: 1,
              };
            } else if (method === 'login' || method === 'authenticate') {
              const [db, login, password] = args as [string, string, string];
              result = db === world.opts.db ? world.authPassword(login, password) : false;
            } else {
              throw new OdooFault('builtins.NameError', `Method not available ${method}`);
            }
          } else if (service === 'object' && method === 'execute_kw') {
            const [db, uid, password, m, meth, posArgs = [], kwargs = {}] = args as [
              string,
              number,
              string,
              string,
              string,
              unknown[],
              Record<string, unknown>,
            ];
            if (
              db !== world.opts.db ||
              uid !== ADMIN_UID ||
              world.authPassword(world.opts.login, password) === false
            ) {
              throw new OdooFault('odoo.exceptions.AccessDenied', 'Access Denied', 401);
            }
            result = executeKw(m, meth, posArgs, kwargs);
          } else {
            throw new OdooFault('builtins.NameError', `Service ${service} is not available`);
          }
          calls.push({ api: 'jsonrpc', service, model, method: innerMethod, ok: true });
          return { status: 200, body: { jsonrpc: '2.0', id, result } };
        } catch (e) {
          calls.push({ api: 'jsonrpc', service, model, method: innerMethod, ok: false });
          return { status: 200, body: rpcError(id, asFault(e)) };
        }
      });
    }

    const j2 = /^\/json\/2\/([^/]+)\/([^/]+)$/.exec(url.pathname);
    if (j2 && json2Enabled && req.method === 'POST') {
      const model = decodeURIComponent(j2[1] as string);
      const method = decodeURIComponent(j2[2] as string);
      return withFault(res, model, method, () => {
        const auth = /^bearer\s+(.+)$/i.exec(String(req.headers.authorization ?? ''));
        if (!auth || !world.keyValid((auth[1] as string).trim())) {
          calls.push({ api: 'json2', model, method, ok: false });
          return {
            status: 401,
            headers: { 'www-authenticate': 'Bearer ' },
            body: {
              name: 'werkzeug.exceptions.Unauthorized',
              message: 'Invalid apikey',
              arguments: ['Invalid apikey', 401],
              context: {},
              debug: traceback(),
            },
          };
        }
        try {
          const result = json2Call(model, method, (body ?? {}) as Record<string, unknown>);
          calls.push({ api: 'json2', model, method, ok: true });
          return { status: 200, body: result };
        } catch (e) {
          calls.push({ api: 'json2', model, method, ok: false });
          const f = asFault(e);
          return {
            status: f.json2Status,
            body: {
              name: f.odooName,
              message: f.message,
              arguments: [f.message, ...f.extraArgs],
              context: {},
              debug: traceback(f),
            },
          };
        }
      });
    }

    if (url.pathname === '/web/session/authenticate' && req.method === 'POST') {
      const rpc = (body ?? {}) as {
        id?: unknown;
        params?: { db?: string; login?: string; password?: string };
      };
      const p = rpc.params ?? {};
      const uid = p.db === world.opts.db ? world.authPassword(p.login ?? '', p.password ?? '') : false;
      if (uid === false)
        return send(
          res,
          200,
          rpcError(rpc.id ?? null, new OdooFault('odoo.exceptions.AccessDenied', 'Access Denied')),
        );
      const sid = randomBytes(30).toString('base64url');
      sessions.add(sid);
      return send(
        res,
        200,
        { jsonrpc: '2.0', id: rpc.id ?? null, result: sessionInfo(world, versionInfo, major) },
        { 'set-cookie': `session_id=${sid}; Max-Age=604800; HttpOnly; Path=/` },
      );
    }

    if (url.pathname.startsWith('/web/dataset/call_kw') && req.method === 'POST') {
      const rpc = (body ?? {}) as {
        id?: unknown;
        params?: { model?: string; method?: string; args?: unknown[]; kwargs?: Record<string, unknown> };
      };
      const sid = /(?:^|;\s*)session_id=([^;]+)/.exec(String(req.headers.cookie ?? ''))?.[1];
      if (!sid || !sessions.has(sid)) {
        return send(
          res,
          200,
          rpcError(
            rpc.id ?? null,
            new OdooFault('odoo.http.SessionExpiredException', 'Session expired'),
            100,
          ),
        );
      }
      const p = rpc.params ?? {};
      try {
        const result = executeKw(p.model ?? '', p.method ?? '', p.args ?? [], p.kwargs ?? {});
        calls.push({ api: 'web', model: p.model, method: p.method ?? '', ok: true });
        return send(res, 200, { jsonrpc: '2.0', id: rpc.id ?? null, result });
      } catch (e) {
        calls.push({ api: 'web', model: p.model, method: p.method ?? '', ok: false });
        return send(res, 200, rpcError(rpc.id ?? null, asFault(e)));
      }
    }

    res.writeHead(404, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>404 Not Found</title><h1>Not Found</h1>');
  }

  async function withFault(
    res: ServerResponse,
    model: string | undefined,
    method: string,
    run: () => { status: number; body: unknown; headers?: Record<string, string> },
  ): Promise<void> {
    if (delays(model, method, false) && (delay.method || delay.model)) await sleep(delay.ms);
    const f = takeFault(model, method);
    if (f && (f.kind ?? 'status') === 'status') {
      const headers: Record<string, string> = { 'content-type': 'text/html; charset=utf-8' };
      if (f.retryAfterS !== undefined) headers['retry-after'] = String(f.retryAfterS);
      res.writeHead(f.status ?? 503, headers);
      res.end('<html><body><h1>503 Service Unavailable</h1></body></html>');
      return;
    }
    if (f?.kind === 'reset') {
      res.socket?.destroy();
      return;
    }
    const out = run();
    if (delays(model, method, true)) await sleep(delay.ms);
    if (f?.kind === 'reset-after') {
      res.socket?.destroy();
      return;
    }
    send(res, out.status, out.body, out.headers);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      if (!res.headersSent)
        send(res, 500, {
          name: 'builtins.Exception',
          message: String(e),
          arguments: [String(e)],
          context: {},
          debug: '',
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    db: worldOpts.db,
    apiKey: worldOpts.apiKey,
    login: worldOpts.login,
    password: worldOpts.password,
    port,
    world,
    records: (model) => world.db.read(model, world.db.search(model, [], { order: 'id' }), undefined),
    failNext: (n, fault = {}) => {
      faults.push({ ...fault, left: n });
    },
    setDelay: (ms, o = {}) => {
      delay = {
        ms,
        after: o.after ?? false,
        ...(o.method ? { method: o.method } : {}),
        ...(o.model ? { model: o.model } : {}),
      };
    },
    edit: (model, id, vals) => {
      const rec = world.db.get(model, id) as Rec | undefined;
      if (!rec) throw new Error(`${model} ${id} does not exist in the double`);
      Object.assign(rec, vals);
    },
    setLockDate: (day) => {
      (world.db.get('res.company', 1) as Rec).fiscalyear_lock_date = day;
    },
    calls,
    count: (method, model) =>
      calls.filter((c) => c.ok && c.method === method && (model === undefined || c.model === model)).length,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function toIds(v: unknown): number[] {
  if (typeof v === 'number') return [v];
  return Array.isArray(v) ? (v.filter((x) => typeof x === 'number') as number[]) : [];
}

function traceback(e?: OdooFault): string {
  return `Traceback (most recent call last):\n  File "odoo-double", line 1, in <module>\n${e ? `${e.odooName}: ${e.message}` : 'werkzeug.exceptions.Unauthorized: Invalid apikey'}\n`;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** The part of Odoo's session_info a client needs (uid, context, company, versions). */
function sessionInfo(world: OdooWorld, versionInfo: unknown[], major: number): Record<string, unknown> {
  return {
    uid: ADMIN_UID,
    is_system: true,
    is_admin: true,
    is_public: false,
    is_internal_user: true,
    user_context: { lang: 'en_US', tz: false, uid: ADMIN_UID },
    db: world.opts.db,
    server_version: `${major}.0`,
    server_version_info: versionInfo,
    name: 'Administrator',
    username: world.opts.login,
    partner_display_name: 'Administrator',
    partner_id: 3,
    currencies: { '1': { name: 'USD', symbol: '$', position: 'before', digits: [69, 2] } },
    user_companies: {
      current_company: 1,
      allowed_companies: {
        '1': {
          id: 1,
          name: 'My Company',
          sequence: 0,
          child_ids: [],
          parent_id: false,
          currency_id: 1,
          timesheet_uom_id: 4,
          timesheet_uom_factor: 1.0,
        },
      },
      disallowed_ancestor_companies: {},
    },
  };
}
