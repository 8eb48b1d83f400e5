/**
 * The embedded MQTT broker (aedes) on TCP, and on TLS when certificates are configured.
 *
 * Acknowledgement: aedes calls `authorizePublish` before it writes a QoS 1 PUBACK, so the
 * reading is committed (group commit, see ingest.ts) inside that hook and the PUBACK goes
 * out only after the commit [MQTT-4.3.2-2]. A refused publish (ACL, disk budget) fails the
 * hook: aedes closes the connection without a PUBACK [MQTT-3.3.5-2], and the unit keeps the
 * reading for its next connection.
 *
 * Units mode: username = unitId, password = the unit's secret (stored hashed); the client id
 * is the unitId or empty (the broker then makes one), so no unit can take over another's
 * session [MQTT-3.1.4-2]; a unit publishes only under its own unitId and subscribes only to
 * its own command topic. Repeated authentication failures from one address are slowed, and
 * refusals are logged in aggregate (denials.ts).
 * Packet size: a packet whose fixed header announces more than `mqtt.maxPacketBytes` closes
 * the connection before its body is read, so a huge payload is never held in memory.
 * Open mode (open sites, off by default): no authentication; readings are still validated.
 */

import { createHash, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { parseUnitTopic, TOPIC_PREFIX, unitTopic } from '@ironledger/contracts';
import type { Logger } from '@ironledger/logger';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import type { EdgeConfig } from '../config.js';
import type { EdgeMetrics } from '../http/metrics.js';
import { verifySecretAsync } from '../secrets.js';
import { type DenialKind, Denials } from './denials.js';
import type { Ingestor } from './ingest.js';
import { withOneChunkAcks, withoutNumberCache } from './packet-writer.js';
import { fastPublishPath, type MqttParser } from './publish-parser.js';

export interface MqttSource {
  /** Bound TCP port (embedded) or the external broker's port. */
  readonly port: number;
  readonly tlsPort: number | null;
  clients(): number;
  /** Stops taking messages, commits what is queued (PUBACKs sent), then disconnects. */
  close(): Promise<void>;
}

const SYS_PREFIX = '$SYS/';
// CONNACK return codes of MQTT 3.1.1 (Table 3.1); aedes maps them for MQTT 5.
const IDENTIFIER_REJECTED = 2;
const BAD_USERNAME_OR_PASSWORD = 4;

function authError(message: string, returnCode = BAD_USERNAME_OR_PASSWORD): AuthenticateError {
  const e = new Error(message) as AuthenticateError;
  (e as { returnCode: number }).returnCode = returnCode;
  return e;
}

/** The peer address of a client's connection (TCP or TLS). */
function sourceOf(client: Client | null): string {
  const conn = (client as { conn?: { remoteAddress?: string } } | null)?.conn;
  return conn?.remoteAddress ?? 'unknown';
}

interface PacketParser {
  packet: { length: number };
  _list: { length: number; consume(n: number): void };
  _parseLength(): boolean;
}

/**
 * Refuses a packet longer than `maxBytes` as soon as its Remaining Length is parsed
 * [MQTT-2.2.3], before any of its body is buffered: the connection is closed. Hooks the
 * mqtt-packet parser aedes keeps per client; returns false when that parser is not found.
 */
function limitPacketSize(client: Client, maxBytes: number, onTooLarge: (bytes: number) => void): boolean {
  const parser = (client as unknown as { _parser?: PacketParser })._parser;
  if (!parser || typeof parser._parseLength !== 'function') return false;
  const parseLength = parser._parseLength;
  parser._parseLength = function (this: PacketParser): boolean {
    const ok = parseLength.call(this);
    if (ok && this.packet.length > maxBytes) {
      this._list.consume(this._list.length);
      onTooLarge(this.packet.length);
      (client as unknown as { conn: { destroy(): void } }).conn.destroy();
      return false;
    }
    return ok;
  };
  return true;
}

export async function startBroker(deps: {
  mqtt: EdgeConfig['mqtt'];
  auth: EdgeConfig['auth'];
  ingestor: Ingestor;
  metrics: EdgeMetrics;
  log: Logger;
}): Promise<MqttSource> {
  const { mqtt, auth, ingestor, metrics, log } = deps;
  withoutNumberCache();
  withOneChunkAcks();
  const secrets = new Map(auth.units.map((u) => [u.unitId, u.secretHash]));
  // After one scrypt verification, reconnects of the same unit with the same secret are
  // checked against a fast digest: a reconnect storm of a whole fleet costs no scrypt.
  const verified = new Map<string, Buffer>();
  const unitOf = new WeakMap<Client, string>();
  const open = auth.mode === 'open';
  let closing = false;
  let lastRefusalLog = 0;
  const denials = new Denials(log, metrics);
  // The client id as the unit sent it (empty when it left the choice to the broker).
  const requestedClientId = new WeakMap<Client, string>();
  const refuseAuth = (
    client: Client,
    kind: DenialKind,
    username: string | undefined,
    done: (err: AuthenticateError | null, ok: boolean | null) => void,
    error: AuthenticateError,
  ) => {
    const delayMs = denials.record(sourceOf(client), kind, {
      clientId: client.id?.slice(0, 128),
      username: username?.slice(0, 128),
    });
    if (delayMs > 0) setTimeout(() => done(error, false), delayMs);
    else done(error, false);
  };

  const deny = (
    client: Client | null,
    topic: string,
    why: string,
    reason: 'acl' | 'buffer_full' | 'closing',
  ) => {
    metrics.refused.inc({ reason });
    const now = Date.now();
    if (reason === 'acl') {
      denials.record(sourceOf(client), 'acl_denied', {
        clientId: client?.id?.slice(0, 128),
        unitId: client ? unitOf.get(client) : undefined,
        topic: topic.slice(0, 256),
      });
    } else if (now - lastRefusalLog > 5000) {
      lastRefusalLog = now;
      log.warn({ event: 'publish.refused', reason, clientId: client?.id, topic }, why);
    }
    return new Error(why);
  };

  // A unit's reading, once committed and acknowledged, is delivered by aedes to whoever
  // subscribed to its topic: a copy of the packet, two matches in topic tries and a promise per
  // message, about 5 % of ingest (README). Nobody has, until a client subscribes to a filter that
  // could match a reading's topic (open mode only: in units mode a unit may subscribe to its own
  // command topic alone); from then on every reading is delivered, as before.
  let readingsSubscribed = false;

  const broker = await Aedes.createBroker({
    // Units that reconnect with a backlog pipeline PUBLISHes right behind CONNECT, before
    // authentication has finished; queue them rather than drop the connection.
    queueLimit: 5000,
    concurrency: 1000,
    drainTimeout: 30_000,
    preConnect(client, packet, done) {
      requestedClientId.set(client, packet.clientId ?? '');
      done(null, true);
    },
    authenticate(client, username, password, done) {
      if (open) return done(null, true);
      const hash = username ? secrets.get(username) : undefined;
      if (!username || !hash || !password)
        return refuseAuth(client, 'auth_failed', username, done, authError('bad username or password'));
      // A unit connects as itself: client id = unitId, or empty. Any other id could be another
      // unit's, and accepting it would end that unit's connection and hand over its session.
      const asked = requestedClientId.get(client) ?? client.id;
      if (asked !== '' && asked !== username)
        return refuseAuth(
          client,
          'client_id_refused',
          username,
          done,
          authError(`client id must be the unit id ${username} or empty`, IDENTIFIER_REJECTED),
        );
      const digest = createHash('sha256').update(password).digest();
      const known = verified.get(username);
      if (known && timingSafeEqual(known, digest)) {
        unitOf.set(client, username);
        return done(null, true);
      }
      verifySecretAsync(password, hash).then(
        (ok) => {
          if (!ok)
            return refuseAuth(client, 'auth_failed', username, done, authError('bad username or password'));
          verified.set(username, digest);
          unitOf.set(client, username);
          done(null, true);
        },
        (e: unknown) => done(authError(String(e)), false),
      );
    },
    authorizePublish(client, packet, done) {
      const topic = packet.topic;
      if (topic.startsWith(SYS_PREFIX)) return done(new Error(`${SYS_PREFIX} topic is reserved`));
      const t = parseUnitTopic(topic);
      if (!open) {
        const unitId = client ? unitOf.get(client) : undefined;
        // ACL: a unit publishes only under its own unitId, and never on a command topic.
        if (!t || !unitId || t.unitId !== unitId || t.kind === 'cmd') {
          return done(deny(client, topic, `unit ${unitId ?? '?'} may not publish on ${topic}`, 'acl'));
        }
      }
      if (t && (t.kind === 'status' || t.kind === 'cmd')) return done(null);
      if (closing) return done(deny(client, topic, 'agent is shutting down', 'closing'));
      if (ingestor.refusing) {
        ingestor.noteFull();
        return done(
          deny(client, topic, 'disk budget reached: publish refused, keep it and retry', 'buffer_full'),
        );
      }
      ingestor.submit(
        {
          topic,
          payload: Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload),
          clientId: client?.id,
          parsedTopic: t,
        },
        done,
      );
    },
    authorizeSubscribe(client, sub, done) {
      if (open) {
        if (mayMatchReadings(sub.topic)) readingsSubscribed = true;
        return done(null, sub);
      }
      const unitId = unitOf.get(client);
      // A unit subscribes to nothing but its own command topic; anything else gets a
      // failure return code in SUBACK [MQTT-3.9.3] rather than a dropped connection.
      if (unitId && sub.topic === unitTopic(unitId, 'cmd')) return done(null, sub);
      denials.record(sourceOf(client), 'acl_denied', {
        clientId: client.id?.slice(0, 128),
        unitId,
        topic: sub.topic.slice(0, 256),
      });
      metrics.refused.inc({ reason: 'acl' });
      done(null, null);
    },
  });
  // aedes' own calls are publish(packet, client, done) (its typings show publish(packet, done)).
  type Done = (error?: Error | null) => void;
  type Publish = (
    packet: { topic: string; retain?: boolean },
    client: Client | null | Done,
    done?: Done,
  ) => void;
  const publish = (broker.publish as unknown as Publish).bind(broker);
  (broker as unknown as { publish: Publish }).publish = (packet, client, done) => {
    // A retained reading is stored by aedes for later subscribers: delivered as before.
    if (!readingsSubscribed && !packet.retain && isReadingTopic(packet.topic)) {
      // Asynchronous, as aedes' own delivery ends.
      process.nextTick(typeof client === 'function' ? client : (done ?? noop), null);
      return;
    }
    publish(packet, client, done);
  };
  broker.on('clientError', (client, err) =>
    log.debug({ event: 'mqtt.client_error', clientId: client?.id, err: err.message }),
  );
  broker.on('connectionError', (client, err) =>
    log.debug({ event: 'mqtt.connection_error', clientId: client?.id, err: err.message }),
  );

  const servers: net.Server[] = [];
  const listen = (srv: net.Server, port: number) =>
    new Promise<number>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(port, mqtt.host, () => {
        srv.off('error', reject);
        servers.push(srv);
        resolve((srv.address() as net.AddressInfo).port);
      });
    });
  let guardMissing = false;
  let fastPathMissing = false;
  const handle = (conn: net.Socket) => {
    const client = broker.handle(conn);
    const guarded = limitPacketSize(client, mqtt.maxPacketBytes, (bytes) => {
      metrics.refused.inc({ reason: 'too_large' });
      denials.record(conn.remoteAddress ?? 'unknown', 'too_large', {
        clientId: client.id?.slice(0, 128),
        bytes,
        limit: mqtt.maxPacketBytes,
      });
    });
    if (!guarded && !guardMissing) {
      guardMissing = true;
      log.error(
        { event: 'mqtt.packet_limit_unavailable' },
        'the broker library changed: packet size limit not enforced',
      );
    }
    // A packet over the limit is left to mqtt-packet, so the size hook above refuses it.
    const parser = (client as unknown as { _parser?: MqttParser })._parser;
    if (parser && fastPublishPath(parser, mqtt.maxPacketBytes)) return;
    if (!fastPathMissing) {
      fastPathMissing = true;
      log.warn(
        { event: 'mqtt.fast_path_unavailable' },
        'the broker library changed: publishes parsed by mqtt-packet alone',
      );
    }
  };
  const port = await listen(net.createServer(handle), mqtt.port);
  let tlsPort: number | null = null;
  if (mqtt.tls) {
    const ctx = {
      cert: fs.readFileSync(mqtt.tls.certFile),
      key: fs.readFileSync(mqtt.tls.keyFile),
      ...(mqtt.tls.caFile ? { ca: fs.readFileSync(mqtt.tls.caFile) } : {}),
    };
    tlsPort = await listen(tls.createServer(ctx, handle), mqtt.tls.port);
  }

  return {
    port,
    tlsPort,
    clients: () => broker.connectedClients,
    async close() {
      closing = true;
      // server.close stops new connections now and resolves once the open ones are gone,
      // which broker.close brings about.
      const closed = Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
      ingestor.flush();
      await new Promise<void>((r) => broker.close(() => r()));
      await closed;
      denials.close();
    },
  };
}

const noop = () => {};

/** A topic named like a unit's reading: `ironledger/v1/units/…/telemetry` or `…/aemp`. */
function isReadingTopic(topic: string): boolean {
  return topic.startsWith(READINGS_PREFIX) && (topic.endsWith('/telemetry') || topic.endsWith('/aemp'));
}
const READINGS_PREFIX = `${TOPIC_PREFIX}/`;

/**
 * Whether a subscription filter could match the topic of a unit's reading (`isReadingTopic`).
 * A filter starting with `$` matches only `$` topics [MQTT-4.7.2-1]; one without wildcards only
 * the topic it names; any other is taken to match.
 */
export function mayMatchReadings(filter: string): boolean {
  if (filter.startsWith('$')) return false;
  if (!filter.includes('+') && !filter.includes('#')) return isReadingTopic(filter);
  return true;
}
