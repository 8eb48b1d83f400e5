/**
 * An embedded MQTT broker for tests: aedes on a real TCP socket on 127.0.0.1, recording
 * every PUBLISH it accepts, with switchable unit authentication and the "publish only under
 * your own unit id" rule. `stop()` drops every connection at once (a gateway killed with
 * SIGKILL, as far as its clients can tell); `start()` brings it back on the same port.
 */
import net from 'node:net';
import { parseUnitTopic } from '@ironledger/contracts';
import { Aedes } from 'aedes';

export interface Received {
  clientId: string | null;
  topic: string;
  payload: string;
  dup: boolean;
  retain: boolean;
}

export interface TestBrokerOptions {
  /** unitId → secret; when given, CONNECT must carry username = unitId and that secret. */
  secrets?: Record<string, string>;
  /** Refuse (by closing the connection) a publish whose topic names another unit. */
  enforceOwnTopic?: boolean;
  port?: number;
  /** Refuse (closing the connection) any publish this returns true for. */
  refuse?: (topic: string, payload: string) => boolean;
}

export class TestBroker {
  received: Received[] = [];
  refused: Array<{ clientId: string; topic: string }> = [];
  private broker: Aedes | null = null;
  private server: net.Server | null = null;
  private sockets = new Set<net.Socket>();
  port = 0;

  constructor(private readonly o: TestBrokerOptions = {}) {
    this.port = o.port ?? 0;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const broker = await Aedes.createBroker();
    const secrets = this.o.secrets;
    broker.authenticate = (client, username, password, done) => {
      (client as unknown as { unitUser?: string }).unitUser = username;
      if (!secrets) return done(null, true);
      const ok =
        username !== undefined &&
        secrets[username] !== undefined &&
        password?.toString() === secrets[username];
      done(null, ok);
    };
    broker.authorizePublish = (client, packet, done) => {
      const t = parseUnitTopic(packet.topic);
      const user = (client as unknown as { unitUser?: string } | null)?.unitUser ?? null;
      if (this.o.enforceOwnTopic && client && t && user !== t.unitId) {
        this.refused.push({ clientId: client.id, topic: packet.topic });
        return done(new Error('publish under another unit id'));
      }
      if (this.o.refuse?.(packet.topic, packet.payload.toString())) {
        this.refused.push({ clientId: client?.id ?? '', topic: packet.topic });
        return done(new Error('refused'));
      }
      this.received.push({
        clientId: client?.id ?? null,
        topic: packet.topic,
        payload: packet.payload.toString(),
        dup: packet.dup === true,
        retain: packet.retain === true,
      });
      done(null);
    };
    const server = net.createServer((socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      broker.handle(socket);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as net.AddressInfo).port;
    this.broker = broker;
    this.server = server;
  }

  /** Every connection dropped at once, listener closed. */
  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    const server = this.server;
    const broker = this.broker;
    this.server = null;
    this.broker = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    if (broker) await new Promise<void>((resolve) => broker.close(() => resolve()));
  }

  /** Telemetry/AEMP messages as received, per unit, in arrival order. */
  readingsOf(unitId: string): Received[] {
    return this.received.filter((r) => {
      const t = parseUnitTopic(r.topic);
      return t?.unitId === unitId && (t.kind === 'telemetry' || t.kind === 'aemp');
    });
  }
}
