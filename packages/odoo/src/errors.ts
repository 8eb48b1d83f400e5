/**
 * Classifying what Odoo answers into IronLedger error codes, in one place.
 *
 * - /jsonrpc reports errors inside an HTTP 200 body: `error.data.name` is the Python class
 *   (`odoo.exceptions.AccessDenied`…). Classify by that name, never by the status.
 * - /json/2 uses real statuses (401, 403, 404, 422…) with the bare error object
 *   `{name, message, arguments, context, debug}` as the body. The name still wins; the status
 *   decides only when the body names nothing we know.
 * - Network faults, timeouts, 429 and 5xx without a known Odoo error are ODOO_TRANSIENT.
 *
 * Messages carry Odoo's own message and the model/method, never credentials.
 */
import { type ErrorCode, IronLedgerError } from '@ironledger/errors';

/** Python exception names → codes. */
export const ODOO_ERROR_NAMES: Readonly<Record<string, ErrorCode>> = {
  'odoo.exceptions.AccessDenied': 'ODOO_AUTH',
  'werkzeug.exceptions.Unauthorized': 'ODOO_AUTH',
  'odoo.http.SessionExpiredException': 'ODOO_AUTH',
  'odoo.exceptions.AccessError': 'ODOO_ACCESS',
  'werkzeug.exceptions.Forbidden': 'ODOO_ACCESS',
  'odoo.exceptions.ValidationError': 'ODOO_VALIDATION',
  // Odoo raises ValueError for an unknown field in vals, an aggregate without a function…
  'builtins.ValueError': 'ODOO_VALIDATION',
  'psycopg2.errors.NotNullViolation': 'ODOO_VALIDATION',
  'psycopg2.errors.CheckViolation': 'ODOO_VALIDATION',
  'psycopg2.errors.UniqueViolation': 'ODOO_VALIDATION',
  'psycopg2.errors.ForeignKeyViolation': 'ODOO_VALIDATION',
  'odoo.exceptions.MissingError': 'ODOO_NOT_FOUND',
  'werkzeug.exceptions.NotFound': 'ODOO_NOT_FOUND',
  'odoo.exceptions.UserError': 'ODOO_USER_ERROR',
  'odoo.exceptions.RedirectWarning': 'ODOO_USER_ERROR',
  'odoo.exceptions.CacheMiss': 'ODOO_NOT_FOUND',
  // A call that does not fit the method's signature: our bug or a version mismatch.
  'builtins.TypeError': 'ODOO_PROTOCOL',
  'builtins.AttributeError': 'ODOO_PROTOCOL',
  'werkzeug.exceptions.UnprocessableEntity': 'ODOO_PROTOCOL',
  'werkzeug.exceptions.BadRequest': 'ODOO_PROTOCOL',
  // Concurrency and database trouble that a later attempt can get past.
  'psycopg2.errors.SerializationFailure': 'ODOO_TRANSIENT',
  'psycopg2.errors.LockNotAvailable': 'ODOO_TRANSIENT',
  'psycopg2.errors.DeadlockDetected': 'ODOO_TRANSIENT',
  'psycopg2.OperationalError': 'ODOO_TRANSIENT',
  'werkzeug.exceptions.ServiceUnavailable': 'ODOO_TRANSIENT',
  'werkzeug.exceptions.TooManyRequests': 'ODOO_TRANSIENT',
};

/** HTTP statuses that mean "try again later" when the body names no known error. */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([408, 425, 429, 500, 502, 503, 504]);

/** Network error codes (node and undici) that mean the request may be retried. */
export const RETRYABLE_NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ENOTFOUND',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);

/**
 * Network faults where the request certainly never reached Odoo: retrying even a `create`
 * cannot make a second record.
 */
export const NOT_SENT_NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** The error object Odoo reports (jsonrpc `error.data`, or a /json/2 error body). */
export interface OdooErrorBody {
  name?: string;
  message?: string;
  arguments?: unknown[];
  debug?: string;
}

