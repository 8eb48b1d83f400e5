import http from 'node:http';
import { gzipSync } from 'node:zlib';
import { BatchAnswerSchema, ProblemSchema } from '@ironledger/contracts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { batch, startTestCloud, type TestCloud, TOKENS } from '../testing/harness.js';

let t: TestCloud;
beforeEach(async () => {
  t = await startTestCloud();
});
afterEach(async () => {
  await t.stop();
});

const readingsStored = () => t.cloud.store.countReadings();

describe('POST /v1/batches', () => {
  it('stores a gzip batch and answers the same counts to a retry of the same batchId', async () => {
    const b = batch([
      ['EXC-1', '2026-06-01T08:00:00Z', 100],
      ['EXC-1', '2026-06-01T09:00:00Z', 101],
    ]);
    const first = await t.postBatch(b);
    expect(first.status).toBe(200);
    expect(BatchAnswerSchema.parse(first.json)).toEqual({
      batchId: b.batchId,
      accepted: 2,
      duplicates: 0,
      conflicts: 0,
    });
    const again = await t.postBatch(b);
    expect(again.status).toBe(200);
    expect(again.json).toEqual(first.json);
    expect(await readingsStored()).toBe(2);
  });

  it('accepts identity encoding too', async () => {
    const r = await t.postBatch(batch([['EXC-1', '2026-06-01T08:00:00Z', 1]]), { gzip: false });
    expect(r.status).toBe(200);
  });

  it('counts a reading already stored from another gateway as a duplicate, and changes no usage', async () => {
    await t.postBatch(
      batch([
        ['EXC-1', '2026-06-01T08:00:00Z', 100],
        ['EXC-1', '2026-06-01T10:00:00Z', 102],
      ]),
    );
    await t.cloud.consolidate();
    const before = (await t.api('GET', '/v1/usage')).json;
    const r = await t.postBatch(
      batch(
        [
          ['EXC-1', '2026-06-01T08:00:00.000+00:00', 100],
          ['EXC-1', '2026-06-01T10:00:00Z', 102],
        ],
        { gatewayId: 'gw2' },
      ),
      { token: TOKENS.gw2 },
    );
    expect(r.json).toMatchObject({ accepted: 0, duplicates: 2 });
    const c = await t.cloud.consolidate();
    expect(c.rowsWritten).toBe(0);
    expect((await t.api('GET', '/v1/usage')).json).toEqual(before);
  });

  it('keeps both versions of a conflicting reading, flags them and leaves them out of usage', async () => {
    await t.postBatch(
      batch([
        ['EXC-1', '2026-06-01T08:00:00Z', 100],
        ['EXC-1', '2026-06-01T09:00:00Z', 101],
        ['EXC-1', '2026-06-01T10:00:00Z', 102],
      ]),
    );
    const r = await t.postBatch(batch([['EXC-1', '2026-06-01T09:00:00Z', 150]]));
    expect(r.json).toMatchObject({ accepted: 1, duplicates: 0, conflicts: 1 });
    expect(await readingsStored()).toBe(4);
    await t.cloud.consolidate();
    const usage = (await t.api('GET', '/v1/usage')).json;
    expect(usage.rows[0].engineHours).toBeCloseTo(2, 9); // 08:00 → 10:00 without the disputed 09:00
    const conflicts = usage.anomalies.filter((a: { kind: string }) => a.kind === 'conflict');
    expect(conflicts.map((a: { after: number }) => a.after).sort()).toEqual([101, 150]);
  });

  it('holds readings with an impossible clock (future, before 2000, flagged) out of usage', async () => {
    const future = new Date(Date.now() + 60 * 60_000).toISOString();
    const r = await t.postBatch(
      batch([
        ['EXC-1', '2026-06-01T08:00:00Z', 100],
        ['EXC-1', '1999-12-31T23:00:00Z', 50],
        ['EXC-1', future, 5000],
        ['EXC-1', '2026-06-01T09:00:00Z', 101],
      ]),
    );
    expect(r.json).toMatchObject({ accepted: 4 });
    const flagged = batch([['EXC-1', '2026-06-01T08:30:00Z', 900]], { extra: { flags: ['clock_invalid'] } });
    await t.postBatch(flagged);
    await t.cloud.consolidate();
    const usage = (await t.api('GET', '/v1/usage')).json;
    expect(usage.rows).toHaveLength(1);
    expect(usage.rows[0].engineHours).toBeCloseTo(1, 9);
    const held = (await t.api('GET', '/v1/held')).json.readings;
    expect(held).toHaveLength(3);
    expect(
      held.every(
        (h: { status: string; reason: string }) =>
          h.status === 'held' && h.reason.startsWith('clock_invalid'),
      ),
    ).toBe(true);
  });

  describe('bad input: precise 4xx and the store unchanged', () => {
    const good = () => batch([['EXC-1', '2026-06-01T08:00:00Z', 100]]);
    const expectProblem = (
      r: { status: number; json: unknown; headers: Record<string, unknown> },
      status: number,
    ) => {
      expect(r.status).toBe(status);
      expect(String(r.headers['content-type'])).toContain('application/problem+json');
      return ProblemSchema.parse(r.json);
    };
    afterEach(async () => {
      expect(await readingsStored()).toBe(0);
    });

    it('wrong types → 400 naming the field', async () => {
      const b = good() as { readings: Array<Record<string, unknown>> };
      b.readings.push(
        { ...b.readings[0], ts: '2026-06-01T09:00:00Z' },
        { ...b.readings[0], ts: '2026-06-01T10:00:00Z' },
        { ...b.readings[0], engineHours: 'lots' },
      );
      const p = expectProblem(await t.postBatch(b), 400);
      expect(p.code).toBe('BATCH_INVALID');
      expect(p.errors).toContainEqual({ path: 'readings[3].engineHours', message: expect.any(String) });
    });

    it('invalid JSON → 400', async () => {
      const p = expectProblem(await t.postBatch('{"gatewayId": "gw1", '), 400);
      expect(p.detail).toMatch(/JSON/);
    });

    it('a gateway posting as another → 403; missing or unknown token → 401', async () => {
      expectProblem(
        await t.postBatch(batch([['EXC-1', '2026-06-01T08:00:00Z', 1]], { gatewayId: 'gw2' })),
        403,
      );
      expectProblem(await t.postBatch(good(), { token: 'nope' }), 401);
      expectProblem(await t.postBatch(good(), { headers: { authorization: '' } }), 401);
      expectProblem(await t.postBatch(good(), { token: TOKENS.admin }), 401);
    });

    it('a ts with no time zone → 400', async () => {
      const p = expectProblem(await t.postBatch(batch([['EXC-1', '2026-06-01T08:00:00', 1]])), 400);
      expect(p.errors?.[0]?.path).toBe('readings[0].ts');
    });

    it('a 50 MB body → 413', async () => {
      const big = Buffer.alloc(50 * 1024 * 1024, 0x20);
      const r = await t
        .postBatch(big, { gzip: false })
        .catch((e: Error) => ({ status: -1, json: e.message, headers: {} }));
      expectProblem(r, 413);
    });

    it('a gzip bomb (small compressed, huge decompressed) → 413', async () => {
      const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20), { level: 9 });
      expect(bomb.length).toBeLessThan(1024 * 1024);
      const r = await t.postBatch(bomb, { gzip: false, headers: { 'content-encoding': 'gzip' } });
      const p = expectProblem(r, 413);
      expect(p.detail).toMatch(/decompressed/);
    });

    it('a body that is not gzip though it says so → 400; unknown encoding → 415', async () => {
      expectProblem(
        await t.postBatch(Buffer.from('{}'), { gzip: false, headers: { 'content-encoding': 'gzip' } }),
        400,
      );
      expectProblem(
        await t.postBatch(Buffer.from('{}'), { gzip: false, headers: { 'content-encoding': 'br' } }),
        415,
      );
    });
  });

  it('answers 503 with Retry-After beyond maxConcurrentIngests', async () => {
    await t.stop();
    t = await startTestCloud({ config: { http: { port: 0, maxConcurrentIngests: 1, retryAfterS: 7 } } });
    // Hold one ingest open by sending its body slowly.
    const url = new URL(`${t.url}/v1/batches`);
    const slow = http.request({
      host: url.hostname,
      port: url.port,
      path: url.pathname,
      method: 'POST',
      headers: {
        authorization: `Bearer ${TOKENS.gw1}`,
        'content-type': 'application/json',
        'transfer-encoding': 'chunked',
      },
    });
    slow.on('error', () => {});
    slow.write('{"gatewayId":"gw1",');
    await new Promise((r) => setTimeout(r, 100));
    const r = await t.postBatch(batch([['EXC-1', '2026-06-01T08:00:00Z', 1]]));
    expect(r.status).toBe(503);
    expect(r.headers['retry-after']).toBe('7');
    const done = new Promise<number>((resolve) => slow.on('response', (res) => resolve(res.statusCode ?? 0)));
    slow.end(
      '"batchId":"slow","readings":[{"v":1,"unitId":"EXC-1","ts":"2026-06-01T08:00:00Z","engineHours":1,"receivedAt":"2026-06-01T08:00:00Z"}]}',
    );
    expect(await done).toBe(200);
  });

  it('refuses a batchId already used by another gateway (409)', async () => {
    await t.postBatch(batch([['EXC-1', '2026-06-01T08:00:00Z', 1]], { batchId: 'same' }));
    const r = await t.postBatch(
      batch([['EXC-2', '2026-06-01T08:00:00Z', 1]], { batchId: 'same', gatewayId: 'gw2' }),
      { token: TOKENS.gw2 },
    );
    expect(r.status).toBe(409);
  });
});

