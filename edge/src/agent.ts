/**
 * Composition root: builds the parts in order and stops them in reverse.
 *   start: buffer → metrics → ingest → forwarder → HTTP → MQTT source → forwarder, heartbeat, jobs
 *   stop:  MQTT source (queued messages committed, PUBACKs sent, clients disconnected)
 *          → forwarder (the batch in flight finishes) → heartbeat → jobs → HTTP → buffer
 */

import type { HeartbeatInput } from '@ironledger/contracts';
import { componentLogger, createLogger, type Logger } from '@ironledger/logger';
import type { ScheduledTask } from 'node-cron';
import type { BufferStats } from './buffer/buffer.js';
import { SqliteBuffer } from './buffer/sqlite-buffer.js';
import { type EdgeConfig, type EdgeConfigInput, EdgeConfigSchema } from './config.js';
import { type BacklogSource, EdgeMetrics } from './http/metrics.js';
import { type HttpHandle, startHttp } from './http/server.js';
import { relieve, scheduleHousekeeping } from './jobs/housekeeping.js';
import { scheduleVacuum } from './jobs/vacuum.js';
import { CloudClient } from './sinks/cloud-client.js';
import { Forwarder, type ForwarderState } from './sinks/forwarder.js';
import { ForwarderThread, forwarderWorkerSource } from './sinks/forwarder-thread.js';
import { Heartbeat } from './sinks/heartbeat.js';
import { type MqttSource, startBroker } from './sources/broker.js';
import { Ingestor } from './sources/ingest.js';
import { VERSION } from './version.js';

const MiB = 1024 * 1024;
/** Backlog figures are read from SQLite at most this often (metrics scrapes, status, heartbeat). */
const STATS_TTL_MS = 1000;
/** While over budget, how often acknowledged readings are pruned and the budget re-checked. */
const RELIEVE_INTERVAL_MS = 2000;

export interface Agent {
  readonly mqttPort: number;
  readonly tlsPort: number | null;
  readonly httpPort: number;
  readonly gatewayId: string;
  status(): AgentStatus;
  stop(): Promise<void>;
}

export interface AgentStatus {
  gatewayId: string;
  version: string;
  queuedReadings: number;
  oldestUnsentAgeS: number | null;
  quarantined: number;
  parkedBatches: number;
  heldReadings: number;
  diskBudgetExceeded: boolean;
  brokerClients: number;
  lastForwardAt: string | null;
  buffer: BufferStats & { path: string; budgetBytes: number };
  /**
   * `thread`: where it runs (`cloud.forwarderThread`; `main` where no worker script exists);
   * `threadRunning`: whether its thread runs now; `threadEndedIdle`: it has ended with nothing
   * to send (not running and not this: it failed and is being started again).
   */
  forwarder: ForwarderState & { thread: 'worker' | 'main'; threadRunning: boolean; threadEndedIdle: boolean };
  mqtt: { mode: string; port: number; tlsPort: number | null };
}

export interface StartOptions {
  logger?: Logger;
  /** Process-level metrics (CPU, heap, event loop); off for in-process tests. */
  defaultMetrics?: boolean;
}

