/** The HTTP client against a real node:http peer that misbehaves the ways a network does. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { CloudClient, type HttpResult } from './cloud-client.js';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function peer(handler: http.RequestListener) {
  const server = http.createServer(handler);
  let connections = 0;
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  closers.push(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections: () => connections,
  };
}

function client(url: string, timeoutMs = 2000) {
  const c = new CloudClient(url, 'tok-1', timeoutMs, 'test/1');
  closers.push(() => c.close());
  return c;
}

const errorOf = (r: HttpResult) => ('error' in r ? r.error : `status ${r.status}`);

describe('cloud client', () => {
  it('posts gzip JSON with the token and reads status, Retry-After and body; sockets are reused', async () => {
    const seen: Array<{ auth?: string; body: unknown }> = [];
    const p = await peer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({
          auth: req.headers.authorization,
          body: JSON.parse(gunzipSync(Buffer.concat(chunks)).toString()),
        });
        res.writeHead(503, { 'retry-after': '7', 'content-type': 'application/json' });
        res.end('{"status":503}');
      });
    });
    const c = client(p.url);
    for (let i = 0; i < 3; i++) {
      const r = await c.post('/v1/batches', JSON.stringify({ i }), { gzip: true });
      expect(r).toMatchObject({ status: 503, retryAfter: '7', body: '{"status":503}' });
    }
    expect(seen).toEqual([0, 1, 2].map((i) => ({ auth: 'Bearer tok-1', body: { i } })));
    expect(p.connections()).toBe(1);
  });

  it('an answer larger than 1 MiB is refused, not read into memory', async () => {
    const p = await peer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const more = () => {
        while (res.write(chunk)) {}
        res.once('drain', more);
      };
      more();
      res.on('close', () => res.removeAllListeners('drain'));
    });
    const r = await client(p.url).post('/v1/batches', '{}', { gzip: false });
    expect(errorOf(r)).toMatch(/^ANSWER_TOO_LARGE/);
  });

  it('a connection cut in the middle of the answer is an error (the batch is sent again)', async () => {
    const p = await peer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"batchId":"b","acc');
      setImmediate(() => res.socket?.destroy());
    });
    const r = await client(p.url).post('/v1/batches', '{}', { gzip: false });
    expect(errorOf(r)).toMatch(/ECONNRESET|aborted|cut short/);
  });

  it('a cloud that never answers is given up on at the deadline', async () => {
    const p = await peer(() => {});
    const started = Date.now();
    const r = await client(p.url, 300).post('/v1/batches', '{}', { gzip: false });
    expect(errorOf(r)).toMatch(/Timeout|Abort/i);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('a refused connection is an error, not a throw', async () => {
    const p = await peer(() => {});
    const url = p.url;
    await closers.pop()!();
    const r = await client(url).post('/v1/batches', '{}', { gzip: false });
    expect(errorOf(r)).toMatch(/^ECONNREFUSED/);
  });
});
