/**
 * The forwarder against a real HTTP peer (node:http) that implements Contract 2 honestly
 * and records what the edge sent: headers, gzip, batchId stability, Retry-After.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { Worker } from 'node:worker_threads';
import { gunzipSync } from 'node:zlib';
import { BatchSchema, HeartbeatSchema } from '@ironledger/contracts';
import { createLogger, silentLogger } from '@ironledger/logger';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { fr } from '../buffer/buffer.contract.js';
import { SqliteBuffer } from '../buffer/sqlite-buffer.js';
import { EdgeConfigSchema } from '../config.js';
import { EdgeMetrics } from '../http/metrics.js';
import { CloudClient } from './cloud-client.js';
import { Forwarder } from './forwarder.js';
import { ForwarderThread, type ForwarderToMain, forwarderWorkerSource } from './forwarder-thread.js';

interface Seen {
  at: number;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: unknown;
}
type Answer = (
  seen: Seen,
  all: Seen[],
) => { status: number; headers?: Record<string, string>; body?: unknown };

async function peer(answer: Answer) {
  const seen: Seen[] = [];
  const stored = new Map<string, number>(); // batchId → readings, as a cloud would keep
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const text = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw).toString() : raw.toString();
      const s: Seen = { at: Date.now(), path: req.url ?? '', headers: req.headers, body: JSON.parse(text) };
      seen.push(s);
      const a = answer(s, seen);
      if (a.status === 200 && req.url === '/v1/batches') {
        const b = BatchSchema.parse(s.body);
        const dup = stored.has(b.batchId);
        stored.set(b.batchId, b.readings.length);
        a.body ??= {
          batchId: b.batchId,
          accepted: dup ? 0 : b.readings.length,
          duplicates: dup ? b.readings.length : 0,
        };
      }
      res.writeHead(a.status, {
        'content-type': a.status < 300 ? 'application/json' : 'application/problem+json',
        ...a.headers,
      });
      res.end(JSON.stringify(a.body ?? { type: 'about:blank', title: 'x', status: a.status }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, seen, stored, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edge-fwd-'));
let k = 0;
const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** `random`: the back-off's jitter source (Math.random unless a test pins it). */
function rig(
  url: string,
  file = path.join(dir, `f${k++}.db`),
  cloud: Record<string, unknown> = {},
  random?: () => number,
) {
  const cfg = EdgeConfigSchema.parse({
    gatewayId: 'gw-fwd',
    cloud: {
      url,
      token: 'tok-123',
      batchSize: 3,
      maxBatchAgeMs: 0,
      timeoutMs: 2000,
      backoff: { baseMs: 20, capMs: 100 },
      ...cloud,
    },
  });
  const buffer = new SqliteBuffer({ path: file, gatewayId: 'gw-fwd' });
  const metrics = quietMetrics();
  const client = new CloudClient(url, cfg.cloud.token, cfg.cloud.timeoutMs, 'test');
  const fwd = new Forwarder({
    buffer,
    client,
    cloud: cfg.cloud,
    gatewayId: 'gw-fwd',
    metrics,
    log: silentLogger(),
    ...(random ? { random } : {}),
  });
  const stop = async () => {
    await fwd.stop();
    await client.close();
    buffer.close();
  };
  return { buffer, fwd, file, stop, metrics };
}

/** The registry the forwarder counts into; its backlog gauges are not under test here. */
const quietMetrics = () =>
  new EdgeMetrics(() => ({
    queuedReadings: 0,
    oldestUnsentAgeS: null,
    parkedBatches: 0,
    quarantined: 0,
    heldReadings: 0,
    usedBytes: 0,
    budgetBytes: 0,
    diskBudgetExceeded: false,
    brokerClients: 0,
  }));

const add = (b: SqliteBuffer, unit: string, n: number, from = 0) =>
  b.append(Array.from({ length: n }, (_, i) => ({ kind: 'reading' as const, reading: fr(unit, from + i) })));

