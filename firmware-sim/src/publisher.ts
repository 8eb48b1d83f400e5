/**
 * One unit's link to the broker: an MQTT 3.1.1 client authenticated as the unit, its
 * `status` topic (retained `online`, last will `offline`), and the unit's own offline
 * buffer. Promise: a message handed to `send` stays in the buffer until the broker has
 * acknowledged it (PUBACK, QoS 1); it is resent after every reconnect until then, whatever
 * happened to the connection or to the client object in between.
 *
 * The mqtt client keeps unacknowledged QoS 1 packets and resends them (DUP=1) when it
 * reconnects by itself; the unit's buffer covers what the client cannot: a power-cycled
 * modem (a fresh client, as in a `gap`) and publishes that the client failed outright.
 */

import { unitTopic } from '@ironledger/contracts';
import type { Logger } from '@ironledger/logger';
import mqtt, { type IClientOptions, type MqttClient, Store } from 'mqtt';

type StoredPacket = Parameters<Store['put']>[0];

/**
 * The client's packet store, with one fix: a QoS 1 PUBLISH sent again after a reconnect
 * carries DUP=1 [MQTT-3.3.1-1], so the receiver can see it is a redelivery. The store is
 * read back only to resend what was never acknowledged, which is where the flag is set.
 */
class RedeliveryStore extends Store {
  private readonly held = new Map<number, StoredPacket>();

  override put(packet: StoredPacket, cb: () => void): this {
    if (packet.messageId !== undefined) this.held.set(packet.messageId, packet);
    return super.put(packet, cb);
  }

  override del(packet: Pick<StoredPacket, 'messageId'>, cb: Parameters<Store['del']>[1]): this {
    if (packet.messageId !== undefined) this.held.delete(packet.messageId);
    return super.del(packet, cb);
  }

  override createStream(): ReturnType<Store['createStream']> {
    for (const p of this.held.values()) if (p.cmd === 'publish' && p.qos > 0) p.dup = true;
    return super.createStream();
  }
}

export interface Outgoing {
  topic: string;
  payload: string;
}

interface Pending<T extends Outgoing> {
  msg: T;
  firstSentAt: number;
  /** Client generation the message was last handed to. */
  generation: number;
}

export interface LinkOptions<T extends Outgoing> {
  brokerUrl: string;
  unitId: string;
  password?: string;
  qos: 0 | 1;
  /** Messages in flight before `send` waits (the unit's window). */
  maxInflight: number;
  reconnectPeriodMs: number;
  connectTimeoutMs: number;
  onAck(msg: T, latencyMs: number): void;
  logger: Logger;
}

export class UnitLink<T extends Outgoing> {
  private client: MqttClient | null = null;
  private generation = 0;
  private nextId = 0;
  private readonly pending = new Map<number, Pending<T>>();
  private waiters: Array<() => void> = [];
  private closed = false;
  connects = 0;
  disconnects = 0;
  lastError: string | null = null;

  constructor(private readonly o: LinkOptions<T>) {}

