/**
 * Runs a fleet plan against a broker: one link per unit, messages sent in each unit's
 * planned order, paced by sim time (`speed`), as fast as acknowledgements allow, or at a
 * fixed fleet-wide rate (load mode). Every acknowledged reading is appended to the acked
 * log as it is acknowledged, so the log is complete even if the run is cut short.
 *
 * The run ends when every reading is acknowledged. If no acknowledgement arrives for
 * `giveUpAfterMs` while readings are outstanding, it stops and reports them as failed.
 */
import fs from 'node:fs';
import type { Logger } from '@ironledger/logger';
import { type FleetPlan, type SimMessage, unitMessages } from './plan.js';
import { UnitLink } from './publisher.js';

export type Pace = { mode: 'speed'; speed: number } | { mode: 'afap' } | { mode: 'rate'; rate: number };

export interface RunOptions {
  plan: FleetPlan;
  brokerUrl: string;
  pace: Pace;
  qos: 0 | 1;
  /** unitId → secret (MQTT password). */
  secrets: Record<string, string>;
  ackedPath?: string;
  /** Stop waiting after this long without any acknowledgement; null waits for ever. */
  giveUpAfterMs?: number | null;
  maxInflight?: number;
  reconnectPeriodMs?: number;
  logger: Logger;
  signal?: AbortSignal;
  progressEveryMs?: number;
  /** How long to wait for every unit's first CONNACK before the clock starts (default 5 s). */
  connectWaitMs?: number;
}

export interface RunSummary {
  event: 'sim.summary';
  /** Reading messages handed to the broker (duplicates included, transport resends not). */
  published: number;
  acknowledged: number;
  /** Published readings never acknowledged (after a give-up or an interruption). */
  failed: number;
  /** Planned readings never published because the run stopped early. */
  unsent: number;
  /** Acknowledged readings per second between the first publish and the last PUBACK. */
  readingsPerSecond: number;
  durationMs: number;
  units: number;
  mode: Pace['mode'];
  qos: 0 | 1;
  /** Broken payloads sent (QoS 0, never acknowledged). */
  malformed: { published: number };
  /** Readings sent under another unit's id (QoS 0, never acknowledged). */
  impersonations: { published: number };
  reconnects: number;
  ackLatencyMs: { p50: number; p95: number; p99: number; max: number };
  gaveUp: boolean;
  aborted: boolean;
}