describe('forwarder ↔ Contract 2 peer', () => {
  it('sends gzip JSON with the bearer token; readings leave the outbox on 200', async () => {
    const p = await peer(() => ({ status: 200 }));
    cleanup.push(p.close);
    const r = rig(p.url);
    cleanup.push(r.stop);
    add(r.buffer, 'U1', 7);
    r.fwd.start();
    await waitUntil(() => r.buffer.stats().queuedReadings === 0);
    expect(p.seen).toHaveLength(3);
    for (const s of p.seen) {
      expect(s.path).toBe('/v1/batches');
      expect(s.headers.authorization).toBe('Bearer tok-123');
      expect(s.headers['content-encoding']).toBe('gzip');
      expect(s.headers['content-type']).toBe('application/json');
      expect(BatchSchema.parse(s.body).gatewayId).toBe('gw-fwd');
    }
    const sent = p.seen.flatMap((s) =>
      (s.body as { readings: Array<{ seq: number }> }).readings.map((x) => x.seq),
    );
    // Each reading exactly once; parts in flight at once may arrive in any order.
    expect(sent.toSorted((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('keeps the batchId across retries, honours Retry-After, and resumes after a restart', async () => {
    let calls = 0;
    const p = await peer(() =>
      ++calls <= 2 ? { status: 503, headers: { 'retry-after': '1' } } : { status: 200 },
    );
    cleanup.push(p.close);
    const r = rig(p.url);
    add(r.buffer, 'U1', 3);
    r.fwd.start();
    await waitUntil(() => p.seen.length >= 1);
    await r.stop(); // a restart between attempts
    const again = rig(p.url, r.file);
    cleanup.push(again.stop);
    again.fwd.start();
    await waitUntil(() => again.buffer.stats().queuedReadings === 0, 10_000);
    const ids = p.seen.map((s) => (s.body as { batchId: string }).batchId);
    expect(new Set(ids).size).toBe(1);
    expect(ids.length).toBe(3);
    // The second and third attempts came after the restart; between them the cloud asked for 1 s.
    expect(p.seen[2]!.at - p.seen[1]!.at).toBeGreaterThanOrEqual(950);
  });

  it('new readings during a back-off do not cut it short: an outage costs one request per back-off, not one per batch of arrivals', async () => {
    const p = await peer(() => ({ status: 503 }));
    cleanup.push(p.close);
    // The whole minute: with full jitter the delay may be anywhere in it, even a few ms.
    const r = rig(p.url, undefined, { backoff: { baseMs: 60_000, capMs: 60_000 } }, () => 0.999);
    add(r.buffer, 'U1', 3);
    r.fwd.start();
    await waitUntil(() => r.fwd.state().state === 'backoff');
    // Readings keep arriving while the cloud is down, as the agent reports them.
    for (let i = 0; i < 5; i++) {
      add(r.buffer, 'U2', 100, i * 100);
      r.fwd.notify(100); // more than a whole buffer batch
      // A woken loop is 'sending' once the microtasks have run; wait for its answer.
      await new Promise((res) => setImmediate(res));
      await waitUntil(() => r.fwd.state().state === 'backoff');
    }
    await r.stop();
    // The first attempt only: the next is due in a minute.
    expect(p.seen).toHaveLength(1);
  });

  it('413 splits the batch and sends the halves; 422 parks a batch without dropping it', async () => {
    const p = await peer((s) => {
      const b = s.body as { readings: Array<{ unitId: string }> };
      if (b.readings.length > 2) return { status: 413 };
      if (b.readings.some((x) => x.unitId === 'BAD')) return { status: 422 };
      return { status: 200 };
    });
    cleanup.push(p.close);
    const r = rig(p.url, undefined, { batchSize: 4 });
    cleanup.push(r.stop);
    add(r.buffer, 'U1', 4);
    r.fwd.start();
    await waitUntil(() => r.buffer.stats().queuedReadings === 0);
    const ok = p.seen
      .filter((s) => (s.body as { readings: unknown[] }).readings.length <= 2)
      .map((s) => (s.body as { batchId: string }).batchId);
    // Both halves, each under its own id (they may arrive in either order: two requests in flight).
    expect(ok).toHaveLength(2);
    expect(ok.map((id) => id.slice(-2)).sort()).toEqual(['.1', '.2']);
    add(r.buffer, 'BAD', 1);
    r.fwd.notify(1);
    await waitUntil(() => r.buffer.stats().parkedBatches === 1);
    expect(r.buffer.stats()).toMatchObject({ queuedReadings: 1, parkedReadings: 1 });
    add(r.buffer, 'U2', 2);
    r.fwd.notify(2);
    await waitUntil(() => r.buffer.stats().queuedReadings === 1); // later batches still flow
  });

  it('a 4xx for one unit parks only that unit’s reading: the rest of the batch is isolated and stored', async () => {
    const stored = new Set<string>();
    const p = await peer((s) => {
      const b = s.body as { readings: Array<{ unitId: string; ts: string }> };
      if (b.readings.some((x) => x.unitId === 'BAD')) return { status: 422 };
      for (const x of b.readings) stored.add(`${x.unitId}@${x.ts}`);
      return { status: 200 };
    });
    cleanup.push(p.close);
    const r = rig(p.url, undefined, { batchSize: 8 });
    cleanup.push(r.stop);
    add(r.buffer, 'U1', 3);
    add(r.buffer, 'BAD', 1, 3);
    add(r.buffer, 'U2', 4, 4);
    r.fwd.start();
    // The peer stores a part before its answer reaches the forwarder: wait for the acks too.
    await waitUntil(
      () =>
        stored.size === 7 && r.buffer.stats().parkedBatches === 1 && r.buffer.stats().queuedReadings === 1,
    );
    expect(r.buffer.stats()).toMatchObject({ queuedReadings: 1, parkedReadings: 1, parkedBatches: 1 });
    expect(r.buffer.listBatches('parked')).toHaveLength(1);
    expect(r.fwd.state().effectiveBatchSize).toBe(8); // isolating a reading does not shrink batches
  });

  it('keeps cloud.maxInFlight requests in flight: a backlog goes as parts with stable ids, acknowledged after the last', async () => {
    // The peer holds each answer until two requests are open at once (or 1 s has passed, so a
    // forwarder that sends one at a time fails on maxOpen instead of hanging).
    let open = 0;
    let maxOpen = 0;
    const held: Array<() => void> = [];
    const server = http.createServer((req, res) => {
      open++;
      maxOpen = Math.max(maxOpen, open);
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const b = BatchSchema.parse(JSON.parse(gunzipSync(Buffer.concat(chunks)).toString()));
        bodies.push(b);
        const answer = () => {
          open--;
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ batchId: b.batchId, accepted: b.readings.length, duplicates: 0 }));
        };
        held.push(answer);
        if (open >= 2) for (const a of held.splice(0)) a();
        else setTimeout(() => held.includes(answer) && held.splice(held.indexOf(answer), 1)[0]!(), 1000);
      });
    });
    const bodies: Array<{ batchId: string; readings: Array<{ seq?: number | undefined }> }> = [];
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    cleanup.push(() => new Promise<void>((r) => server.close(() => r())));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const r = rig(url, undefined, { batchSize: 3, maxInFlight: 2 });
    cleanup.push(r.stop);
    add(r.buffer, 'U1', 12);
    r.fwd.start();
    await waitUntil(() => r.buffer.stats().queuedReadings === 0);
    expect(maxOpen).toBe(2);
    const [batch] = r.buffer.listBatches('sent');
    expect(r.buffer.listBatches('sent')).toHaveLength(1); // one buffer batch of 12 …
    expect(bodies.map((b) => b.batchId).sort()).toEqual(
      ['0-3', '3-6', '6-9', '9-12'].map((range) => `${batch!.batchId}:u${range}`), // … in four parts
    );
    const seqs = (id: string) => bodies.find((b) => b.batchId.endsWith(id))!.readings.map((x) => x.seq);
    expect(seqs(':u3-6')).toEqual([3, 4, 5]);
    expect(bodies.flatMap((b) => b.readings.map((x) => x.seq)).sort((a, b) => a! - b!)).toEqual([
      0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
    ]);
  });

  it('while the last part of a batch is in flight, the free slot already sends the next batch', async () => {
    const g = await holdLastPart('store');
    const r = rig(g.url, undefined, { batchSize: 3, maxInFlight: 2 });
    cleanup.push(r.stop);
    add(r.buffer, 'U1', 24);
    r.fwd.start();
    await waitUntil(() => r.buffer.stats().queuedReadings === 0);
    expect(g.releasedBy()).toBe('next batch');
    // Two buffer batches of 12, each reading sent once, each part under its own stable id.
    expect(r.buffer.listBatches('sent')).toHaveLength(2);
    expect(new Set(g.stored.seen.map((x) => (x.body as { batchId: string }).batchId)).size).toBe(8);
    expect(seqsOf(g.stored.seen)).toEqual(Array.from({ length: 24 }, (_, i) => i));
  });

  it('a slow part does not empty the window at a batch boundary: the slot the last part frees goes on with the next batch', async () => {
    // The first batch's last part is answered only once the next batch has started; that
    // batch's first part is then held, and released by the next part of the same batch, which
    // only a window that goes on across the boundary sends (else after 1 s).
    const g = await holdAcrossBoundary();
    const r = rig(g.url, undefined, { batchSize: 3, maxInFlight: 2 });
    cleanup.push(r.stop);
    add(r.buffer, 'U1', 36);
    r.fwd.start();
    await waitUntil(() => r.buffer.stats().queuedReadings === 0);
    expect(g.releasedBy()).toEqual({ lastPart: 'next batch', nextFirstPart: 'next part' });
    // Three buffer batches of 12, each reading sent once, each part under its own id.
    expect(r.buffer.listBatches('sent')).toHaveLength(3);
    expect(new Set(g.stored.seen.map((x) => (x.body as { batchId: string }).batchId)).size).toBe(12);
    expect(seqsOf(g.stored.seen)).toEqual(Array.from({ length: 36 }, (_, i) => i));
  });

  it('groups a backlog by unit, so each part carries as few units as it can', async () => {
    const p = await peer(() => ({ status: 200 }));
    cleanup.push(p.close);
    const r = rig(p.url, undefined, { batchSize: 3, maxInFlight: 2 });
    cleanup.push(r.stop);
    // As a site's backlog fills: one reading per unit at a time, U1 U2 U3 U1 U2 U3 …
    for (let i = 0; i < 4; i++) for (const u of ['U1', 'U2', 'U3']) add(r.buffer, u, 1, i);
    r.fwd.start();
    await waitUntil(() => r.buffer.stats().queuedReadings === 0);
    // In the batch's order (part ids carry their range; two requests in flight arrive in either order).
    const start = (id: string) => Number(/:u(\d+)-/.exec(id)?.[1]);
    const parts = p.seen
      .map((x) => x.body as { batchId: string; readings: Array<{ unitId: string; seq: number }> })
      .sort((a, b) => start(a.batchId) - start(b.batchId));
    // One buffer batch of 12 in four parts; in buffer order each part would hold all three units.
    expect(parts).toHaveLength(4);
    expect(parts.map((b) => new Set(b.readings.map((x) => x.unitId)).size).sort()).toEqual([1, 1, 2, 2]);
    // Each unit's readings keep their order, and every reading went once.
    const sent = parts.flatMap((b) => b.readings);
    expect(sent).toHaveLength(12);
    for (const u of ['U1', 'U2', 'U3'])
      expect(sent.filter((x) => x.unitId === u).map((x) => x.seq)).toEqual([0, 1, 2, 3]);
  });

  it('a batch half sent under the position ids of buffer order is sent again whole: nothing is taken as stored that was not', async () => {
    // A cloud that answers a known batchId from its record, without reading the body (as ours does).
    const got = new Set<string>();
    const known = new Set<string>();
    const p = await peer((s) => {
      const b = s.body as { batchId: string; readings: Array<{ unitId: string; seq: number }> };
      if (!known.has(b.batchId)) for (const x of b.readings) got.add(`${x.unitId}#${x.seq}`);
      known.add(b.batchId);
      return { status: 200 };
    });
    cleanup.push(p.close);
    const r = rig(p.url, undefined, { batchSize: 3, maxInFlight: 2 });
    cleanup.push(r.stop);
    for (let i = 0; i < 4; i++) for (const u of ['U1', 'U2']) add(r.buffer, u, 1, i);
    // The pending buffer batch an earlier edge had made, whose first part (its first three
    // readings in buffer order: U1#0 U2#0 U1#1) reached the cloud as `<batchId>:0-3`.
    const batch = r.buffer.nextBatch({ maxReadings: 12, maxAgeMs: 0, nowMs: Date.now(), force: true })!;
    known.add(`${batch.batchId}:0-3`);
    for (const k of ['U1#0', 'U2#0', 'U1#1']) got.add(k);
    r.fwd.start();
    await waitUntil(() => r.buffer.stats().queuedReadings === 0);
    expect([...got].sort()).toEqual(['U1#0', 'U1#1', 'U1#2', 'U1#3', 'U2#0', 'U2#1', 'U2#2', 'U2#3']);
  });

  it('a batch that fails while the next is under way: both stay pending, and only unanswered parts go again', async () => {
    const g = await holdLastPart('fail once');
    const r = rig(g.url, undefined, { batchSize: 3, maxInFlight: 2 });
    cleanup.push(r.stop);
    add(r.buffer, 'U1', 24);
    r.fwd.start();
    await waitUntil(() => r.fwd.state().state === 'backoff');
    expect(g.releasedBy()).toBe('next batch');
    // The failed batch and the one started behind it are both pending; nothing has left the outbox.
    expect(r.buffer.listBatches('pending')).toHaveLength(2);
    expect(r.buffer.stats().queuedReadings).toBe(24);
    await waitUntil(() => r.buffer.stats().queuedReadings === 0, 10_000);
    expect(r.buffer.listBatches('sent')).toHaveLength(2);
    // Eight parts reached the cloud once each: the failed one again, none of the others.
    const ids = g.stored.seen.map((x) => (x.body as { batchId: string }).batchId);
    expect(ids).toHaveLength(8);
    expect(new Set(ids).size).toBe(8);
    expect(seqsOf(g.stored.seen)).toEqual(Array.from({ length: 24 }, (_, i) => i));
  });

  it('a part that fails is retried alone, with the same id and readings, also after a restart', async () => {
    let failing = true;
    const p = await peer((s) => {
      const id = (s.body as { batchId: string }).batchId;
      return failing && id.endsWith(':u3-6')
        ? { status: 503, headers: { 'retry-after': '3600' } }
        : { status: 200 };
    });
    cleanup.push(p.close);
    const r = rig(p.url, undefined, { batchSize: 3, maxInFlight: 2 });
    add(r.buffer, 'U1', 9);
    r.fwd.start();
    await waitUntil(() => r.fwd.state().state === 'backoff');
    // u3-6 is not stored, so nothing leaves the outbox yet. u6-9 went too when u0-3's answer
    // freed its slot before the 503 came back; otherwise it waits for the next attempt.
    expect(r.buffer.stats().queuedReadings).toBe(9);
    const ids = () => p.seen.map((x) => (x.body as { batchId: string }).batchId.replace(/^.*:/, ''));
    expect(ids()).toEqual(expect.arrayContaining(['u0-3', 'u3-6']));
    await r.stop(); // a restart while the cloud asks for an hour
    failing = false;
    const again = rig(p.url, r.file, { batchSize: 3, maxInFlight: 2 });
    cleanup.push(again.stop);
    again.fwd.start();
    await waitUntil(() => again.buffer.stats().queuedReadings === 0);
    // After the restart every part is sent again under its id (the first run's progress was in
    // memory): the cloud answers the stored ones as duplicates; each id always carried the same readings.
    const byId = new Map<string, string>();
    for (const x of p.seen) {
      const b = x.body as { batchId: string; readings: unknown[] };
      const text = JSON.stringify(b.readings);
      expect(byId.get(b.batchId) ?? text).toBe(text);
      byId.set(b.batchId, text);
    }
    expect(byId.size).toBe(3);
    expect(p.stored.size).toBe(3);
  });

  it('a part refused for one reading halves the whole batch until only that reading is parked', async () => {
    const stored = new Set<string>();
    const p = await peer((s) => {
      const b = s.body as { readings: Array<{ unitId: string; ts: string }> };
      if (b.readings.some((x) => x.unitId === 'BAD')) return { status: 422 };
      for (const x of b.readings) stored.add(`${x.unitId}@${x.ts}`);
      return { status: 200 };
    });
    cleanup.push(p.close);
    const r = rig(p.url, undefined, { batchSize: 2, maxInFlight: 3 });
    cleanup.push(r.stop);
    add(r.buffer, 'U1', 5);
    add(r.buffer, 'BAD', 1, 5);
    add(r.buffer, 'U2', 6, 6);
    r.fwd.start();
    // The peer stores a part before its answer reaches the forwarder: wait for the acks too.
    await waitUntil(
      () =>
        stored.size === 11 && r.buffer.stats().parkedBatches === 1 && r.buffer.stats().queuedReadings === 1,
    );
    expect(r.buffer.stats()).toMatchObject({ queuedReadings: 1, parkedReadings: 1, parkedBatches: 1 });
    expect(r.fwd.state().effectiveBatchSize).toBe(2);
  });

  it('heartbeat carries the backlog (HeartbeatSchema)', async () => {
    const { startAgent } = await import('../agent.js');
    const p = await peer(() => ({ status: 503 }));
    cleanup.push(p.close);
    const agent = await startAgent(
      {
        gatewayId: 'gw-hb',
        mqtt: { port: 0 },
        auth: { mode: 'open' },
        buffer: { path: path.join(dir, 'hb.db') },
        cloud: { url: p.url, token: 't', heartbeatIntervalMs: 200, backoff: { baseMs: 1000, capMs: 1000 } },
        http: { port: 0 },
        log: { level: 'silent' },
      },
      {},
    );
    cleanup.push(() => agent.stop());
    const beats = () => p.seen.filter((s) => s.path === '/v1/gateways/gw-hb/heartbeat');
    await waitUntil(() => beats().length >= 2);
    const hb = HeartbeatSchema.parse(beats()[0]!.body);
    expect(hb).toMatchObject({
      queuedReadings: 0,
      oldestUnsentAgeS: null,
      diskBudgetExceeded: false,
      parkedBatches: 0,
    });
    expect(beats()[0]!.headers.authorization).toBe('Bearer t');
    const ready = await fetch(`http://127.0.0.1:${agent.httpPort}/readyz`);
    expect(ready.status).toBe(200);
    const metrics = await (await fetch(`http://127.0.0.1:${agent.httpPort}/metrics`)).text();
    expect(metrics).toContain('ironledger_edge_queue_depth 0');
  });
});