export async function startAgent(
  input: EdgeConfig | EdgeConfigInput,
  opts: StartOptions = {},
): Promise<Agent> {
  const config: EdgeConfig = EdgeConfigSchema.parse(input);
  const root =
    opts.logger ??
    createLogger({
      service: 'ironledger-edge',
      version: VERSION,
      level: config.log.level,
      base: { gatewayId: config.gatewayId },
    });
  const log = componentLogger(root, 'agent');

  const bufferOptions = {
    path: config.buffer.path,
    gatewayId: config.gatewayId,
    diskBudgetBytes: Math.floor(config.buffer.diskBudgetMb * MiB),
    synchronous: config.buffer.synchronous,
    cacheKb: config.buffer.cacheMb * 1024,
    quarantineMaxEntries: config.quarantine.maxEntries,
    quarantineMaxPayloadBytes: config.quarantine.maxPayloadBytes,
  };
  const buffer = new SqliteBuffer(bufferOptions);
  const { from, to } = buffer.schema;
  // An upgrade of the file an older agent wrote is visible in the log, once, when it happens.
  if (from === 0)
    log.info({ event: 'buffer.created', path: buffer.path, schemaVersion: to }, 'buffer created');
  else if (from !== to)
    log.info(
      { event: 'buffer.migrated', path: buffer.path, from, to },
      `buffer upgraded from schema ${from} to ${to}`,
    );
  const cleanups: Array<() => Promise<void> | void> = [() => buffer.close()];
  const fail = async (e: unknown) => {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => {});
    throw e;
  };

  try {
    let mqtt: MqttSource | null = null;
    let stopping = false;
    let cached: { at: number; stats: BufferStats } | null = null;
    const stats = (): BufferStats => {
      const now = Date.now();
      if (!cached || now - cached.at > STATS_TTL_MS) cached = { at: now, stats: buffer.stats() };
      return cached.stats;
    };
    const backlog = (): BacklogSource => {
      const s = stats();
      return {
        queuedReadings: s.queuedReadings,
        oldestUnsentAgeS:
          s.oldestUnsentReceivedAtMs === null
            ? null
            : Math.max(0, (Date.now() - s.oldestUnsentReceivedAtMs) / 1000),
        parkedBatches: s.parkedBatches,
        quarantined: s.quarantined,
        heldReadings: s.heldReadings,
        usedBytes: s.usedBytes,
        budgetBytes: buffer.diskBudgetBytes,
        diskBudgetExceeded: buffer.isFull(),
        brokerClients: mqtt?.clients() ?? 0,
      };
    };
    const metrics = new EdgeMetrics(backlog, { defaultMetrics: opts.defaultMetrics ?? false });

    const client = new CloudClient(
      config.cloud.url,
      config.cloud.token,
      config.cloud.timeoutMs,
      `ironledger-edge/${VERSION}`,
      config.cloud.caFile,
    );
    cleanups.push(() => client.close());
    const forwarderLog = componentLogger(root, 'forwarder');
    const onMainThread = () =>
      new Forwarder({
        buffer,
        client,
        cloud: config.cloud,
        gatewayId: config.gatewayId,
        metrics,
        log: forwarderLog,
      });
    // A thread of its own needs its script (beside this one, or the executable's asset) and a
    // file to share.
    const inMemory = buffer.path === ':memory:';
    const workerSource =
      config.cloud.forwarderThread === 'worker' && !inMemory ? forwarderWorkerSource() : null;
    if (config.cloud.forwarderThread === 'worker' && !workerSource)
      forwarderLog.info(
        { event: 'forward.thread_unavailable' },
        inMemory
          ? 'forwarder runs on the main thread: an in-memory buffer cannot be shared with a thread'
          : 'forwarder runs on the main thread: no forwarder-worker.js beside the agent',
      );
    const hasWork = () => {
      const b = buffer.stats();
      return b.queuedReadings > b.parkedReadings;
    };
    // A thread that cannot start must not leave the gateway without forwarding.
    const forwardOnMainThread = (e: unknown) => {
      forwarderLog.error(
        { event: 'forward.thread_failed', err: e },
        'forwarder thread failed to start: forwarding on the main thread',
      );
      forwarder = onMainThread();
      forwarderThread = 'main';
      forwarder.start();
    };
    let forwarderThread: 'worker' | 'main' = workerSource ? 'worker' : 'main';
    let forwarder: Forwarder | ForwarderThread = workerSource
      ? new ForwarderThread(
          workerSource,
          {
            buffer: bufferOptions,
            cloud: config.cloud,
            gatewayId: config.gatewayId,
            userAgent: `ironledger-edge/${VERSION}`,
          },
          {
            metrics,
            log: forwarderLog,
            hasWork,
            onUnavailable: (e) => {
              if (!stopping) forwardOnMainThread(e);
            },
          },
        )
      : onMainThread();

    let relieving: NodeJS.Timeout | null = null;
    const bufferLog = componentLogger(root, 'buffer');
    const ingestor = new Ingestor(buffer, metrics, componentLogger(root, 'ingest'), {
      groupCommitMax: config.buffer.groupCommitMax,
      onStored: (n) => forwarder.notify(n),
      onFullChange: (full) => {
        cached = null;
        if (full && !relieving) {
          relieving = setInterval(() => {
            try {
              if (!relieve(buffer, bufferLog)) {
                clearInterval(relieving!);
                relieving = null;
                ingestor.noteFull();
              }
            } catch (e) {
              bufferLog.error({ event: 'buffer.relieve_failed', err: e });
            }
          }, RELIEVE_INTERVAL_MS);
          relieve(buffer, bufferLog);
        }
      },
    });
    cleanups.push(() => {
      if (relieving) clearInterval(relieving);
    });
    const heartbeat = new Heartbeat({
      client,
      gatewayId: config.gatewayId,
      intervalMs: config.cloud.heartbeatIntervalMs,
      metrics,
      log: componentLogger(root, 'heartbeat'),
      snapshot: (): HeartbeatInput => {
        const b = backlog();
        const f = forwarder.state();
        return {
          version: VERSION,
          sentAt: new Date().toISOString(),
          queuedReadings: b.queuedReadings,
          oldestUnsentAgeS: b.oldestUnsentAgeS,
          quarantined: b.quarantined,
          parkedBatches: b.parkedBatches,
          heldReadings: b.heldReadings,
          diskBudgetExceeded: b.diskBudgetExceeded,
          brokerClients: b.brokerClients,
          lastForwardAt: f.lastForwardAt,
        };
      },
    });

    const status = (): AgentStatus => {
      const b = backlog();
      const f = forwarder.state();
      return {
        gatewayId: config.gatewayId,
        version: VERSION,
        queuedReadings: b.queuedReadings,
        oldestUnsentAgeS: b.oldestUnsentAgeS,
        quarantined: b.quarantined,
        parkedBatches: b.parkedBatches,
        heldReadings: b.heldReadings,
        diskBudgetExceeded: b.diskBudgetExceeded,
        brokerClients: b.brokerClients,
        lastForwardAt: f.lastForwardAt,
        buffer: { ...stats(), path: buffer.path, budgetBytes: buffer.diskBudgetBytes },
        forwarder: {
          ...f,
          thread: forwarderThread,
          threadRunning: forwarder instanceof ForwarderThread ? forwarder.running() : true,
          threadEndedIdle: forwarder instanceof ForwarderThread ? forwarder.endedIdle() : false,
        },
        mqtt: { mode: config.mqtt.mode, port: mqtt?.port ?? 0, tlsPort: mqtt?.tlsPort ?? null },
      };
    };

    const httpHandle: HttpHandle = await startHttp({
      host: config.http.host,
      port: config.http.port,
      metrics,
      ready: () => !stopping && mqtt !== null,
      status: () => {
        cached = null;
        return status();
      },
    });
    cleanups.push(() => httpHandle.close());

    const mqttLog = componentLogger(root, 'mqtt');
    mqtt =
      config.mqtt.mode === 'embedded'
        ? await startBroker({ mqtt: config.mqtt, auth: config.auth, ingestor, metrics, log: mqttLog })
        : // The MQTT client library is loaded only for an external broker (~8 MB of RSS otherwise).
          await (await import('./sources/subscriber.js')).startSubscriber({
            mqtt: config.mqtt,
            gatewayId: config.gatewayId,
            ingestor,
            log: mqttLog,
          });
    const source = mqtt;
    cleanups.push(() => source.close());

    if (forwarder instanceof ForwarderThread && config.cloud.forwarderThreadIdleMs > 0 && !hasWork())
      forwarder.startOnDemand(); // nothing to send yet: the thread starts with the first reading
    else {
      try {
        await forwarder.start();
      } catch (e) {
        if (!(forwarder instanceof ForwarderThread)) throw e;
        forwardOnMainThread(e);
      }
    }
    cleanups.push(() => forwarder.stop());
    heartbeat.start();
    const tasks: ScheduledTask[] = [
      scheduleHousekeeping(buffer, config.housekeeping, componentLogger(root, 'housekeeping')),
      scheduleVacuum(buffer, config.housekeeping.vacuumSchedule, componentLogger(root, 'vacuum')),
    ];
    if (buffer.isFull()) ingestor.noteFull();

    log.info(
      {
        event: 'ready',
        mqttPort: source.port,
        tlsPort: source.tlsPort,
        httpPort: httpHandle.port,
        gatewayId: config.gatewayId,
        mode: config.mqtt.mode,
        auth: config.auth.mode,
      },
      'edge agent ready',
    );

    let stopped: Promise<void> | null = null;
    return {
      mqttPort: source.port,
      tlsPort: source.tlsPort,
      httpPort: httpHandle.port,
      gatewayId: config.gatewayId,
      status: () => {
        cached = null;
        return status();
      },
      stop: () => {
        stopped ??= (async () => {
          stopping = true;
          const started = Date.now();
          log.info(
            { event: 'shutdown.begin' },
            'stopping: committing queued messages, finishing the batch in flight',
          );
          await source.close();
          await forwarder.stop();
          await heartbeat.stop();
          for (const t of tasks) await t.destroy();
          if (relieving) clearInterval(relieving);
          await httpHandle.close();
          await client.close();
          const s = buffer.stats();
          buffer.close();
          log.info(
            { event: 'shutdown', queuedReadings: s.queuedReadings, tookMs: Date.now() - started },
            'edge agent stopped',
          );
        })();
        return stopped;
      },
    };
  } catch (e) {
    return fail(e);
  }
}
