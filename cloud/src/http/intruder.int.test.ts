/**
 * Inputs and intruders that must not block a site (issue #13, cloud side): a batch naming a
 * unit the cloud does not know, a malformed path, slow uploads from one gateway, and a source
 * that keeps guessing tokens. After each, a valid batch is still stored at once.
 */
import http from 'node:http';
import { createLogger } from '@ironledger/logger';
import { waitFor } from '@ironledger/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { batch, startTestCloud, type TestCloud, TOKENS } from '../testing/harness.js';

let t: TestCloud | null = null;
afterEach(async () => {
  await t?.stop();
  t = null;
});

/** A captured pino stream: every line the cloud logs, parsed. */
function captureLogs() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({
    service: 'ironledger-cloud',
    version: 'test',
    level: 'info',
    destination: { write: (s: string) => void lines.push(JSON.parse(s)) },
  });
  return { lines, logger };
}

function rawRequest(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const good = (unitId = 'EXC-1', hour = 8) =>
  batch([[unitId, `2026-06-01T${String(hour).padStart(2, '0')}:00:00Z`, 100 + hour]]);

describe('a unit the cloud does not know', () => {
  it('stores the known units’ readings, holds the unknown unit’s (unknown_unit) and releases them when it is registered', async () => {
    t = await startTestCloud();
    const r = await t.postBatch(
      batch([
        ['EXC-1', '2026-06-01T08:00:00Z', 100],
        ['GHOST-1', '2026-06-01T08:00:00Z', 500],
        ['EXC-1', '2026-06-01T10:00:00Z', 102],
        ['GHOST-1', '2026-06-01T11:00:00Z', 503],
      ]),
    );
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ accepted: 4, duplicates: 0 });
    const held = (await t.api('GET', '/v1/held')).json.readings as Array<{ unitId: string; reason: string }>;
    expect(held.map((h) => h.unitId)).toEqual(['GHOST-1', 'GHOST-1']);
    expect(held.every((h) => h.reason.startsWith('unknown_unit'))).toBe(true);
    await t.cloud.consolidate();
    let usage = (await t.api('GET', '/v1/usage')).json.rows as Array<{ unitId: string; engineHours: number }>;
    expect(usage.map((u) => u.unitId)).toEqual(['EXC-1']);

    const reg = await t.api('POST', '/v1/units', { unitId: 'GHOST-1', equipmentClass: 'excavator' });
    expect(reg.status).toBe(201);
    expect((await t.api('GET', '/v1/held')).json.readings).toEqual([]);
    await t.cloud.consolidate();
    usage = (await t.api('GET', '/v1/usage')).json.rows;
    const ghost = usage.filter((u) => u.unitId === 'GHOST-1');
    expect(ghost.reduce((a, u) => a + u.engineHours, 0)).toBeCloseTo(3, 9);
  });
});

describe('malformed paths', () => {
  it('answers 400 problem+json without a token and logs no stack trace', async () => {
    const { lines, logger } = captureLogs();
    t = await startTestCloud({ logger });
    for (const path of ['/v1/allocations/%', '/v1/allocations/%zz', '/v1/held/%E0%A4%A/release']) {
      const r = await rawRequest(
        Number(new URL(t.url).port),
        path.endsWith('release') ? 'POST' : 'GET',
        path,
      );
      expect(r.status, path).toBe(400);
      expect(r.headers['content-type']).toContain('application/problem+json');
      expect(JSON.parse(r.body)).toMatchObject({ status: 400, code: 'PATH_INVALID' });
    }
    expect(lines.filter((l) => l.level === 50 || l.event === 'http_error')).toEqual([]);
    expect((await t.postBatch(good())).status).toBe(200);
  });
});

describe('slow uploads', () => {
  it('ten stalled uploads of one gateway leave slots for the others and are cut at the body deadline', async () => {
    const share = 3;
    t = await startTestCloud({
      config: { http: { port: 0, bodyTimeoutMs: 1500, maxIngestsPerGateway: share } },
    });
    const port = Number(new URL(t.url).port);
    const answered: number[] = [];
    const stalled = Array.from(
      { length: 10 },
      () =>
        new Promise<number>((resolve) => {
          const req = http.request(
            {
              host: '127.0.0.1',
              port,
              method: 'POST',
              path: '/v1/batches',
              headers: {
                authorization: `Bearer ${TOKENS.gw1}`,
                'content-type': 'application/json',
                'content-length': '100000',
              },
            },
            (res) => {
              res.resume();
              answered.push(res.statusCode ?? 0);
              resolve(res.statusCode ?? 0);
            },
          );
          req.on('error', () => resolve(-1));
          req.write('{"gatewayId":"gw1",'); // and then nothing more
        }),
    );
    // gw1's share is taken, its other uploads are sent away; gw2 is served meanwhile.
    await waitFor(() => answered.filter((s) => s === 503).length === 10 - share, {
      timeoutMs: 5000,
      what: 'gw1 uploads beyond its share refused',
    });
    const b = batch([['EXC-2', '2026-06-01T09:00:00Z', 109]], { gatewayId: 'gw2' });
    const other = await t.postBatch(b, { token: TOKENS.gw2 });
    expect(other.status).toBe(200);
    const statuses = await Promise.all(stalled);
    // Those holding gw1's share were cut at the deadline; the others were told to come back.
    expect(statuses.filter((s) => s === 408)).toHaveLength(share);
    expect(statuses.filter((s) => s === 503)).toHaveLength(10 - share);
    expect((await t.postBatch(good())).status).toBe(200);
  });
});

describe('repeated authentication failures', () => {
  it('slows a source after five failures, counts them, and logs one aggregated line', async () => {
    const { lines, logger } = captureLogs();
    t = await startTestCloud({ logger });
    const port = Number(new URL(t.url).port);
    const took: number[] = [];
    for (let i = 0; i < 8; i++) {
      const started = Date.now();
      const r = await rawRequest(port, 'GET', '/v1/status', { authorization: `Bearer guess-${i}` });
      expect(r.status).toBe(401);
      took.push(Date.now() - started);
    }
    // 6th, 7th, 8th failures wait 0.25, 0.5, 1 s.
    expect(Math.max(...took.slice(0, 5))).toBeLessThan(200);
    expect(took[7]).toBeGreaterThanOrEqual(950);
    // A valid token from the same address is not slowed.
    const started = Date.now();
    expect((await t.postBatch(good())).status).toBe(200);
    expect(Date.now() - started).toBeLessThan(500);
    const metrics = await rawRequest(port, 'GET', '/metrics');
    expect(metrics.body).toMatch(/ironledger_cloud_auth_failures_total\{kind="AUTH_INVALID"\} 8/);
    expect(metrics.body).toMatch(/ironledger_cloud_auth_delayed_total 3/);
    await t.stop();
    t = null;
    const summary = lines.filter((l) => l.event === 'auth.failures');
    expect(summary).toHaveLength(1);
    expect(summary[0]).toMatchObject({ failures: 8, byKind: { AUTH_INVALID: 8 } });
  });
});
