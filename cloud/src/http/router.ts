/**
 * A small method+path router: `/v1/allocations/:id` patterns, first match wins. A path that
 * matches with the wrong method answers 405 with `Allow`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpProblem } from './problem.js';

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  /** Route pattern, for metrics labels (never the raw path). */
  route: string;
}

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Raw text body with its own content type (e.g. Prometheus exposition). */
  text?: string;
  contentType?: string;
}

export type Handler = (ctx: RequestContext) => Promise<Reply> | Reply;

interface Route {
  method: string;
  pattern: string;
  regex: RegExp;
  keys: string[];
  handler: Handler;
}

export class Router {
  private readonly routes: Route[] = [];

  on(method: string, pattern: string, handler: Handler): this {
    const keys: string[] = [];
    const regex = new RegExp(
      `^${pattern.replace(/\/:([A-Za-z]+)/g, (_, k: string) => {
        keys.push(k);
        return '/([^/]+)';
      })}/?$`,
    );
    this.routes.push({ method, pattern, regex, keys, handler });
    return this;
  }

  /** Every registered route, in registration order (the OpenAPI document must describe each). */
  list(): Array<{ method: string; pattern: string }> {
    return this.routes.map(({ method, pattern }) => ({ method, pattern }));
  }

  match(method: string, path: string): { handler: Handler; params: Record<string, string>; route: string } {
    const allowed: string[] = [];
    for (const r of this.routes) {
      const m = r.regex.exec(path);
      if (!m) continue;
      if (r.method !== method && !(method === 'HEAD' && r.method === 'GET')) {
        allowed.push(r.method);
        continue;
      }
      const params: Record<string, string> = {};
      r.keys.forEach((k, i) => {
        params[k] = decodePathSegment(m[i + 1]!);
      });
      return { handler: r.handler, params, route: r.pattern };
    }
    if (allowed.length > 0)
      throw new HttpProblem(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed on ${path}`, {
        headers: { Allow: [...new Set(allowed)].join(', ') },
        title: 'method not allowed',
      });
    throw HttpProblem.from('NOT_FOUND', `no route ${method} ${path}`);
  }
}

/** A path parameter's percent-decoding; a malformed escape (`%`, `%zz`) is the client's error. */
function decodePathSegment(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new HttpProblem(
      400,
      'PATH_INVALID',
      `malformed percent-encoding in path segment ${JSON.stringify(raw.slice(0, 100))}`,
      {
        title: 'malformed path',
      },
    );
  }
}
