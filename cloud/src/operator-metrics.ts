/**
 * Gauges for what needs a person, read from the store when Prometheus scrapes: every site's
 * backlog as its gateway last reported it (so one scrape of the cloud covers gateways that
 * Prometheus cannot reach), gateways and units that went quiet, dead letters, allocations
 * waiting per status. The alert rules and the dashboard in deploy/ are written against these
 * names. A gateway is stale and a unit silent after `consolidation.silentUnitAfterS`, as in
 * `GET /v1/status`. Label values are gateway ids (bounded by config and by authenticated
 * gateways) and allocation statuses.
 */
import client from 'prom-client';
import type { AppContext } from './context.js';

export function registerOperatorMetrics(app: AppContext): void {
  const registers = [app.metrics.registry];
  const silentAfterS = () => app.config.consolidation.silentUnitAfterS;
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
      const figures = await gatewayFigures(app);
      this.set(figures.filter((g) => g.lastSeenAgeS === null || g.lastSeenAgeS > silentAfterS()).length);
    },
  });
  new client.Gauge({
    name: 'ironledger_cloud_silent_units',
    help: 'Known units with no reading received for consolidation.silentUnitAfterS (never heard counts)',
    registers,
    async collect() {
      const nowMs = app.now();
      const last = new Map((await app.store.unitActivity()).map((u) => [u.unitId, u.lastReceivedAt]));
      let silent = 0;
      for (const unitId of app.master.units.keys()) {
        const rx = last.get(unitId);
        if (!rx || nowMs - Date.parse(rx) > silentAfterS() * 1000) silent++;
      }
      this.set(silent);
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

interface GatewayFigures {
  gatewayId: string;
  lastSeenAgeS: number | null;
  heartbeat: {
    queuedReadings: number;
    oldestUnsentAgeS: number | null;
    parkedBatches: number;
    diskBudgetExceeded: boolean;
  } | null;
}

async function gatewayFigures(app: AppContext): Promise<GatewayFigures[]> {
  const nowMs = app.now();
  const activity = new Map((await app.store.gatewayActivity()).map((g) => [g.gatewayId, g]));
  const ids = new Set([...app.config.gateways.map((g) => g.gatewayId), ...activity.keys()]);
  return [...ids].map((gatewayId) => {
    const a = activity.get(gatewayId);
    const last = [a?.lastHeartbeatAt, a?.lastBatchAt]
      .filter((x): x is string => !!x)
      .sort()
      .at(-1);
    return {
      gatewayId,
      lastSeenAgeS: last ? Math.max(0, (nowMs - Date.parse(last)) / 1000) : null,
      heartbeat: a?.heartbeat ?? null,
    };
  });
}