/** Readings' seqs across what a peer saw, in order. */
const seqsOf = (seen: Seen[]) =>
  seen
    .flatMap((x) => (x.body as { readings: Array<{ seq: number }> }).readings.map((y) => y.seq))
    .toSorted((a, b) => a - b);

type Part = { batchId: string; readings: unknown[] };
/** A part's buffer batch: its id without the `:u<start>-<end>` range. */
const batchOf = (id: string) => id.slice(0, id.lastIndexOf(':'));

/**
 * A relay in front of an honest peer: `onPart` sees each part as it arrives, with `store` (pass
 * it to the peer and answer as it did) and the response, to answer now, later or otherwise.
 */
async function relay(onPart: (b: Part, store: () => void, res: http.ServerResponse) => void) {
  const stored = await peer(() => ({ status: 200 }));
  cleanup.push(stored.close);
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const b = BatchSchema.parse(JSON.parse(gunzipSync(Buffer.concat(chunks)).toString()));
      const store = async () => {
        const up = await fetch(`${stored.url}/v1/batches`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(b),
        });
        res.writeHead(up.status, { 'content-type': 'application/json' });
        res.end(await up.text());
      };
      onPart(b, () => void store(), res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  cleanup.push(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, stored };
}

/**
 * A relay that holds the first buffer batch's last part (`:u9-12`) until a part of another
 * buffer batch arrives (or 1 s has passed, so a forwarder that waits between batches fails
 * instead of hanging); then stores it, or answers 503 to it once.
 */
