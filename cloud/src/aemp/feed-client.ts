/**
 * One maker's AEMP 2.0 feed over HTTP (undici): authenticated GETs of fleet and time-series
 * pages, parsed in the feed's dialect. A 429 (or 503) with Retry-After is an answer, not an
 * error: the caller waits that long. Links never lead to another origin (the feed's
 * credentials go only where the feed lives). Bodies are read up to `maxBodyBytes`.
 */
import {
  type AempDialect,
  type AempDocument,
  AempDocumentError,
  aempDialect,
  parseAempDocument,
} from '@ironledger/contracts';
import { type Dispatcher, request } from 'undici';
import { type AempFeedConfig, secretValue } from './config.js';

export type AempFeedErrorCode =
  | 'AEMP_FEED_AUTH'
  | 'AEMP_FEED_HTTP'
  | 'AEMP_FEED_NETWORK'
  | 'AEMP_FEED_TOO_LARGE'
  | 'AEMP_FEED_LINK'
  | 'AEMP_DOCUMENT_INVALID';

export class AempFeedError extends Error {
  override readonly name = 'AempFeedError';
  constructor(
    readonly code: AempFeedErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export type FeedAnswer =
  | { kind: 'ok'; doc: AempDocument; quotaLeft: number | null }
  | { kind: 'rate_limited'; retryAfterMs: number; quotaLeft: number | null };

/** Retry-After as delay-seconds or an HTTP date (RFC 9110 §10.2.3); default when absent. */
export function retryAfterMs(
  header: string | string[] | undefined,
  nowMs: number,
  defaultMs: number,
): number {
  const v = Array.isArray(header) ? header[0] : header;
  if (v === undefined || v.trim() === '') return defaultMs;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? defaultMs : Math.max(0, at - nowMs);
}

export class AempFeedClient {
  readonly dialect: AempDialect;
  private token: { value: string; expiresAtMs: number } | null = null;

  constructor(
    private readonly feed: AempFeedConfig,
    private readonly opts: { now: () => number; dispatcher?: Dispatcher } = { now: Date.now },
  ) {
    this.dialect = aempDialect(feed.dialect, feed.hints);
  }

  /** `{url}/Fleet/{page}` for the dialect's first page. */
  firstFleetPage(): string {
    return `${this.base()}/Fleet/${this.dialect.firstPage}`;
  }

  /** First page of one element's time series of one machine. */
  timeSeriesPage(equipmentId: string, element: string, fromIso: string, toIso: string): string {
    return `${this.base()}/Fleet/Equipment/${encodeURIComponent(equipmentId)}/${element}/${fromIso}/${toIso}/${this.dialect.firstPage}`;
  }

  /** Resolves a document's link against the page it came from; another origin is refused. */
  follow(href: string, from: string): string {
    let u: URL;
    try {
      u = new URL(href, from);
    } catch {
      throw new AempFeedError('AEMP_FEED_LINK', `link "${href.slice(0, 200)}" is not a URL`);
    }
    if (u.origin !== new URL(this.feed.url).origin)
      throw new AempFeedError('AEMP_FEED_LINK', `link to ${u.origin} leaves the feed's origin; not followed`);
    return u.toString();
  }

  async get(url: string): Promise<FeedAnswer> {
    const headers: Record<string, string> = {
      accept: this.dialect.format === 'json' ? 'application/json' : 'application/xml',
    };
    const auth = await this.authorization();
    if (auth) headers.authorization = auth;
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, {
        method: 'GET',
        headers,
        headersTimeout: this.feed.timeoutMs,
        bodyTimeout: this.feed.timeoutMs,
        ...(this.opts.dispatcher ? { dispatcher: this.opts.dispatcher } : {}),
      });
    } catch (e) {
      throw new AempFeedError('AEMP_FEED_NETWORK', `GET ${url}: ${(e as Error).message}`, { cause: e });
    }
    const quotaLeft = quotaHeader(res.headers['x-ratelimit-remaining']);
    if (res.statusCode === 429 || res.statusCode === 503) {
      await res.body.dump();
      return {
        kind: 'rate_limited',
        retryAfterMs: retryAfterMs(res.headers['retry-after'], this.opts.now(), 60_000), // 1 min
        quotaLeft: res.statusCode === 429 ? (quotaLeft ?? 0) : quotaLeft,
      };
    }
    if (res.statusCode === 401 || res.statusCode === 403) {
      await res.body.dump();
      this.token = null; // an expired or revoked OAuth2 token is fetched anew next time
      throw new AempFeedError(
        'AEMP_FEED_AUTH',
        `GET ${url}: ${res.statusCode}; check the feed's credentials`,
      );
    }
    if (res.statusCode < 200 || res.statusCode >= 300) {
      await res.body.dump();
      throw new AempFeedError('AEMP_FEED_HTTP', `GET ${url}: HTTP ${res.statusCode}`);
    }
    const text = await readLimited(res.body, this.feed.maxBodyBytes, url);
    try {
      return { kind: 'ok', doc: parseAempDocument(text, this.dialect), quotaLeft };
    } catch (e) {
      if (e instanceof AempDocumentError)
        throw new AempFeedError('AEMP_DOCUMENT_INVALID', `GET ${url}: ${e.message}`, { cause: e });
      throw e;
    }
  }

