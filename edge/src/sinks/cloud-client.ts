/**
 * The HTTP side of Contract 2, over undici: one keep-alive pool to the cloud, gzip bodies,
 * bearer token, and a deadline per request. Returns what happened; deciding is the
 * forwarder's (retry-policy.ts).
 */
import fs from 'node:fs';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import { Agent, request } from 'undici';

const gzip = promisify(gzipCb);

export type HttpResult =
  | { status: number; retryAfter: string | null; body: string; latencyMs: number }
  | { error: string; latencyMs: number };

export class CloudClient {
  private readonly agent: Agent;
  private readonly base: string;

  constructor(
    url: string,
    private readonly token: string,
    private readonly timeoutMs: number,
    private readonly userAgent: string,
    /** PEM file of a private CA for an https:// cloud, trusted beside the system CAs. */
    caFile?: string,
  ) {
    this.base = url.endsWith('/') ? url : `${url}/`;
    this.agent = new Agent({
      connections: 16, // ≥ cloud.maxInFlight (at most 16): one socket per request in flight
      connectTimeout: Math.min(timeoutMs, 10_000),
      keepAliveTimeout: 30_000,
      ...(caFile ? { connect: { ca: [...tls.rootCertificates, fs.readFileSync(caFile, 'utf8')] } } : {}),
    });
  }

  url(path: string): string {
    return new URL(path.replace(/^\//, ''), this.base).toString();
  }

  async post(path: string, json: string, opts: { gzip: boolean }): Promise<HttpResult> {
    const started = performance.now();
    try {
      const body = opts.gzip ? await gzip(Buffer.from(json, 'utf8')) : Buffer.from(json, 'utf8');
      const res = await request(this.url(path), {
        method: 'POST',
        dispatcher: this.agent,
        headers: {
          authorization: `Bearer ${this.token}`,
          'content-type': 'application/json',
          ...(opts.gzip ? { 'content-encoding': 'gzip' } : {}),
          'user-agent': this.userAgent,
        },
        body,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      const text = await res.body.text();
      const ra = res.headers['retry-after'];
      return {
        status: res.statusCode,
        retryAfter: Array.isArray(ra) ? (ra[0] ?? null) : (ra ?? null),
        body: text,
        latencyMs: performance.now() - started,
      };
    } catch (e) {
      const err = e as { code?: string; name?: string; message?: string; cause?: { code?: string } };
      const code = err.code ?? err.cause?.code ?? err.name ?? 'ERROR';
      return { error: `${code}: ${err.message ?? String(e)}`, latencyMs: performance.now() - started };
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
