/**
 * Authentication failures per source address on the HTTP API: slowed and logged in aggregate
 * by the shared `RefusalLog` (`@ironledger/logger`): the first 5 failures of a source within a
 * minute are answered at once, each further one waits twice as long as the one before (0.25 s
 * … 10 s); one `auth.failures` line per source per 10 s with counts by code, at most 20 lines.
 * Counted in `ironledger_cloud_auth_failures_total{kind}` and `..._auth_delayed_total`.
 */
import { type Logger, type RefusalLimits, RefusalLog } from '@ironledger/logger';
import client from 'prom-client';

export class AuthFailures {
  private readonly refusals: RefusalLog<string>;
  readonly failuresTotal: client.Counter<'kind'>;
  readonly delayedTotal: client.Counter;

  constructor(
    log: Logger,
    registry: client.Registry,
    limits: Partial<RefusalLimits> = {},
    now?: () => number,
  ) {
    this.failuresTotal = new client.Counter({
      name: 'ironledger_cloud_auth_failures_total',
      help: 'Requests refused for a missing, unknown or insufficient token, by kind (code)',
      labelNames: ['kind'],
      registers: [registry],
    });
    this.delayedTotal = new client.Counter({
      name: 'ironledger_cloud_auth_delayed_total',
      help: 'Authentication failures whose answer was delayed (repeated failures from one source)',
      registers: [registry],
    });
    this.refusals = new RefusalLog<string>(log, {
      event: 'auth.failures',
      countField: 'failures',
      message: 'authentication failures from one source in the last interval',
      restMessage: 'authentication failures from further sources in the last interval',
      slows: () => true,
      onDelayed: () => this.delayedTotal.inc(),
      limits,
      now,
    });
  }

  /** Records one failure; returns how long its answer should wait (ms). */
  fail(source: string, kind: string, sample?: Record<string, unknown>): number {
    this.failuresTotal.inc({ kind });
    return this.refusals.record(source, kind, sample);
  }

  flush(): void {
    this.refusals.flush();
  }

  close(): void {
    this.refusals.close();
  }
}
