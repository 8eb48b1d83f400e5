/**
 * IronLedger's error type and code registry. One class, a stable `code` per failure, whether
 * retrying can help, and an HTTP status for the parts that answer over HTTP. Wrap with
 * `cause` across layers; log once where handled.
 */
export interface ErrorCodeInfo {
  message: string;
  status: number;
  retryable: boolean;
}

/** Every code IronLedger raises. Codes are AREA_WHAT and never change meaning. */
export const ERROR_CODES = {
  CONFIG_INVALID: { message: 'configuration is invalid', status: 500, retryable: false },
  CONFIG_FILE_UNREADABLE: { message: 'configuration file cannot be read', status: 500, retryable: false },
  READING_INVALID: { message: 'reading does not match Contract 1', status: 400, retryable: false },
  TOPIC_INVALID: { message: 'topic is not a unit topic', status: 400, retryable: false },
  BATCH_INVALID: { message: 'batch does not match Contract 2', status: 400, retryable: false },
  BATCH_TOO_LARGE: { message: 'batch body is too large', status: 413, retryable: false },
  AUTH_MISSING: { message: 'authentication required', status: 401, retryable: false },
  AUTH_INVALID: { message: 'token is unknown or revoked', status: 401, retryable: false },
  AUTH_FORBIDDEN: { message: 'not allowed for this identity', status: 403, retryable: false },
  NOT_FOUND: { message: 'not found', status: 404, retryable: false },
  CONFLICT: { message: 'conflicts with the current state', status: 409, retryable: false },
  OVERLOADED: { message: 'overloaded, retry later', status: 503, retryable: true },
  RATE_LIMITED: { message: 'too many requests, retry later', status: 429, retryable: true },
  BUFFER_FULL: { message: 'buffer disk budget reached', status: 507, retryable: true },
  FORWARD_FAILED: { message: 'forwarding to the cloud failed', status: 502, retryable: true },
  FORWARD_REJECTED: { message: 'the cloud rejected the batch', status: 400, retryable: false },
  STORE_FAILED: { message: 'store operation failed', status: 500, retryable: true },
  PERIOD_LOCKED: { message: 'the period is locked', status: 409, retryable: false },
  ODOO_AUTH: { message: 'Odoo rejected the credentials', status: 502, retryable: false },
  ODOO_ACCESS: { message: 'Odoo denied access', status: 502, retryable: false },
  ODOO_VALIDATION: { message: 'Odoo rejected the values', status: 502, retryable: false },
  ODOO_NOT_FOUND: { message: 'Odoo has no such model, method or record', status: 502, retryable: false },
  ODOO_USER_ERROR: { message: 'Odoo refused the operation', status: 502, retryable: false },
  ODOO_TRANSIENT: { message: 'Odoo is unreachable or failing, retry later', status: 503, retryable: true },
  ODOO_PROTOCOL: { message: 'Odoo answered something unexpected', status: 502, retryable: false },
  INTERNAL: { message: 'internal error', status: 500, retryable: false },
} as const satisfies Record<string, ErrorCodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface IronLedgerErrorOptions {
  cause?: unknown;
  retryable?: boolean;
  status?: number;
  /** Extra structured facts (never secrets): field paths, ids, upstream names. */
  details?: Record<string, unknown>;
}

export class IronLedgerError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message?: string, opts: IronLedgerErrorOptions = {}) {
    super(message ?? ERROR_CODES[code].message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'IronLedgerError';
    this.code = code;
    this.retryable = opts.retryable ?? ERROR_CODES[code].retryable;
    this.status = opts.status ?? ERROR_CODES[code].status;
    this.details = opts.details;
  }
}

export function isIronLedgerError(e: unknown, code?: ErrorCode): e is IronLedgerError {
  return e instanceof IronLedgerError && (code === undefined || e.code === code);
}

/** Normalises anything thrown into an IronLedgerError (INTERNAL unless it already is one). */
export function toIronLedgerError(e: unknown, fallback: ErrorCode = 'INTERNAL'): IronLedgerError {
  if (e instanceof IronLedgerError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new IronLedgerError(fallback, message, { cause: e });
}

/** SQLite's "another connection holds the lock" (SQLITE_BUSY and its extended codes). */
export function isSqliteBusy(e: unknown): boolean {
  const code = (e as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

/**
 * Runs `tx`, a synchronous SQLite transaction, again while it fails on a lock another connection
 * holds, until `timeoutMs` have passed by the clock. SQLite's `busy_timeout` adds up the sleeps it
 * asks for, not the time that passed: every signal the process receives (a profiler's SIGPROF, a
 * `kill` of any kind) cuts the current sleep short, and a 5 s timeout has given up after 60 ms.
 * `tx` must leave nothing behind when it throws (better-sqlite3 rolls its transaction back);
 * `onRetry` undoes anything else before the next attempt.
 */
export function retryWhileSqliteBusy<T>(tx: () => T, timeoutMs: number, onRetry?: () => void): T {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      return tx();
    } catch (e) {
      if (!isSqliteBusy(e) || performance.now() >= deadline) throw e;
      onRetry?.();
    }
  }
}