async function holdLastPart(then: 'store' | 'fail once') {
  let first: string | null = null;
  let releasedBy: 'next batch' | 'timeout' | null = null;
  let held: (() => void) | null = null;
  let failed = false;
  const release = (by: 'next batch' | 'timeout') => {
    releasedBy = by;
    held?.();
    held = null;
  };
  const r = await relay((b, store, res) => {
    first ??= batchOf(b.batchId);
    if (batchOf(b.batchId) !== first && held) release('next batch');
    if (b.batchId !== `${first}:u9-12` || failed) return store();
    held = () => {
      if (then === 'store') return store();
      failed = true;
      res.writeHead(503, { 'content-type': 'application/problem+json', 'retry-after': '1' });
      res.end('{"type":"about:blank","title":"busy","status":503}');
    };
    setTimeout(() => held && release('timeout'), 1000);
  });
  return { ...r, releasedBy: () => releasedBy };
}

/**
 * A relay that holds the first buffer batch's last part (`:u9-12`) until a part of another
 * batch arrives, then that second batch's first part (`:u0-3`) until another part of the
 * second batch arrives; each held part goes after 1 s at the latest.
 */
async function holdAcrossBoundary() {
  let first: string | null = null;
  let second: string | null = null;
  type Held = 'lastPart' | 'nextFirstPart';
  const releasedBy: Record<Held, string | null> = { lastPart: null, nextFirstPart: null };
  const held: Record<Held, (() => void) | null> = { lastPart: null, nextFirstPart: null };
  const release = (which: Held, by: string) => {
    const h = held[which];
    if (!h) return;
    held[which] = null;
    releasedBy[which] = by;
    h();
  };
  const r = await relay((b, store) => {
    const batch = batchOf(b.batchId);
    first ??= batch;
    if (batch !== first) second ??= batch;
    if (batch === second && b.batchId !== `${second}:u0-3`) release('nextFirstPart', 'next part');
    if (batch !== first) release('lastPart', 'next batch');
    const which: Held | null =
      b.batchId === `${first}:u9-12` ? 'lastPart' : b.batchId === `${second}:u0-3` ? 'nextFirstPart' : null;
    if (which === null || releasedBy[which] !== null) return store();
    held[which] = store;
    setTimeout(() => release(which, 'timeout'), 1000);
  });
  return { ...r, releasedBy: () => ({ ...releasedBy }) };
}