export interface OdooCallInfo {
  model?: string | undefined;
  method: string;
  api: 'json2' | 'jsonrpc' | 'web';
}

function where(info: OdooCallInfo): string {
  return info.model ? `${info.model}.${info.method}` : info.method;
}

/** Code for an Odoo error name and message; `undefined` when the name is unknown. */
export function codeForName(name: string | undefined, message: string | undefined): ErrorCode | undefined {
  if (name === undefined) return undefined;
  // Unknown model: Odoo 19 says UserError "Object x doesn't exist".
  if (
    name === 'odoo.exceptions.UserError' &&
    message !== undefined &&
    /^Object \S+ doesn't exist/.test(message)
  ) {
    return 'ODOO_NOT_FOUND';
  }
  return ODOO_ERROR_NAMES[name];
}

function codeForStatus(status: number): ErrorCode {
  if (status === 401) return 'ODOO_AUTH';
  if (status === 403) return 'ODOO_ACCESS';
  if (status === 404) return 'ODOO_NOT_FOUND';
  if (status === 422) return 'ODOO_VALIDATION';
  if (RETRYABLE_STATUSES.has(status)) return 'ODOO_TRANSIENT';
  return 'ODOO_PROTOCOL';
}

/** An Odoo error (named by the server) → IronLedgerError. */
export function fromOdooError(
  body: OdooErrorBody,
  status: number,
  info: OdooCallInfo,
  retryAfterMs?: number,
): IronLedgerError {
  const name = typeof body.name === 'string' ? body.name : undefined;
  const odooMessage = typeof body.message === 'string' ? body.message : '';
  const code = codeForName(name, odooMessage) ?? codeForStatus(status);
  const message = `Odoo ${where(info)} failed (${info.api}${status !== 200 ? ` HTTP ${status}` : ''}): ${odooMessage || name || 'no message'}`;
  return new IronLedgerError(code, message, {
    details: {
      odooName: name ?? null,
      odooMessage,
      status,
      model: info.model ?? null,
      method: info.method,
      api: info.api,
      retryAfterMs: retryAfterMs ?? null,
    },
  });
}

/** A non-JSON or unexpected answer. */
export function fromHttpStatus(
  status: number,
  bodyText: string,
  info: OdooCallInfo,
  retryAfterMs?: number,
): IronLedgerError {
  const code = codeForStatus(status);
  const snippet = bodyText.replace(/\s+/g, ' ').slice(0, 200);
  return new IronLedgerError(code, `Odoo ${where(info)} answered HTTP ${status} (${info.api}): ${snippet}`, {
    details: {
      status,
      model: info.model ?? null,
      method: info.method,
      api: info.api,
      retryAfterMs: retryAfterMs ?? null,
    },
  });
}

export function fromNetworkError(e: unknown, info: OdooCallInfo, timeoutMs: number): IronLedgerError {
  const err = e as { code?: string; name?: string; message?: string; cause?: { code?: string } };
  const netCode = err.code ?? err.cause?.code;
  const timedOut =
    err.name === 'TimeoutError' ||
    netCode === 'UND_ERR_HEADERS_TIMEOUT' ||
    netCode === 'UND_ERR_BODY_TIMEOUT';
  const notSent = netCode !== undefined && NOT_SENT_NETWORK_CODES.has(netCode);
  const message = timedOut
    ? `Odoo ${where(info)} timed out after ${timeoutMs} ms (${info.api})`
    : `Odoo ${where(info)} unreachable (${info.api}): ${netCode ?? err.message ?? String(e)}`;
  return new IronLedgerError('ODOO_TRANSIENT', message, {
    cause: e,
    details: {
      network: netCode ?? err.name ?? null,
      timedOut,
      notSent,
      model: info.model ?? null,
      method: info.method,
      api: info.api,
    },
  });
}