describe('heartbeat, health and metrics', () => {
  it('records a heartbeat that /v1/status shows', async () => {
    const hb = {
      version: '1.2.3',
      sentAt: new Date().toISOString(),
      queuedReadings: 42,
      oldestUnsentAgeS: 12.5,
      quarantined: 3,
    };
    expect((await t.api('POST', '/v1/gateways/gw1/heartbeat', hb, TOKENS.gw1)).status).toBe(200);
    expect((await t.api('POST', '/v1/gateways/gw2/heartbeat', hb, TOKENS.gw1)).status).toBe(403);
    expect((await t.api('POST', '/v1/gateways/gw1/heartbeat', { version: 1 }, TOKENS.gw1)).status).toBe(400);
    const s = (await t.api('GET', '/v1/status', undefined, TOKENS.viewer)).json;
    const gw1 = s.gateways.find((g: { gatewayId: string }) => g.gatewayId === 'gw1');
    expect(gw1).toMatchObject({
      version: '1.2.3',
      queuedReadings: 42,
      oldestUnsentAgeS: 12.5,
      quarantined: 3,
      stale: false,
    });
    expect(s.gateways.find((g: { gatewayId: string }) => g.gatewayId === 'gw2').stale).toBe(true);
  });

  it('serves /healthz, /readyz and Prometheus metrics', async () => {
    await t.postBatch(batch([['EXC-1', '2026-06-01T08:00:00Z', 1]]));
    await t.postBatch(batch([['EXC-1', '2026-06-01T08:00:00Z', 1]]));
    await t.postBatch('nope');
    expect((await t.api('GET', '/healthz')).status).toBe(200);
    expect((await t.api('GET', '/readyz')).status).toBe(200);
    const m = (await t.api('GET', '/metrics')).json as string;
    expect(m).toMatch(/ironledger_cloud_batches_total\{outcome="stored"\} 2/);
    expect(m).toMatch(/ironledger_cloud_readings_total\{outcome="duplicate"\} 1/);
    expect(m).toMatch(/ironledger_cloud_rejected_total\{reason="BATCH_INVALID"\} 1/);
    expect(m).toMatch(/ironledger_cloud_consolidation_lag_seconds \d/);
  });
});
