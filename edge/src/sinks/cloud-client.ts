/**
 * The HTTP side of Contract 2, over node:http(s): one keep-alive pool to the cloud, gzip
 * bodies, bearer token, and a deadline per request. Returns what happened; deciding is the
 * forwarder's (retry-policy.ts). Node's own client, not undici: the forwarder's thread loads
 * this module, and undici's ~14 MB of RSS per thread bought nothing a single peer needs.
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import { BodyBuffers, type JsonPieces } from './body-buffers.js';

const gzip = promisify(gzipCb);

/** Sockets to the cloud: `cloud.maxInFlight` is at most 16. */
const MAX_SOCKETS = 16;

/** The cloud answers a batch in a few hundred bytes: more than this is not an answer. */
const MAX_ANSWER_BYTES = 1024 * 1024;

export type HttpResult =
  | { status: number; retryAfter: string | null; body: string; latencyMs: number }
  | { error: string; latencyMs: number };

export class CloudClient {
  private readonly agent: http.Agent;
  private readonly base: string;
  private readonly transport: typeof http | typeof https;
  /** One body buffer per socket the pool may hold. */
  private readonly bodies = new BodyBuffers(MAX_SOCKETS);

  constructor(
    url: string,
    private readonly token: string,
    private readonly timeoutMs: number,
    private readonly userAgent: string,
    /** PEM file of a private CA for an https:// cloud, trusted beside the system CAs. */
    caFile?: string,
  ) {
    this.base = url.endsWith('/') ? url : `${url}/`;
    const secure = new URL(this.base).protocol === 'https:';
    this.transport = secure ? https : http;
    // One socket per request in flight (cloud.maxInFlight is at most 16); idle sockets are
    // kept for the next batch and dropped before the server's Keep-Alive timeout.
    const pool = {
      keepAlive: true,
      maxSockets: MAX_SOCKETS,
      maxFreeSockets: MAX_SOCKETS,
      scheduling: 'lifo' as const,
    };
    this.agent = secure
      ? new https.Agent({
          ...pool,
          ...(caFile ? { ca: [...tls.rootCertificates, fs.readFileSync(caFile, 'utf8')] } : {}),
        })
      : new http.Agent(pool);
  }

  url(path: string): string {
    return new URL(path.replace(/^\//, ''), this.base).toString();
  }

  /** POSTs `json`: a text, or pieces written straight into a kept buffer (`BodyBuffers`). */
  async post(path: string, json: string | JsonPieces, opts: { gzip: boolean }): Promise<HttpResult> {
    const started = performance.now();
    const failed = (e: unknown): HttpResult => {
      const err = e as { code?: string; name?: string; message?: string; cause?: { code?: string } };
      const code = err.code ?? err.cause?.code ?? err.name ?? 'ERROR';
      return { error: `${code}: ${err.message ?? String(e)}`, latencyMs: performance.now() - started };
    };
    let body: Buffer;
    try {
      if (typeof json === 'string')
        body = opts.gzip ? await gzip(Buffer.from(json, 'utf8')) : Buffer.from(json, 'utf8');
      else {
        const text = this.bodies.write(json);
        try {
          body = opts.gzip ? await gzip(text) : Buffer.from(text);
        } finally {
          this.bodies.release(text);
        }
      }
    } catch (e) {
      return failed(e);
    }
    return new Promise<HttpResult>((resolve) => {
      const req = this.transport.request(
        this.url(path),
        {
          method: 'POST',
          agent: this.agent,
          headers: {
            authorization: `Bearer ${this.token}`,
            'content-type': 'application/json',
            'content-length': body.length,
            ...(opts.gzip ? { 'content-encoding': 'gzip' } : {}),
            'user-agent': this.userAgent,
          },
          // The whole exchange, connect to last byte of the answer.
          signal: AbortSignal.timeout(this.timeoutMs),
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_ANSWER_BYTES) {
              const e = Object.assign(new Error(`answer larger than ${MAX_ANSWER_BYTES} bytes`), {
                code: 'ANSWER_TOO_LARGE',
              });
              res.destroy(e);
              req.destroy(e);
              return;
            }
            chunks.push(c);
          });
          res.on('error', (e) => resolve(failed(e)));
          // A connection closed before the answer's last byte: not an answer.
          res.on('close', () => {
            if (!res.complete)
              resolve(failed(Object.assign(new Error('answer cut short'), { code: 'ECONNRESET' })));
          });
          res.on('end', () => {
            const ra = res.headers['retry-after'];
            resolve({
              status: res.statusCode ?? 0,
              retryAfter: ra ?? null,
              body: Buffer.concat(chunks).toString('utf8'),
              latencyMs: performance.now() - started,
            });
          });
        },
      );
      req.on('error', (e) => resolve(failed(e)));
      req.end(body);
    });
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }
}
