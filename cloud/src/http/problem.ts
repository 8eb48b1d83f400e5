/**
 * RFC 9457 problem details. Every error the cloud answers over HTTP is an HttpProblem,
 * rendered as `application/problem+json` with a stable IronLedger `code`.
 */
import { PROBLEM_CONTENT_TYPE, type Problem } from '@ironledger/contracts';
import { ERROR_CODES, type ErrorCode, IronLedgerError } from '@ironledger/errors';

export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode | string,
    readonly detail: string,
    readonly extra: {
      errors?: Array<{ path: string; message: string }>;
      headers?: Record<string, string>;
      title?: string;
    } = {},
  ) {
    super(detail);
    this.name = 'HttpProblem';
  }

  static from(code: ErrorCode, detail?: string, extra: HttpProblem['extra'] = {}): HttpProblem {
    return new HttpProblem(ERROR_CODES[code].status, code, detail ?? ERROR_CODES[code].message, extra);
  }

  toProblem(instance?: string): Problem {
    const known = (ERROR_CODES as Record<string, { message: string }>)[this.code];
    return {
      type: `https://ironledger.dev/problems/${String(this.code).toLowerCase().replace(/_/g, '-')}`,
      title: this.extra.title ?? known?.message ?? this.code,
      status: this.status,
      detail: this.detail,
      code: this.code,
      ...(instance ? { instance } : {}),
      ...(this.extra.errors ? { errors: this.extra.errors } : {}),
    };
  }
}

/** Normalises anything thrown by a handler into a problem (500 INTERNAL unless known). */
export function toHttpProblem(e: unknown): HttpProblem {
  if (e instanceof HttpProblem) return e;
  if (e instanceof IronLedgerError) return new HttpProblem(e.status, e.code, e.message);
  return new HttpProblem(500, 'INTERNAL', 'internal error');
}

export { PROBLEM_CONTENT_TYPE };

/** `readings[3].engineHours` from a zod issue path. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out || '(body)';
}
