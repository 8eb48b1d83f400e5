/**
 * External-broker mode: the agent is a client of a site broker (Mosquitto, EMQX) with a
 * persistent session (clean = false, fixed client id, QoS 1 subscriptions), so messages
 * published while the agent is down wait in the broker.
 *
 * Acknowledgement: mqtt.js sends our PUBACK to the broker when `handleMessage` calls back;
 * we call back only after the reading is committed [MQTT-4.3.2-2], so the broker keeps (and
 * redelivers on reconnect [MQTT-4.4.0-1]) every message the buffer does not hold.
 * When the disk budget is reached the agent disconnects without acknowledging and stays
 * away until space is back: the broker queues for the session meanwhile.
 *
 * Unit authentication and the per-unit ACL are the broker's in this mode (see README:
 * password_file + `pattern write ironledger/v1/units/%u/#`).
 */
import { unitTopicFilter } from '@ironledger/contracts';
import type { Logger } from '@ironledger/logger';
import mqtt from 'mqtt';
import type { EdgeConfig } from '../config.js';
import type { MqttSource } from './broker.js';
import type { Ingestor } from './ingest.js';
import { withoutNumberCache } from './packet-writer.js';

export async function startSubscriber(deps: {
  mqtt: EdgeConfig['mqtt'];
  gatewayId: string;
  ingestor: Ingestor;
  log: Logger;
  /** Resolve once the first connection is up; false lets start-up continue while the broker is down. */
  waitForConnect?: boolean;
}): Promise<MqttSource> {
  const { mqtt: cfg, ingestor, log } = deps;
  withoutNumberCache();
  const url = cfg.url ?? `mqtt://${cfg.host}:${cfg.port}`;
  const client = mqtt.connect(url, {
    clientId: cfg.clientId ?? `ironledger-edge-${deps.gatewayId}`,
    clean: false,
    protocolVersion: 4,
    keepalive: cfg.keepaliveS,
    reconnectPeriod: cfg.reconnectPeriodMs,
    connectTimeout: 10_000,
    ...(cfg.username !== undefined ? { username: cfg.username } : {}),
    ...(cfg.password !== undefined ? { password: cfg.password } : {}),
    resubscribe: true,
  });
  let closing = false;
  let paused: NodeJS.Timeout | null = null;
  const filters = [unitTopicFilter('telemetry'), unitTopicFilter('aemp')];

  const pauseUntilSpace = () => {
    if (paused || closing) return;
    ingestor.noteFull();
    log.warn(
      { event: 'publish.refused', reason: 'buffer_full' },
      'disk budget reached: leaving the broker to queue for our session',
    );
    client.end(true);
    paused = setInterval(() => {
      if (closing || ingestor.refusing) return;
      clearInterval(paused!);
      paused = null;
      client.reconnect();
    }, 1000);
  };

  client.handleMessage = (packet, done) => {
    if (closing) return; // no PUBACK: the broker redelivers to our next session
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    if (ingestor.refusing) return pauseUntilSpace();
    ingestor.submit({ topic: packet.topic, payload }, (err) => {
      if (err) return pauseUntilSpace();
      done();
    });
    // mqtt.js hands over one message at a time: commit it now rather than on the next turn.
    ingestor.flush();
  };

  client.on('connect', (connack) => {
    log.info(
      { event: 'mqtt.connected', url, sessionPresent: connack.sessionPresent },
      'connected to the site broker',
    );
    if (!connack.sessionPresent) {
      client.subscribe(filters, { qos: 1 }, (err) => {
        if (err) log.error({ event: 'mqtt.subscribe_failed', err }, 'subscription failed');
      });
    }
  });
  client.on('error', (err) =>
    log.warn({ event: 'mqtt.error', err: err.message }, 'site broker connection error'),
  );
  client.on('offline', () => log.warn({ event: 'mqtt.offline', url }, 'site broker unreachable; retrying'));

  if (deps.waitForConnect !== false) {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no connection to ${url} within 30 s`)), 30_000);
      client.once('connect', () => {
        clearTimeout(t);
        resolve();
      });
    });
  }
  const port = Number(new URL(url).port || (url.startsWith('mqtts') ? 8883 : 1883));
  return {
    port,
    tlsPort: null,
    clients: () => 0,
    async close() {
      closing = true;
      if (paused) clearInterval(paused);
      ingestor.flush();
      await new Promise<void>((r) => client.end(false, {}, () => r()));
    },
  };
}
