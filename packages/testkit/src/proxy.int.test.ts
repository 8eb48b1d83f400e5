import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from './ports.js';
import { type RoundRobinProxy, startRoundRobinProxy } from './proxy.js';

interface Upstream {
  url: string;
  bodies: string[];
  close(): Promise<void>;
}

async function upstream(name: string, status = 200): Promise<Upstream> {
  const bodies: string[] = [];
  const srv = http.createServer((req, res) => {
    let b = '';
    req.setEncoding('utf8').on('data', (d: string) => {
      b += d;
    });
    req.on('end', () => {
      bodies.push(b);
      res.writeHead(status, { 'content-type': 'application/json', 'x-upstream': name });
      res.end(JSON.stringify({ name, auth: req.headers.authorization ?? null }));
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`,
    bodies,
    close: () => new Promise<void>((r) => srv.close(() => r())),
  };
}

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

async function post(p: RoundRobinProxy, body: string) {
  const r = await request(`${p.url}/v1/batches`, {
    method: 'POST',
    body,
    headers: { authorization: 'Bearer t' },
  });
  return { status: r.statusCode, json: (await r.body.json()) as { name: string; auth: string } };
}

describe('round-robin proxy', () => {
  it('sends each request to the next upstream and passes headers and bodies through', async () => {
    const ups = [await upstream('a'), await upstream('b'), await upstream('c')];
    cleanup.push(...ups.map((u) => u.close));
    const p = await startRoundRobinProxy({ upstreams: ups.map((u) => u.url) });
    cleanup.push(p.close);
    const names: string[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await post(p, `body-${i}`);
      expect(r.status).toBe(200);
      expect(r.json.auth).toBe('Bearer t');
      names.push(r.json.name);
    }
    expect(names).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
    expect(ups[0]!.bodies).toEqual(['body-0', 'body-3']);
  });

  it('sends chosen requests to two upstreams at once', async () => {
    const ups = [await upstream('a'), await upstream('b')];
    cleanup.push(...ups.map((u) => u.close));
    const p = await startRoundRobinProxy({ upstreams: ups.map((u) => u.url), duplicate: (_r, n) => n === 1 });
    cleanup.push(p.close);
    await post(p, 'one');
    await post(p, 'two');
    expect(ups[0]!.bodies).toEqual(['one', 'two']);
    expect(ups[1]!.bodies).toEqual(['two']);
    expect(p.stats().duplicated).toBe(1);
  });

  it('answers with the 2xx when only one of two upstreams succeeds', async () => {
    const ups = [await upstream('bad', 503), await upstream('good')];
    cleanup.push(...ups.map((u) => u.close));
    const p = await startRoundRobinProxy({ upstreams: ups.map((u) => u.url), duplicate: () => true });
    cleanup.push(p.close);
    const r = await post(p, 'x');
    expect(r).toMatchObject({ status: 200, json: { name: 'good' } });
  });

  it('skips an upstream that refuses connections and answers 413 past the body limit', async () => {
    const up = await upstream('alive');
    cleanup.push(up.close);
    const dead = `http://127.0.0.1:${await freePort()}`;
    const p = await startRoundRobinProxy({ upstreams: [dead, up.url], bodyLimitBytes: 10 });
    cleanup.push(p.close);
    expect((await post(p, 'ok')).json.name).toBe('alive');
    expect((await post(p, 'ok')).json.name).toBe('alive');
    expect(p.stats().upstreamErrors).toBe(1);
    const big = await request(`${p.url}/v1/batches`, { method: 'POST', body: 'x'.repeat(11) });
    expect(big.statusCode).toBe(413);
    await big.body.dump();
  });
});