  get inflight(): number {
    return this.pending.size;
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  /** Opens (or re-opens, after `drop`) the connection; resends the unit's buffer on connect. */
  open(): void {
    const gen = ++this.generation;
    const statusTopic = unitTopic(this.o.unitId, 'status');
    const opts: IClientOptions = {
      clientId: this.o.unitId,
      username: this.o.unitId,
      ...(this.o.password !== undefined ? { password: this.o.password } : {}),
      protocolVersion: 4,
      clean: true,
      keepalive: 30,
      reconnectPeriod: this.o.reconnectPeriodMs,
      connectTimeout: this.o.connectTimeoutMs,
      // A refused CONNECT (the gateway still loading its unit list) is retried like any outage.
      reconnectOnConnackError: true,
      will: { topic: statusTopic, payload: Buffer.from('offline'), qos: 1, retain: true },
      outgoingStore: new RedeliveryStore(),
    };
    const client = mqtt.connect(this.o.brokerUrl, opts);
    this.client = client;
    client.on('connect', () => {
      if (gen !== this.generation) return;
      this.connects++;
      client.publish(statusTopic, 'online', { qos: 1, retain: true }, () => {});
      // The client resends its own store before it reports `connect`; what it does not hold
      // (a fresh client after a power cycle, packets it failed) comes from the unit's buffer.
      for (const [id, p] of this.pending) if (p.generation !== gen) this.publish(id, p);
    });
    client.on('close', () => {
      if (gen === this.generation && !this.closed) this.disconnects++;
    });
    client.on('error', (err) => {
      if (this.lastError !== err.message)
        this.o.logger.warn(
          { event: 'sim.unit.error', unitId: this.o.unitId, err: err.message },
          'unit link error',
        );
      this.lastError = err.message;
    });
  }

  /** Stops waiting for room in the window (the run is being abandoned). */
  stopWaiting(): void {
    this.closed = true;
    this.wake();
  }

  /**
   * Fire and forget (QoS 0), outside the buffer. For payloads that are not readings: a
   * gateway that answers garbage by dropping the connection must not trap the unit in a
   * loop of resending it.
   */
  sendUntracked(msg: Outgoing): void {
    this.client?.publish(msg.topic, msg.payload, { qos: 0 });
  }

  /** Waits for room in the window, then publishes; false if the link stopped meanwhile. */
  async send(msg: T): Promise<boolean> {
    while (this.pending.size >= this.o.maxInflight && !this.closed) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    if (this.closed) return false;
    const id = this.nextId++;
    const p: Pending<T> = { msg, firstSentAt: Date.now(), generation: this.generation };
    if (this.o.qos === 0) {
      this.client?.publish(msg.topic, msg.payload, { qos: 0 });
      return true;
    }
    this.pending.set(id, p);
    this.publish(id, p);
    return true;
  }

  private publish(id: number, p: Pending<T>): void {
    const client = this.client;
    if (!client) return;
    const gen = this.generation;
    p.generation = gen;
    client.publish(p.msg.topic, p.msg.payload, { qos: 1 }, (err) => {
      const still = this.pending.get(id);
      if (!still) return;
      if (err) {
        // The client gave up on this packet (ended, or refused it): keep it in the unit's
        // buffer; the next fresh connection resends it.
        if (still.generation === gen) still.generation = -1;
        if (gen === this.generation && !this.closed)
          setTimeout(() => this.retry(id), this.o.reconnectPeriodMs);
        return;
      }
      this.pending.delete(id);
      this.o.onAck(still.msg, Date.now() - still.firstSentAt);
      this.wake();
    });
  }

  private retry(id: number): void {
    const p = this.pending.get(id);
    if (p && p.generation === -1 && this.client?.connected) this.publish(id, p);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Cuts the TCP connection now, without DISCONNECT: the broker sends the last will. */
  cut(): void {
    this.client?.stream?.destroy();
  }

  /** The link goes dark (modem off): no reconnect until `open` is called again. */
  drop(): void {
    const c = this.client;
    this.generation++;
    this.client = null;
    if (c) {
      c.removeAllListeners('connect');
      c.on('error', () => {});
      c.end(true);
    }
  }

  /** Resolves when nothing is waiting for a PUBACK, or at `deadline()` returning true. */
  async drain(giveUp: () => boolean): Promise<boolean> {
    while (this.pending.size > 0) {
      if (giveUp()) return false;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 200);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return true;
  }

  /** Messages never acknowledged (after a give-up). */
  unacknowledged(): T[] {
    return [...this.pending.values()].map((p) => p.msg);
  }

  /** Says goodbye: retained `offline`, DISCONNECT. Forced after `timeoutMs`. */
  async close(timeoutMs = 2000): Promise<void> {
    this.closed = true;
    this.wake();
    const c = this.client;
    if (!c) return;
    const statusTopic = unitTopic(this.o.unitId, 'status');
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        c.end(true, {}, () => resolve());
      }, timeoutMs);
      const finish = () => {
        clearTimeout(t);
        c.end(false, {}, () => resolve());
      };
      if (c.connected) c.publish(statusTopic, 'offline', { qos: 1, retain: true }, finish);
      else {
        clearTimeout(t);
        c.end(true, {}, () => resolve());
      }
    });
  }
}
