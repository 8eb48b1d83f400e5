/** JSON request bodies and query strings validated by zod; problems name the field. */
import type { z } from 'zod';
import { readBody } from './body.js';
import { formatPath, HttpProblem } from './problem.js';
import type { RequestContext } from './router.js';

const ADMIN_BODY_LIMIT_BYTES = 1024 * 1024; // 1 MiB: admin payloads are small

export function validationProblem(code: string, issues: readonly z.core.$ZodIssue[]): HttpProblem {
  const errors = issues.map((i) => ({ path: formatPath(i.path), message: i.message }));
  return new HttpProblem(400, code, `${errors[0]!.path}: ${errors[0]!.message}`, {
    errors,
    title: 'invalid request',
  });
}

export async function readJson<S extends z.ZodType>(ctx: RequestContext, schema: S): Promise<z.output<S>> {
  const body = await readBody(ctx.req, ADMIN_BODY_LIMIT_BYTES);
  let json: unknown = {};
  if (body.length > 0) {
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch (e) {
      throw new HttpProblem(400, 'REQUEST_INVALID', `body is not valid JSON: ${(e as Error).message}`);
    }
  }
  const r = schema.safeParse(json);
  if (!r.success) throw validationProblem('REQUEST_INVALID', r.error.issues);
  return r.data;
}

export function readQuery<S extends z.ZodType>(ctx: RequestContext, schema: S): z.output<S> {
  const obj: Record<string, string> = {};
  for (const [k, v] of ctx.query) if (v !== '') obj[k] = v;
  const r = schema.safeParse(obj);
  if (!r.success) throw validationProblem('QUERY_INVALID', r.error.issues);
  return r.data;
}
