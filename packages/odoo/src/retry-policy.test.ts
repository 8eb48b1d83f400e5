import { IronLedgerError } from '@ironledger/errors';
import { describe, expect, it } from 'vitest';
import { codeForName, fromOdooError } from './errors.js';
import { DEFAULT_RETRY_POLICY, isRetryable, parseRetryAfter, retryDelayMs } from './retry-policy.js';

const transient = (details: Record<string, unknown> = {}) =>
  new IronLedgerError('ODOO_TRANSIENT', 'x', { details });

describe('retry policy', () => {
  it('backs off exponentially with equal jitter, capped', () => {
    const p = { ...DEFAULT_RETRY_POLICY, baseMs: 100, maxMs: 1000, retries: 10 };
    expect(retryDelayMs(transient(), 0, false, p, () => 0)).toBe(50);
    expect(retryDelayMs(transient(), 0, false, p, () => 1)).toBe(100);
    expect(retryDelayMs(transient(), 3, false, p, () => 1)).toBe(800);
    expect(retryDelayMs(transient(), 8, false, p, () => 1)).toBe(1000);
    expect(retryDelayMs(transient(), 10, false, p, () => 1)).toBeNull();
  });
  it('honours a longer Retry-After, capped', () => {
    const p = { ...DEFAULT_RETRY_POLICY, baseMs: 100 };
    expect(retryDelayMs(transient({ retryAfterMs: 5000 }), 0, false, p, () => 1)).toBe(5000);
    expect(retryDelayMs(transient({ retryAfterMs: 10 * 60_000 }), 0, false, p, () => 1)).toBe(60_000);
  });
  it('retries writes only when Odoo surely did not run them', () => {
    expect(isRetryable(transient({ network: 'ECONNRESET' }), true)).toBe(false);
    expect(isRetryable(transient({ timedOut: true }), true)).toBe(false);
    expect(isRetryable(transient({ notSent: true }), true)).toBe(true);
    expect(isRetryable(transient({ status: 503 }), true)).toBe(true);
    expect(isRetryable(transient({ status: 500 }), true)).toBe(false);
    expect(isRetryable(transient({ status: 500 }), false)).toBe(true);
    expect(isRetryable(new IronLedgerError('ODOO_VALIDATION'), false)).toBe(false);
  });
  it('parses Retry-After seconds and dates', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(
      parseRetryAfter('Wed, 21 Oct 2026 07:28:10 GMT', Date.parse('Wed, 21 Oct 2026 07:28:00 GMT')),
    ).toBe(10_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });
});

describe('error classification', () => {
  it('classifies by name first, then status', () => {
    expect(codeForName('odoo.exceptions.AccessDenied', 'Access Denied')).toBe('ODOO_AUTH');
    expect(codeForName('odoo.exceptions.UserError', "Object x_no.such.model doesn't exist")).toBe(
      'ODOO_NOT_FOUND',
    );
    expect(codeForName('odoo.exceptions.UserError', 'You cannot add/modify entries')).toBe('ODOO_USER_ERROR');
    expect(
      fromOdooError({ name: 'werkzeug.exceptions.Unauthorized', message: 'Invalid apikey' }, 401, {
        method: 'search_read',
        api: 'json2',
      }).code,
    ).toBe('ODOO_AUTH');
    expect(
      fromOdooError({ name: 'some.Unknown', message: 'boom' }, 503, { method: 'm', api: 'json2' }).code,
    ).toBe('ODOO_TRANSIENT');
    expect(fromOdooError({ name: 'some.Unknown' }, 422, { method: 'm', api: 'json2' }).code).toBe(
      'ODOO_VALIDATION',
    );
    expect(
      fromOdooError({ name: 'builtins.TypeError', message: 'unexpected keyword' }, 200, {
        method: 'm',
        api: 'jsonrpc',
      }).code,
    ).toBe('ODOO_PROTOCOL');
  });
});
