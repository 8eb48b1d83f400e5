/**
 * A fault-injecting TCP proxy for HTTP between the edge and the cloud. Each new connection
 * takes the mode in force when it opens; `setMode` cuts the open ones, so a pooled
 * keep-alive connection cannot carry a request past a change (and a change is a cut, as on
 * a real uplink).
 *
 *   pass          bytes both ways, untouched
 *   delay         both directions held back by `delayMs` per chunk (order kept)
 *   reset         accepted and destroyed at once (ECONNRESET)
 *   status500     answers `500` itself, nothing reaches the cloud
 *   status503     answers `503` with `Retry-After: {retryAfterS}`, nothing reaches the cloud
 *   hang          reads the request and never answers (the client's timeout fires)
 *   drop_answer   forwards the request, swallows the cloud's answer: stored, never confirmed
 *
 * Emits `request` when a forwarded connection carries its first bytes (a batch is in flight),
 * which lets a chaos run kill a process mid-request.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';

export type ProxyMode = 'pass' | 'delay' | 'reset' | 'status500' | 'status503' | 'hang' | 'drop_answer';

export interface FaultProxyOptions {
  targetHost: string;
  targetPort: number;
  host?: string;
  port?: number;
}

export class FaultProxy extends EventEmitter {
  private server: net.Server | null = null;
  private readonly open = new Set<net.Socket>();
  private mode: ProxyMode = 'pass';
  private delayMs = 0;
  private retryAfterS = 1;
  /** Connections accepted, by the mode they were handled in. */
  readonly connections: Record<ProxyMode, number> = {
    pass: 0,
    delay: 0,
    reset: 0,
    status500: 0,
    status503: 0,
    hang: 0,
    drop_answer: 0,
  };
  port = 0;

  constructor(private readonly opts: FaultProxyOptions) {
    super();
  }

  static async start(opts: FaultProxyOptions): Promise<FaultProxy> {
    const p = new FaultProxy(opts);
    await p.listen();
    return p;
  }

  get url(): string {
    return `http://${this.opts.host ?? '127.0.0.1'}:${this.port}`;
  }

  currentMode(): ProxyMode {
    return this.mode;
  }

  /** Switches mode and cuts every open connection (they were opened under the old one). */
  setMode(mode: ProxyMode, o: { delayMs?: number; retryAfterS?: number } = {}): void {
    this.mode = mode;
    this.delayMs = o.delayMs ?? this.delayMs;
    this.retryAfterS = o.retryAfterS ?? this.retryAfterS;
    this.cutAll();
  }

  cutAll(): void {
    for (const s of this.open) s.destroy();
    this.open.clear();
  }

  private track(s: net.Socket): void {
    this.open.add(s);
    s.on('close', () => this.open.delete(s));
    s.on('error', () => {});
  }

  private listen(): Promise<void> {
    this.server = net.createServer((client) => this.handle(client));
    return new Promise((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.opts.port ?? 0, this.opts.host ?? '127.0.0.1', () => {
        this.port = (this.server!.address() as net.AddressInfo).port;
        resolve();
      });
    });
  }

  private handle(client: net.Socket): void {
    const mode = this.mode;
    this.connections[mode]++;
    this.track(client);
    switch (mode) {
      case 'reset':
        client.resetAndDestroy();
        return;
      case 'status500':
      case 'status503':
        this.answer(client, mode === 'status500' ? 500 : 503);
        return;
      case 'hang':
        client.resume(); // read and discard, never answer
        return;
      default:
        this.forward(client, mode);
    }
  }

  private answer(client: net.Socket, status: 500 | 503): void {
    let head = '';
    const onData = (d: Buffer) => {
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) {
        if (head.length > 64 * 1024) client.destroy();
        return;
      }
      client.off('data', onData);
      const body = JSON.stringify({ type: 'about:blank', title: 'injected fault', status });
      const extra = status === 503 ? `Retry-After: ${this.retryAfterS}\r\n` : '';
      client.end(
        `HTTP/1.1 ${status} ${status === 503 ? 'Service Unavailable' : 'Internal Server Error'}\r\n` +
          `content-type: application/problem+json\r\n${extra}content-length: ${Buffer.byteLength(body)}\r\n` +
          `connection: close\r\n\r\n${body}`,
      );
      client.resume();
    };
    client.on('data', onData);
  }

  private forward(client: net.Socket, mode: ProxyMode): void {
    const upstream = net.connect(this.opts.targetPort, this.opts.targetHost);
    this.track(upstream);
    const delay = mode === 'delay' ? this.delayMs : 0;
    const relay = (from: net.Socket, to: net.Socket, swallow: boolean) => {
      from.on('data', (d: Buffer) => {
        if (swallow) return;
        if (delay > 0) setTimeout(() => to.writable && to.write(d), delay);
        else if (to.writable) to.write(d);
      });
      from.on('end', () => {
        if (delay > 0) setTimeout(() => to.end(), delay);
        else to.end();
      });
    };
    let first = true;
    client.on('data', () => {
      if (first) {
        first = false;
        this.emit('request');
      }
    });
    relay(client, upstream, false);
    relay(upstream, client, mode === 'drop_answer');
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', closeBoth);
    upstream.on('close', () => {
      // drop_answer leaves the client waiting for an answer that never comes.
      if (mode !== 'drop_answer') client.destroy();
    });
  }

  async close(): Promise<void> {
    this.cutAll();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
