import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { aempDialect, renderAempDocument } from '@ironledger/contracts';
import { afterEach, describe, expect, it } from 'vitest';
import { AempFeedConfigSchema } from './config.js';
import { AempFeedClient, AempFeedError, retryAfterMs } from './feed-client.js';

const servers: http.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

async function serve(handler: http.RequestListener): Promise<string> {
  const s = http.createServer(handler);
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

const page = renderAempDocument(
  {
    snapshotTime: '2026-11-03T10:00:00.000Z',
    links: {},
    equipment: [{ header: { EquipmentID: 'X', SerialNumber: 'S' }, readings: [] }],
  },
  aempDialect(),
);

describe('the AEMP feed client', () => {
  it('OAuth2 client credentials: one token for many requests, a new one after a 401', async () => {
    let tokens = 0;
    const seen: string[] = [];
    const base = await serve((req, res) => {
      if (req.url === '/oauth/token') {
        let body = '';
        req.on('data', (d) => {
          body += d;
        });
        req.on('end', () => {
          expect(body).toBe('grant_type=client_credentials&scope=aemp');
          expect(req.headers.authorization).toBe(`Basic ${Buffer.from('cid:csecret').toString('base64')}`);
          tokens++;
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ access_token: `tok${tokens}`, token_type: 'Bearer', expires_in: 3600 }));
        });
        return;
      }
      seen.push(req.headers.authorization ?? '');
      if (req.headers.authorization === 'Bearer tok1' && seen.length === 3) {
        res.writeHead(401).end(); // revoked at the maker
        return;
      }
      res.writeHead(200, { 'content-type': 'application/xml', 'x-ratelimit-remaining': '41' }).end(page);
    });
    const client = new AempFeedClient(
      AempFeedConfigSchema.parse({
        feedId: 'f',
        url: `${base}/aemp`,
        auth: {
          kind: 'oauth2',
          tokenUrl: `${base}/oauth/token`,
          clientId: 'cid',
          clientSecret: { value: 'csecret' },
          scope: 'aemp',
        },
      }),
      { now: Date.now },
    );
    const a = await client.get(`${base}/aemp/Fleet/1`);
    expect(a).toMatchObject({ kind: 'ok', quotaLeft: 41 });
    await client.get(`${base}/aemp/Fleet/1`);
    await expect(client.get(`${base}/aemp/Fleet/1`)).rejects.toMatchObject({ code: 'AEMP_FEED_AUTH' });
    await client.get(`${base}/aemp/Fleet/1`);
    expect(seen).toEqual(['Bearer tok1', 'Bearer tok1', 'Bearer tok1', 'Bearer tok2']);
    expect(tokens).toBe(2);
  });

  it('429 is an answer with its Retry-After; bodies past the limit and foreign links are refused', async () => {
    const base = await serve((req, res) => {
      if (req.url === '/aemp/Fleet/1') res.writeHead(429, { 'retry-after': '7' }).end();
      else res.writeHead(200, { 'content-type': 'application/xml' }).end(page + ' '.repeat(4096));
    });
    const client = new AempFeedClient(
      AempFeedConfigSchema.parse({ feedId: 'f', url: `${base}/aemp`, maxBodyBytes: 4096 }),
      { now: Date.now },
    );
    expect(await client.get(`${base}/aemp/Fleet/1`)).toEqual({
      kind: 'rate_limited',
      retryAfterMs: 7000,
      quotaLeft: 0,
    });
    await expect(client.get(`${base}/aemp/Fleet/2`)).rejects.toMatchObject({ code: 'AEMP_FEED_TOO_LARGE' });
    expect(client.follow('/aemp/Fleet/3', `${base}/aemp/Fleet/2`)).toBe(`${base}/aemp/Fleet/3`);
    expect(() => client.follow('http://elsewhere.example/Fleet/3', `${base}/aemp/Fleet/2`)).toThrow(
      AempFeedError,
    );
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2026-11-03T10:00:00Z');
    expect(retryAfterMs('120', now, 1)).toBe(120_000);
    expect(retryAfterMs('Tue, 03 Nov 2026 10:00:30 GMT', now, 1)).toBe(30_000);
    expect(retryAfterMs(undefined, now, 60_000)).toBe(60_000);
    expect(retryAfterMs('soon', now, 60_000)).toBe(60_000);
  });
});