  private base(): string {
    return this.feed.url.replace(/\/+$/, '');
  }

  private async authorization(): Promise<string | null> {
    const a = this.feed.auth;
    if (a.kind === 'none') return null;
    if (a.kind === 'basic')
      return `Basic ${Buffer.from(`${a.username}:${secretValue(a.password)}`).toString('base64')}`;
    if (a.kind === 'bearer') return `Bearer ${secretValue(a.token)}`;
    if (this.token && this.token.expiresAtMs > this.opts.now()) return `Bearer ${this.token.value}`;
    // RFC 6749 §4.4 client credentials, client authenticated with HTTP Basic (§2.3.1).
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (a.scope) form.set('scope', a.scope);
    const basic = Buffer.from(
      `${encodeURIComponent(a.clientId)}:${encodeURIComponent(secretValue(a.clientSecret))}`,
    ).toString('base64');
    let res: Dispatcher.ResponseData;
    try {
      res = await request(a.tokenUrl, {
        method: 'POST',
        headers: {
          authorization: `Basic ${basic}`,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: form.toString(),
        headersTimeout: this.feed.timeoutMs,
        bodyTimeout: this.feed.timeoutMs,
        ...(this.opts.dispatcher ? { dispatcher: this.opts.dispatcher } : {}),
      });
    } catch (e) {
      throw new AempFeedError('AEMP_FEED_NETWORK', `token request: ${(e as Error).message}`, { cause: e });
    }
    const text = await readLimited(res.body, 64 * 1024, a.tokenUrl); // 64 KiB: a token answer is small
    if (res.statusCode !== 200)
      throw new AempFeedError('AEMP_FEED_AUTH', `token endpoint answered ${res.statusCode}`);
    let body: { access_token?: unknown; expires_in?: unknown };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new AempFeedError('AEMP_FEED_AUTH', 'token endpoint answered no JSON');
    }
    if (typeof body.access_token !== 'string' || body.access_token === '')
      throw new AempFeedError('AEMP_FEED_AUTH', 'token endpoint answered no access_token');
    const lifeS = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 300;
    // Renewed 30 s early so a token never expires between being read and being used.
    this.token = { value: body.access_token, expiresAtMs: this.opts.now() + Math.max(1, lifeS - 30) * 1000 };
    return `Bearer ${this.token.value}`;
  }
}

function quotaHeader(v: string | string[] | undefined): number | null {
  const s = Array.isArray(v) ? v[0] : v;
  return s !== undefined && /^\d{1,12}$/.test(s.trim()) ? Number(s.trim()) : null;
}

async function readLimited(
  body: Dispatcher.ResponseData['body'],
  limit: number,
  url: string,
): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      body.destroy();
      throw new AempFeedError('AEMP_FEED_TOO_LARGE', `GET ${url}: body larger than ${limit} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
