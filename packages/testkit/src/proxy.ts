/**
 * A round-robin HTTP reverse proxy for tests that run several cloud replicas: each request
 * goes to the next upstream in turn, as a load balancer in front of stateless replicas would.
 *
 * `duplicate(req, n)` picks requests to send to two upstreams at the same moment (the n-th
 * request and the next upstream in the ring): the client gets a 2xx answer when either gave one,
 * else the first upstream's, and only after both have answered. This is how a test makes two replicas race
 * on the same batch. An upstream that refuses the connection (a killed replica) is skipped and
 * the next one tried; one that fails mid-request is answered 502, which clients retry.
 *
 * Limits: a request body larger than `bodyLimitBytes` is answered 413 without forwarding;
 * every upstream call has `upstreamTimeoutMs`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Dispatcher, request } from 'undici';

export interface ProxyRequestInfo {
  method: string;
  path: string;
}

export interface RoundRobinProxyOptions {
  /** Base URLs, e.g. http://127.0.0.1:34567. */
  upstreams: string[];
  /** Return true to send this request to two upstreams at once. `n` counts requests from 0. */
  duplicate?: (req: ProxyRequestInfo, n: number) => boolean;
  bodyLimitBytes?: number;
  upstreamTimeoutMs?: number;
}

export interface ProxyStats {
  requests: number;
  /** Requests sent to two upstreams at once. */
  duplicated: number;
  /** Upstream calls per upstream URL (a duplicated request counts on both). */
  perUpstream: Record<string, number>;
  /** Upstream calls that failed at the socket (refused, reset). */
  upstreamErrors: number;
}

export interface RoundRobinProxy {
  url: string;
  stats(): ProxyStats;
  /** Replaces the ring (a replica restarted on another port). */
  setUpstreams(upstreams: string[]): void;
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
]);

interface UpstreamAnswer {
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
}

export async function startRoundRobinProxy(opts: RoundRobinProxyOptions): Promise<RoundRobinProxy> {
  if (opts.upstreams.length === 0) throw new Error('a proxy needs at least one upstream');
  let upstreams = [...opts.upstreams];
  const bodyLimitBytes = opts.bodyLimitBytes ?? 32 * 1024 * 1024; // 32 MiB
  const upstreamTimeoutMs = opts.upstreamTimeoutMs ?? 30_000; // 30 s
  let next = 0;
  const stats: ProxyStats = { requests: 0, duplicated: 0, perUpstream: {}, upstreamErrors: 0 };

  const forwardOnce = async (
    base: string,
    method: string,
    path: string,
    headers: Record<string, string | string[]>,
    body: Buffer | null,
  ): Promise<UpstreamAnswer> => {
    stats.perUpstream[base] = (stats.perUpstream[base] ?? 0) + 1;
    const res = await request(new URL(path, base), {
      method: method as Dispatcher.HttpMethod,
      headers,
      body,
      headersTimeout: upstreamTimeoutMs,
      bodyTimeout: upstreamTimeoutMs,
    });
    const chunks: Buffer[] = [];
    for await (const c of res.body) chunks.push(c as Buffer);
    const out: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(res.headers))
      if (v !== undefined && !HOP_BY_HOP.has(k.toLowerCase())) out[k] = v;
    return { status: res.statusCode, headers: out, body: Buffer.concat(chunks) };
  };

  /** Tries upstreams from `start` on, skipping those that refuse the connection. */
  const forward = async (
    start: number,
    method: string,
    path: string,
    headers: Record<string, string | string[]>,
    body: Buffer | null,
  ): Promise<UpstreamAnswer> => {
    const ring = upstreams;
    let lastError: unknown;
    for (let i = 0; i < ring.length; i++) {
      const base = ring[(start + i) % ring.length]!;
      try {
        return await forwardOnce(base, method, path, headers, body);
      } catch (e) {
        stats.upstreamErrors++;
        lastError = e;
        // Only a refused connection proves the request never reached the upstream.
        if ((e as { code?: string }).code !== 'ECONNREFUSED') break;
      }
    }
    return {
      status: 502,
      headers: { 'content-type': 'application/problem+json' },
      body: Buffer.from(
        JSON.stringify({ type: 'about:blank', title: 'Bad Gateway', status: 502, detail: String(lastError) }),
      ),
    };
  };

  const server = http.createServer((req, res) => {
    const n = stats.requests++;
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > bodyLimitBytes) tooLarge = true;
      else chunks.push(c);
    });
    req.on('end', () => {
      if (tooLarge) {
        res.writeHead(413, { 'content-type': 'application/problem+json' });
        res.end(JSON.stringify({ title: 'Payload Too Large', status: 413 }));
        return;
      }
      const method = req.method ?? 'GET';
      const path = req.url ?? '/';
      const headers: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(req.headers))
        if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
      const body = method === 'GET' || method === 'HEAD' ? null : Buffer.concat(chunks);
      const start = next++ % upstreams.length;
      const twice = upstreams.length > 1 && (opts.duplicate?.({ method, path }, n) ?? false);
      let answer: Promise<UpstreamAnswer>;
      if (twice) {
        stats.duplicated++;
        const both = [
          forward(start, method, path, headers, body),
          forward(start + 1, method, path, headers, body),
        ];
        answer = firstSuccess(both);
      } else answer = forward(start, method, path, headers, body);
      answer.then(
        (a) => {
          res.writeHead(a.status, a.headers);
          res.end(a.body);
        },
        (e) => {
          res.writeHead(502, { 'content-type': 'application/problem+json' });
          res.end(JSON.stringify({ title: 'Bad Gateway', status: 502, detail: String(e) }));
        },
      );
    });
    req.on('error', () => res.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stats: () => structuredClone(stats),
    setUpstreams(u) {
      if (u.length === 0) throw new Error('a proxy needs at least one upstream');
      upstreams = [...u];
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A 2xx answer when there is one, else the first; waits for both either way. */
async function firstSuccess(answers: Array<Promise<UpstreamAnswer>>): Promise<UpstreamAnswer> {
  const settled = await Promise.all(answers);
  return settled.find((a) => a.status >= 200 && a.status < 300) ?? settled[0]!;
}
