/**
 * Gauges for what needs a person, read from the store when Prometheus scrapes: every site's
 * backlog as its gateway last reported it (so one scrape of the cloud covers gateways that
 * Prometheus cannot reach), gateways and units that went quiet, dead letters, allocations
 * waiting per status. The alert rules and the dashboard in deploy/ are written against these
 * names. Stale gateways and silent units follow the one rule in fleet-health.ts, as
 * `GET /v1/status` does. Label values are gateway ids (bounded by config and by authenticated
 * gateways) and allocation statuses.
 */
import client from 'prom-client';
import type { AppContext } from './context.js';
import { type GatewayHealth, gatewayHealth, silentUnits } from './fleet-health.js';

export function registerOperatorMetrics(app: AppContext): void {
  const registers = [app.metrics.registry];
  const perGateway = (name: string, help: string, pick: (g: GatewayFigures) => number | null) =>
    new client.Gauge({
      name: `ironledger_cloud_gateway_${name}`,
      help,
      labelNames: ['gateway'],
      registers,
      async collect() {
        this.reset();
        for (const g of await gatewayFigures(app)) {
          const v = pick(g);
          if (v !== null) this.set({ gateway: g.gatewayId }, v);
        }
      },
    });

  perGateway(
    'last_seen_age_seconds',
    'Seconds since the gateway last sent a heartbeat or a batch (absent if never)',
    (g) => g.lastSeenAgeS,
  );
  perGateway(
    'oldest_unsent_age_seconds',
    'Age of the oldest reading the gateway has not yet delivered, from its last heartbeat (0 when none queued)',
    (g) => (g.heartbeat ? (g.heartbeat.oldestUnsentAgeS ?? 0) : null),
  );
  perGateway('queued_readings', 'Readings queued at the gateway, from its last heartbeat', (g) =>
    g.heartbeat ? g.heartbeat.queuedReadings : null,
  );
  perGateway(
    'parked_batches',
    'Batches the gateway parked (refused by the cloud), from its last heartbeat',
    (g) => (g.heartbeat ? g.heartbeat.parkedBatches : null),
  );
  perGateway(
    'disk_budget_exceeded',
    "1 when the gateway's buffer reached its disk budget and it refuses publishes, from its last heartbeat",
    (g) => (g.heartbeat ? Number(g.heartbeat.diskBudgetExceeded) : null),
  );
  new client.Gauge({
    name: 'ironledger_cloud_gateways_stale',
    help: 'Gateways with no heartbeat or batch for consolidation.silentUnitAfterS (never seen counts)',
    registers,
    async collect() {
      this.set((await gatewayHealth(app)).filter((g) => g.stale).length);
    },
  });
  new client.Gauge({
    name: 'ironledger_cloud_silent_units',
    help: 'Known units with no reading received for consolidation.silentUnitAfterS (never heard counts)',
    registers,
    async collect() {
      this.set((await silentUnits(app)).length);
    },
  });
  new client.Gauge({
    name: 'ironledger_cloud_dead_letters',
    help: 'Postings that retrying cannot fix, waiting for a person (ironledger deadletters)',
    registers,
    async collect() {
      this.set((await app.store.listDeadLetters()).length);
    },
  });
  new client.Gauge({
    name: 'ironledger_cloud_allocations',
    help: 'Allocations per status',
    labelNames: ['status'],
    registers,
    async collect() {
      this.reset();
      for (const [status, n] of Object.entries(await app.store.countAllocationsByStatus()))
        this.set({ status }, n);
    },
  });
}

type GatewayFigures = Pick<GatewayHealth, 'gatewayId' | 'lastSeenAgeS'> & {
  heartbeat: NonNullable<GatewayHealth['activity']>['heartbeat'] | null;
};

async function gatewayFigures(app: AppContext): Promise<GatewayFigures[]> {
  return (await gatewayHealth(app)).map((g) => ({
    gatewayId: g.gatewayId,
    lastSeenAgeS: g.lastSeenAgeS,
    heartbeat: g.activity?.heartbeat ?? null,
  }));
}
