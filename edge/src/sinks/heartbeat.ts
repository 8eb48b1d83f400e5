/**
 * `POST /v1/gateways/{gatewayId}/heartbeat` (Contract 2) every `cloud.heartbeatIntervalMs`
 * with the gateway's backlog, so the fleet manager sees every site — including one whose
 * batches cannot get through. A failed heartbeat is logged and tried again next interval.
 */
import { type HeartbeatInput, HeartbeatSchema } from '@ironledger/contracts';
import type { Logger } from '@ironledger/logger';
import type { EdgeMetrics } from '../http/metrics.js';
import type { CloudClient } from './cloud-client.js';

export class Heartbeat {
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;

  constructor(
    private readonly deps: {
      client: CloudClient;
      gatewayId: string;
      intervalMs: number;
      metrics: EdgeMetrics;
      log: Logger;
      snapshot: () => HeartbeatInput;
    },
  ) {}

  start(): void {
    this.beat();
    this.timer = setInterval(() => this.beat(), this.deps.intervalMs);
    this.timer.unref();
  }

  beat(): Promise<void> {
    if (this.inFlight) return this.inFlight;
    const { client, gatewayId, log, metrics } = this.deps;
    const body = HeartbeatSchema.parse(this.deps.snapshot());
    this.inFlight = client
      .post(`/v1/gateways/${encodeURIComponent(gatewayId)}/heartbeat`, JSON.stringify(body), { gzip: false })
      .then((res) => {
        const ok = !('error' in res) && res.status >= 200 && res.status < 300;
        metrics.heartbeats.inc({ outcome: ok ? 'ok' : 'failed' });
        if (ok) log.debug({ event: 'heartbeat.sent', queuedReadings: body.queuedReadings });
        else
          log.warn(
            {
              event: 'heartbeat.failed',
              status: 'status' in res ? res.status : null,
              err: 'error' in res ? res.error : undefined,
            },
            'heartbeat not accepted',
          );
      })
      .finally(() => {
        this.inFlight = null;
      });
    return this.inFlight;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.inFlight;
  }
}
