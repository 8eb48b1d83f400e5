/**
 * Refusals on the MQTT side (bad credentials, a foreign client id, ACL denials, quarantined
 * messages, oversized packets), per source address, through the shared `RefusalLog`
 * (`@ironledger/logger`): the first refusal of each kind from a quiet source is logged at once
 * (`mqtt.<kind>`), the further ones in one `mqtt.denials` line per source per 10 s (at most 20
 * lines); authentication failures and foreign client ids beyond 5 a minute from one source are
 * slowed (0.25 s doubling to 10 s). Counted in `auth_failures_total{kind}` and
 * `auth_delayed_total`.
 */
import { type Logger, type RefusalLimits, RefusalLog } from '@ironledger/logger';
import type { EdgeMetrics } from '../http/metrics.js';

export type DenialKind = 'auth_failed' | 'client_id_refused' | 'acl_denied' | 'quarantined' | 'too_large';

export class Denials {
  private readonly refusals: RefusalLog<DenialKind>;

  constructor(
    log: Logger,
    private readonly metrics: EdgeMetrics,
    limits: Partial<RefusalLimits> = {},
    now?: () => number,
  ) {
    this.refusals = new RefusalLog<DenialKind>(log, {
      event: 'mqtt.denials',
      countField: 'refusals',
      message: 'refusals from one source in the last interval',
      restMessage: 'refusals from further sources in the last interval',
      slows: (kind) => kind === 'auth_failed' || kind === 'client_id_refused',
      firstAtOnceEvent: (kind) => `mqtt.${kind}`,
      onDelayed: () => metrics.authDelayed.inc(),
      limits,
      now,
    });
  }

  /**
   * Records one refusal from `source`; returns how long its answer should wait (ms), non-zero
   * only for repeated authentication failures.
   */
  record(source: string, kind: DenialKind, sample: Record<string, unknown>): number {
    if (kind !== 'quarantined') this.metrics.authFailures.inc({ kind });
    return this.refusals.record(source, kind, sample);
  }

  flush(): void {
    this.refusals.flush();
  }

  close(): void {
    this.refusals.close();
  }
}