describe('forwarder on a thread of its own', () => {
  /** The main thread's side: its own connection appends, the thread forwards. */
  function threadRig(url: string, idle: { idleMs?: number; endedCheckMs?: number } = {}) {
    const file = path.join(dir, `t${k++}.db`);
    const lines: Array<Record<string, unknown>> = [];
    const destination = new Writable({
      write(chunk, _enc, cb) {
        for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
        cb();
      },
    });
    const log = createLogger({ service: 'test', level: 'info', destination }).child({
      component: 'forwarder',
    });
    const cloud = EdgeConfigSchema.parse({
      gatewayId: 'gw-fwd',
      cloud: {
        url,
        token: 'tok-123',
        batchSize: 3,
        maxBatchAgeMs: 0,
        timeoutMs: 2000,
        forwarderThreadIdleMs: idle.idleMs ?? 0,
      },
    }).cloud;
    const buffer = new SqliteBuffer({ path: file, gatewayId: 'gw-fwd' });
    const metrics = quietMetrics();
    const source = forwarderWorkerSource();
    if (!source) throw new Error('forwarder-worker.js missing: build the edge first (npm run build)');
    const thread = new ForwarderThread(
      source,
      { buffer: { path: file, gatewayId: 'gw-fwd' }, cloud, gatewayId: 'gw-fwd', userAgent: 'test' },
      {
        metrics,
        log,
        hasWork: () => buffer.stats().queuedReadings > 0,
        ...(idle.endedCheckMs === undefined ? {} : { endedCheckMs: idle.endedCheckMs }),
      },
    );
    cleanup.push(async () => {
      await thread.stop();
      buffer.close();
    });
    const addAndNotify = (unit: string, n: number, from = 0) => {
      add(buffer, unit, n, from);
      thread.notify(n);
    };
    return { buffer, file, thread, metrics, lines, addAndNotify };
  }

  const sentSeqs = (seen: Seen[]) =>
    seen
      .flatMap((s) => (s.body as { readings: Array<{ seq: number }> }).readings.map((x) => x.seq))
      .sort((a, b) => a - b);

  it('sends what the main connection commits; its counters, log lines and state reach the main thread', async () => {
    const p = await peer(() => ({ status: 200 }));
    cleanup.push(p.close);
    const r = threadRig(p.url);
    await r.thread.start();
    r.addAndNotify('U1', 7);
    // The main connection sees the thread's acknowledgements: nothing left queued.
    await waitUntil(() => r.buffer.stats().queuedReadings === 0);
    expect(sentSeqs(p.seen)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    // Messages from the thread may trail its commits by a turn of the event loop.
    await waitUntil(() => r.lines.filter((l) => l.event === 'forward.batch_sent').length === 3);
    const text = await r.metrics.registry.metrics();
    expect(text).toMatch(/^ironledger_edge_readings_forwarded_total 7$/m);
    expect(text).toMatch(/^ironledger_edge_batches_total\{outcome="sent"\} 3$/m);
    const sent = r.lines.filter((l) => l.event === 'forward.batch_sent');
    expect(sent).toHaveLength(3);
    expect(sent.every((l) => l.component === 'forwarder' && typeof l.batchId === 'string')).toBe(true);
    await waitUntil(() => r.thread.state().lastForwardAt !== null);
    await r.thread.stop();
    expect(r.thread.state().state).toBe('stopped');
  });

  it('a thread that dies is started again and resumes: nothing lost, nothing sent twice', async () => {
    const p = await peer(() => ({ status: 200 }));
    cleanup.push(p.close);
    const r = threadRig(p.url);
    await r.thread.start();
    r.addAndNotify('U1', 3);
    await waitUntil(() => r.buffer.stats().queuedReadings === 0);
    // As a crash would: the thread ends without stopping its forwarder.
    await (r.thread as unknown as { worker: Worker }).worker.terminate();
    r.addAndNotify('U1', 6, 3);
    await waitUntil(() => r.lines.some((l) => l.event === 'forward.thread_died'));
    expect(r.thread.state().state).toBe('stopped');
    await waitUntil(() => r.buffer.stats().queuedReadings === 0, 10_000);
    expect(sentSeqs(p.seen)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(await r.metrics.registry.metrics()).toMatch(
      /^ironledger_edge_forwarder_thread_restarts_total 1$/m,
    );
  });

  const ended = (lines: Array<Record<string, unknown>>) =>
    lines.filter((l) => l.event === 'forward.thread_ended').length;

  /** A thread (idle after 300 ms) that has sent readings 0–2 and then ended for want of work. */
  async function endedAfterThree(answer: Answer) {
    const p = await peer(answer);
    cleanup.push(p.close);
    const r = threadRig(p.url, { idleMs: 300 });
    await r.thread.start();
    r.addAndNotify('U1', 3);
    await waitUntil(() => r.buffer.stats().queuedReadings === 0);
    await waitUntil(() => ended(r.lines) === 1);
    return { p, r };
  }

  it('a thread with nothing to send ends after forwarderThreadIdleMs; the next reading starts it again', async () => {
    const { p, r } = await endedAfterThree(() => ({ status: 200 }));
    expect(r.thread.running()).toBe(false);
    expect(r.thread.endedIdle()).toBe(true);
    expect(r.thread.state().state).toBe('idle');
    expect(await r.metrics.registry.metrics()).toMatch(/^ironledger_edge_forwarder_thread_running 0$/m);
    r.addAndNotify('U1', 4, 3);
    expect(r.thread.running()).toBe(true);
    await waitUntil(() => r.buffer.stats().queuedReadings === 0);
    expect(sentSeqs(p.seen)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(await r.metrics.registry.metrics()).toMatch(/^ironledger_edge_forwarder_thread_running 1$/m);
    // Ending for want of work is not a failure.
    expect(await r.metrics.registry.metrics()).toMatch(
      /^ironledger_edge_forwarder_thread_restarts_total 0$/m,
    );
    expect(r.lines.some((l) => l.event === 'forward.thread_died')).toBe(false);
  });

  it('stopping a thread that has ended for want of work returns at once, and no later reading starts it', async () => {
    const { p, r } = await endedAfterThree(() => ({ status: 200 }));
    await r.thread.stop();
    const inside = r.thread as unknown as { worker: unknown; restartTimer: unknown; endedCheck: unknown };
    expect(inside).toMatchObject({ worker: null, restartTimer: null, endedCheck: null });
    expect(r.thread.state().state).toBe('stopped');
    r.addAndNotify('U1', 2, 3);
    expect(r.thread.running()).toBe(false);
    expect(inside).toMatchObject({ worker: null, endedCheck: null });
    expect(sentSeqs(p.seen)).toEqual([0, 1, 2]);
  });

  it('a thread started again after an idle end keeps when it last forwarded and the batch size a 413 left', async () => {
    let mode: 'up' | 'down' = 'up';
    const { p, r } = await endedAfterThree((s) => {
      if (mode === 'down') return { status: 503 };
      return (s.body as { readings: unknown[] }).readings.length > 1 ? { status: 413 } : { status: 200 };
    });
    const before = r.thread.state();
    expect(before.effectiveBatchSize).toBe(1);
    expect(before.lastForwardAt).not.toBeNull();
    // Started again while the cloud is down: the status still says when it last forwarded.
    mode = 'down';
    const sentBefore = p.seen.length;
    r.addAndNotify('U1', 4, 3);
    await waitUntil(() => r.thread.state().state === 'backoff');
    expect(r.thread.state().lastForwardAt).toBe(before.lastForwardAt);
    // Back up: one reading per request, as the 413 taught, not a fresh 413 first.
    mode = 'up';
    await waitUntil(() => r.buffer.stats().queuedReadings === 0, 10_000);
    const after = p.seen.slice(sentBefore).map((x) => (x.body as { readings: unknown[] }).readings.length);
    expect(after.length).toBeGreaterThanOrEqual(4);
    expect(after.every((n) => n === 1)).toBe(true);
    const single = p.seen.filter((x) => (x.body as { readings: unknown[] }).readings.length === 1);
    expect([...new Set(sentSeqs(single))]).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  /** Holds the thread's `idle` messages back; `deliver` hands one to the main thread's side. */
  function holdIdle(thread: ForwarderThread) {
    const t = thread as unknown as { onMessage(m: ForwarderToMain): void };
    const pass = t.onMessage.bind(t);
    const held: ForwarderToMain[] = [];
    t.onMessage = (m) => (m.t === 'idle' ? void held.push(m) : pass(m));
    return { held, deliver: (m: ForwarderToMain) => pass(m) };
  }
  const nextTurn = () => new Promise((r) => setImmediate(r));

  it('an idle message that a notify crossed does not end the thread: the readings are sent', async () => {
    const p = await peer(() => ({ status: 200 }));
    cleanup.push(p.close);
    const r = threadRig(p.url, { idleMs: 200 });
    const idle = holdIdle(r.thread);
    await r.thread.start();
    await waitUntil(() => idle.held.length === 1);
    // Readings committed after the thread said idle, before its message is read here.
    r.addAndNotify('U1', 3);
    await nextTurn();
    idle.deliver(idle.held[0]!);
    expect(r.thread.running()).toBe(true);
    await waitUntil(() => r.buffer.stats().queuedReadings === 0);
    expect(sentSeqs(p.seen)).toEqual([0, 1, 2]);
    expect(ended(r.lines)).toBe(0);
  });

  it('readings committed while the idle thread stops start it again: nothing waits for the next reading', async () => {
    const p = await peer(() => ({ status: 200 }));
    cleanup.push(p.close);
    const r = threadRig(p.url, { idleMs: 200 });
    const idle = holdIdle(r.thread);
    await r.thread.start();
    await waitUntil(() => idle.held.length === 1);
    idle.deliver(idle.held[0]!); // the thread is being stopped
    expect(r.thread.running()).toBe(false);
    r.addAndNotify('U1', 3);
    await waitUntil(() => ended(r.lines) === 1);
    await waitUntil(() => r.buffer.stats().queuedReadings === 0);
    expect(sentSeqs(p.seen)).toEqual([0, 1, 2]);
    expect(r.thread.running()).toBe(true);
  });

  it('readings another process wrote while the thread had ended are found and sent', async () => {
    const p = await peer(() => ({ status: 200 }));
    cleanup.push(p.close);
    const r = threadRig(p.url, { idleMs: 200, endedCheckMs: 200 });
    await r.thread.start();
    await waitUntil(() => ended(r.lines) === 1);
    // As `ironledger-edge replay` does: written to the file, nobody notified.
    const other = new SqliteBuffer({ path: r.file, gatewayId: 'gw-fwd' });
    add(other, 'U1', 3);
    other.close();
    await waitUntil(() => r.buffer.stats().queuedReadings === 0);
    expect(sentSeqs(p.seen)).toEqual([0, 1, 2]);
  });

  it('a thread started on demand that cannot start is handed back to the caller once, not retried', async () => {
    const cloud = EdgeConfigSchema.parse({
      gatewayId: 'gw-fwd',
      cloud: { url: 'http://127.0.0.1:9', token: 't' },
    }).cloud;
    const failures: unknown[] = [];
    const metrics = quietMetrics();
    const thread = new ForwarderThread(
      { code: 'throw new Error("no thread here")' },
      {
        buffer: { path: path.join(dir, `t${k++}.db`), gatewayId: 'gw-fwd' },
        cloud,
        gatewayId: 'gw-fwd',
        userAgent: 'test',
      },
      { metrics, log: silentLogger(), onUnavailable: (e) => failures.push(e) },
    );
    cleanup.push(() => thread.stop());
    thread.startOnDemand();
    expect(thread.running()).toBe(false);
    thread.notify(1);
    await waitUntil(() => failures.length === 1);
    expect(String((failures[0] as Error).message)).toMatch(/no thread here/);
    thread.notify(1); // the caller forwards another way now: nothing is started again
    expect(thread.running()).toBe(false);
    const inside = thread as unknown as { worker: unknown; restartTimer: unknown; endedCheck: unknown };
    expect(inside).toMatchObject({ worker: null, restartTimer: null, endedCheck: null });
    expect(await metrics.registry.metrics()).toMatch(/^ironledger_edge_forwarder_thread_restarts_total 0$/m);
  });

  it('a forwarder that stops on an error ends its thread, which is started again until the buffer opens, then forwards what waited', async () => {
    const p = await peer(() => ({ status: 200 }));
    cleanup.push(p.close);
    const r = threadRig(p.url);
    await r.thread.start();
    // The batches table goes away under the thread (a damaged file): its next batch fails.
    const raw = new Database(r.file);
    raw.exec('ALTER TABLE batches RENAME TO batches_away');
    r.addAndNotify('U1', 3);
    await waitUntil(() => r.lines.some((l) => l.event === 'forward.crashed'));
    await waitUntil(() => r.lines.some((l) => l.event === 'forward.thread_died'));
    // Started again, it cannot open the buffer while the table is missing, and tries again.
    await waitUntil(() => r.lines.some((l) => l.event === 'forward.thread_restart_failed'), 5000);
    raw.exec('ALTER TABLE batches_away RENAME TO batches');
    raw.close();
    await waitUntil(() => r.buffer.stats().queuedReadings === 0, 15_000);
    expect(sentSeqs(p.seen)).toEqual([0, 1, 2]);
  });
});

async function waitUntil(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