type Tracked = Extract<SimMessage, { kind: 'reading' | 'malformed' }>;

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (ms <= 0 || signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

/** Fleet-wide pacing for load mode: one token per reading, `rate` tokens per second. */
class RateGate {
  private next = 0;
  constructor(private readonly rate: number) {}
  async take(signal?: AbortSignal): Promise<void> {
    const now = performance.now();
    const at = Math.max(now, this.next);
    this.next = at + 1000 / this.rate;
    if (at - now >= 1) await sleep(at - now, signal);
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

export async function runFleet(o: RunOptions): Promise<RunSummary> {
  const { plan, logger } = o;
  const startedAt = Date.now();
  const abort = new AbortController();
  const onOuterAbort = () => abort.abort();
  o.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const signal = abort.signal;
  const links: UnitLink<Tracked>[] = [];
  signal.addEventListener('abort', () => {
    for (const l of links) l.stopWaiting();
  });

  // Opened synchronously so a bad path fails the run before anything is sent.
  const acked = o.ackedPath ? fs.createWriteStream(o.ackedPath, { fd: fs.openSync(o.ackedPath, 'w') }) : null;
  acked?.on('error', (err) =>
    logger.error({ event: 'sim.acked_log_failed', err: err.message }, 'cannot write the acked log'),
  );
  let published = 0;
  let unsent = 0;
  let acknowledged = 0;
  let malformedPublished = 0;
  let firstPublishAt = 0;
  let lastAckAt = 0;
  let lastProgressAt = Date.now();
  const latencies: number[] = [];
  let impersonations = 0;
  let gaveUp = false;

  const onAck = (m: Tracked, latencyMs: number) => {
    lastAckAt = Date.now();
    lastProgressAt = lastAckAt;
    if (latencies.length < 200_000) latencies.push(latencyMs);
    acknowledged++;
    acked?.write(`{"unitId":${JSON.stringify(m.unitId)},"ts":${JSON.stringify(m.ts)}}\n`);
  };

  const maxInflight = o.maxInflight ?? 20;
  links.push(
    ...plan.units.map(
      (u) =>
        new UnitLink<Tracked>({
          brokerUrl: o.brokerUrl,
          unitId: u.unit.unitId,
          ...(o.secrets[u.unit.unitId] !== undefined ? { password: o.secrets[u.unit.unitId] } : {}),
          qos: o.qos,
          maxInflight,
          reconnectPeriodMs: o.reconnectPeriodMs ?? 500,
          connectTimeoutMs: 10_000,
          onAck,
          logger,
        }),
    ),
  );

  // Staggered connects: hundreds of CONNECTs in one burst look like an attack to a gateway.
  for (let i = 0; i < links.length; i++) {
    (links[i] as UnitLink<Tracked>).open();
    if (i % 50 === 49) await sleep(20, signal);
  }
  const connectDeadline = Date.now() + (o.connectWaitMs ?? Math.min(5000, o.giveUpAfterMs ?? 5000));
  while (!signal.aborted && Date.now() < connectDeadline && links.some((l) => !l.connected))
    await sleep(25, signal);
  const connected = links.filter((l) => l.connected).length;
  logger.info({ event: 'sim.connected', units: links.length, connected }, 'units connected');

  const t0 = Date.now();
  const gate = o.pace.mode === 'rate' ? new RateGate(o.pace.rate) : null;

  const pendingTotal = () => links.reduce((s, l) => s + l.inflight, 0);
  const watchdog = setInterval(() => {
    if (o.giveUpAfterMs != null && pendingTotal() > 0 && Date.now() - lastProgressAt > o.giveUpAfterMs) {
      gaveUp = true;
      logger.error(
        { event: 'sim.gave_up', pending: pendingTotal(), afterMs: o.giveUpAfterMs },
        'no acknowledgement for too long; giving up',
      );
      abort.abort();
    }
  }, 100);
  const progress = setInterval(() => {
    logger.info(
      {
        event: 'sim.progress',
        published,
        acknowledged,
        pending: pendingTotal(),
        connected: links.filter((l) => l.connected).length,
      },
      'progress',
    );
  }, o.progressEveryMs ?? 5000);
  progress.unref();

  const runUnit = async (index: number) => {
    const u = plan.units[index]!;
    const link = links[index] as UnitLink<Tracked>;
    const messages = unitMessages(u, plan);
    const abandon = () => {
      for (const m of messages) if (m.kind === 'reading') unsent++;
    };
    for (const m of messages) {
      if (o.pace.mode === 'speed')
        await sleep(t0 + (m.dueMs - plan.startMs) / o.pace.speed - Date.now(), signal);
      if (signal.aborted) {
        if (m.kind === 'reading') unsent++;
        return abandon();
      }
      switch (m.kind) {
        case 'offline':
          link.drop();
          break;
        case 'online':
          link.open();
          break;
        case 'impersonate':
          // Over the unit's own connection, as misconfigured firmware would. QoS 0: a
          // gateway that hangs up on it must not get it back on every reconnect.
          if (gate) await gate.take(signal);
          if (signal.aborted) break;
          link.sendUntracked(m);
          impersonations++;
          break;
        case 'malformed':
          if (gate) await gate.take(signal);
          if (signal.aborted) break;
          link.sendUntracked(m);
          malformedPublished++;
          break;
        default: {
          if (gate) await gate.take(signal);
          if (signal.aborted || !(await link.send(m))) {
            unsent++;
            return abandon();
          }
          if (!firstPublishAt) firstPublishAt = Date.now();
          // The stall clock restarts when a unit that had nothing outstanding sends again.
          if (link.inflight === 1) lastProgressAt = Math.max(lastProgressAt, Date.now());
          published++;
          if (m.cutAfter) link.cut();
        }
      }
    }
    await link.drain(() => signal.aborted);
  };

  await Promise.all(plan.units.map((_, i) => runUnit(i)));
  clearInterval(watchdog);
  clearInterval(progress);
  const failedTracked = links.flatMap((l) => l.unacknowledged());
  const failed = failedTracked.length;
  await Promise.all(links.map((l) => l.close(signal.aborted ? 200 : 2000)));
  if (acked) await new Promise<void>((resolve) => acked.end(resolve));
  o.signal?.removeEventListener('abort', onOuterAbort);

  const endAt = Date.now();
  const windowMs = Math.max(1, (lastAckAt || endAt) - (firstPublishAt || t0));
  latencies.sort((a, b) => a - b);
  return {
    event: 'sim.summary',
    published,
    acknowledged,
    failed,
    unsent,
    readingsPerSecond: Math.round(((o.qos === 0 ? published : acknowledged) / (windowMs / 1000)) * 10) / 10,
    durationMs: endAt - startedAt,
    units: links.length,
    mode: o.pace.mode,
    qos: o.qos,
    malformed: { published: malformedPublished },
    impersonations: { published: impersonations },
    reconnects: links.reduce((s, l) => s + Math.max(0, l.connects - 1), 0),
    ackLatencyMs: {
      p50: percentile(latencies, 50),
      p95: percentile(latencies, 95),
      p99: percentile(latencies, 99),
      max: latencies[latencies.length - 1] ?? 0,
    },
    gaveUp,
    aborted: !gaveUp && (o.signal?.aborted ?? false),
  };
}
