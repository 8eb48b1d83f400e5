/**
 * The admin API client (packages/contracts/src/admin.ts). Every answer is checked against
 * the contract's schema before the CLI shows it; the raw JSON is kept so `--json` prints
 * exactly what the server said. Failures become one-line CliErrors:
 *   unreachable server → exit 1 with the url it tried; 401 → the token is unknown or revoked;
 *   403 → the role the command needs; other problem+json → its title/detail and code.
 */
import { ProblemSchema, type Role } from '@ironledger/contracts';
import { request } from 'undici';
import type { z } from 'zod';
import { ApiError, CliError } from './errors.js';

export interface ApiClientOptions {
  baseUrl: string;
  token: string;
  /** Where baseUrl came from (`--url`, `IRONLEDGER_URL`, …) for the unreachable hint. */
  urlSource?: string;
  /** Per-request time limit; long operations (post) pass their own. */
  timeoutMs?: number;
  userAgent?: string;
  /** Role the current command needs, for a useful 403 message. */
  role?: Role;
  debug?: (line: string) => void;
}

export interface ApiResult<T> {
  data: T;
  /** The server's JSON as received. */
  raw: unknown;
}

export type Query = Record<string, string | undefined>;

const DEFAULT_TIMEOUT_MS = 30 * 1000; // 30 s

/** Connection-level failures: the server cannot be reached at all. */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'EPIPE',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

function errnoCode(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let i = 0; i < 4 && cur; i++) {
    const c = (cur as { code?: unknown }).code;
    if (typeof c === 'string' && c !== 'UND_ERR') return c;
    const errs = (cur as { errors?: unknown[] }).errors;
    if (Array.isArray(errs) && errs.length > 0) {
      const inner = errnoCode(errs[0]);
      if (inner) return inner;
    }
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

export class ApiClient {
  private readonly base: URL;

  constructor(private readonly opts: ApiClientOptions) {
    try {
      this.base = new URL(opts.baseUrl.endsWith('/') ? opts.baseUrl : `${opts.baseUrl}/`);
    } catch {
      throw new CliError(
        `the server url '${opts.baseUrl}' (from ${opts.urlSource ?? 'config'}) is not a url`,
        {
          exitCode: 2,
          hint: 'use the form https://ledger.example.com or http://127.0.0.1:8080',
        },
      );
    }
  }

  get baseUrl(): string {
    return this.base.toString();
  }

  get<S extends z.ZodType>(path: string, schema: S, query: Query = {}): Promise<ApiResult<z.infer<S>>> {
    return this.send('GET', path, schema, undefined, query);
  }

  post<S extends z.ZodType>(
    path: string,
    schema: S,
    body: unknown = {},
    opts: { timeoutMs?: number } = {},
  ): Promise<ApiResult<z.infer<S>>> {
    return this.send('POST', path, schema, body, {}, opts.timeoutMs);
  }

  delete<S extends z.ZodType>(path: string, schema: S): Promise<ApiResult<z.infer<S>>> {
    return this.send('DELETE', path, schema, undefined, {});
  }

  url(path: string, query: Query = {}): URL {
    const u = new URL(path.replace(/^\//, ''), this.base);
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') u.searchParams.set(k, v);
    return u;
  }

  private async send<S extends z.ZodType>(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    schema: S,
    body: unknown,
    query: Query,
    timeoutMs = this.opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
  ): Promise<ApiResult<z.infer<S>>> {
    const url = this.url(path, query);
    const started = Date.now();
    this.opts.debug?.(`→ ${method} ${url}`);
    let res: Awaited<ReturnType<typeof request>>;
    try {
      res = await request(url, {
        method,
        headers: {
          authorization: `Bearer ${this.opts.token}`,
          accept: 'application/json, application/problem+json',
          'user-agent': this.opts.userAgent ?? 'ironledger-cli',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
    } catch (e) {
      throw this.transportError(e, url);
    }
    const text = await res.body.text().catch((e: unknown) => {
      throw this.transportError(e, url);
    });
    this.opts.debug?.(
      `← ${res.statusCode} ${method} ${url.pathname} (${Date.now() - started} ms, ${text.length} B)`,
    );
    let json: unknown;
    try {
      json = text.length ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (res.statusCode >= 400) throw this.statusError(res.statusCode, json, text, method, url);
    if (json === undefined && res.statusCode !== 204) {
      throw new CliError(`the server answered ${method} ${url.pathname} with something that is not JSON`, {
        hint: `is ${this.base.origin} an IronLedger cloud? (see --debug)`,
      });
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new CliError(
        `the server's answer to ${method} ${url.pathname} does not match the contract: ${issue.path.join('.') || '(top)'}: ${issue.message}`,
        { hint: 'the CLI and the cloud may be different versions; run with --debug for details' },
      );
    }
    return { data: parsed.data, raw: json };
  }

  private transportError(e: unknown, url: URL): CliError {
    const code = errnoCode(e);
    if (code && TIMEOUT_CODES.has(code)) {
      return new CliError(`the server at ${url.origin} did not answer in time (${code})`, {
        cause: e,
        hint: 'the cloud may be overloaded; try again, or raise --timeout',
      });
    }
    const what = code && UNREACHABLE_CODES.has(code) ? code : (code ?? (e as Error).message);
    return new CliError(`cannot reach the IronLedger server at ${url.origin} (${what})`, {
      cause: e,
      hint: `check the url (from ${this.opts.urlSource ?? 'config'}) and that the cloud is running`,
    });
  }

  private statusError(status: number, json: unknown, text: string, method: string, url: URL): ApiError {
    const problem = ProblemSchema.safeParse(json);
    const p = problem.success ? problem.data : undefined;
    const detail = p?.detail ?? p?.title ?? (text.slice(0, 200).trim() || undefined);
    const fieldErrors = p?.errors?.map((e) => `${e.path}: ${e.message}`).join('; ');
    const why = [detail, fieldErrors].filter(Boolean).join(' — ');
    const code = p?.code;
    switch (status) {
      case 401:
        return new ApiError(
          `not authenticated (401): ${why || 'the token is unknown or revoked'}`,
          status,
          code,
          'set IRONLEDGER_TOKEN (or --token) to a valid token; an admin can issue one with `ironledger tokens create`',
        );
      case 403: {
        const need = this.opts.role
          ? `this needs a token with the ${this.opts.role} role`
          : "your token's role does not allow this";
        return new ApiError(
          `forbidden (403): ${need}${why ? ` (${why})` : ''}`,
          status,
          code,
          'ask an admin for a token with the right role: `ironledger tokens create --role <role>`',
        );
      }
      case 404:
        return new ApiError(`not found (404): ${why || `${method} ${url.pathname}`}`, status, code);
      default:
        return new ApiError(
          `the server refused ${method} ${url.pathname} (${status}${code ? ` ${code}` : ''}): ${why || 'no detail given'}`,
          status,
          code,
          status >= 500 ? 'this is a server-side failure; the cloud logs have the details' : undefined,
        );
    }
  }
}
