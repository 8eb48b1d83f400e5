/** The agent's start-up log: an upgrade of an older buffer file is visible. */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import zlib from 'node:zlib';
import { createLogger } from '@ironledger/logger';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { expect, it } from 'vitest';
import { startAgent } from './agent.js';
import { migrate, SCHEMA_VERSION } from './buffer/migrations.js';

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { lines, logger: createLogger({ service: 'test', level: 'info', destination }) };
}

async function startOn(file: string, forwarderThread: 'worker' | 'main' = 'worker') {
  const { lines, logger } = capture();
  const agent = await startAgent(
    {
      gatewayId: 'gw-log',
      mqtt: { port: 0 },
      auth: { mode: 'open' },
      buffer: { path: file },
      cloud: {
        url: 'http://127.0.0.1:9',
        token: 't',
        heartbeatIntervalMs: 60_000,
        backoff: { baseMs: 60_000, capMs: 60_000 },
        forwarderThread,
      },
      http: { port: 0 },
    },
    { logger },
  );
  // Where the forwarder runs is visible in the status (the main thread when asked to).
  expect(agent.status().forwarder.thread).toBe(forwarderThread);
  await agent.stop();
  return lines.filter((l) => String(l.event).startsWith('buffer.'));
}

it('logs buffer.migrated {from, to} when it upgrades an older file, buffer.created for a new one', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edge-agent-'));
  const old = path.join(dir, 'old.db');
  const db = new Database(old);
  migrate(db, 1);
  db.close();
  expect(await startOn(old)).toMatchObject([{ event: 'buffer.migrated', from: 1, to: SCHEMA_VERSION }]);
  // Opened again: already current, nothing to say.
  expect(await startOn(old, 'main')).toEqual([]);
  expect(await startOn(path.join(dir, 'new.db'))).toMatchObject([
    { event: 'buffer.created', schemaVersion: SCHEMA_VERSION },
  ]);
});

it('an idle gateway runs no forwarder thread: the first reading starts it, and it ends again with nothing to send', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edge-agent-'));
  // A cloud that stores whatever it is sent.
  const units: string[] = [];
  const cloud = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req
      .on('data', (c: Buffer) => chunks.push(c))
      .on('end', () => {
        if (!req.url?.startsWith('/v1/batches')) return void res.writeHead(200).end('{}');
        const raw = Buffer.concat(chunks);
        const body = JSON.parse(
          (req.headers['content-encoding'] === 'gzip' ? zlib.gunzipSync(raw) : raw).toString('utf8'),
        ) as { batchId: string; readings: Array<{ unitId: string }> };
        units.push(...body.readings.map((r) => r.unitId));
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            batchId: body.batchId,
            accepted: body.readings.length,
            duplicates: 0,
            conflicts: 0,
          }),
        );
      });
  });
  await new Promise<void>((r) => cloud.listen(0, '127.0.0.1', r));
  const { lines, logger } = capture();
  const agent = await startAgent(
    {
      gatewayId: 'gw-idle',
      mqtt: { port: 0 },
      auth: { mode: 'open' },
      buffer: { path: path.join(dir, 'edge.db') },
      cloud: {
        url: `http://127.0.0.1:${(cloud.address() as AddressInfo).port}`,
        token: 't',
        maxBatchAgeMs: 0,
        heartbeatIntervalMs: 60_000,
        forwarderThreadIdleMs: 300,
      },
      http: { port: 0 },
    },
    { logger },
  );
  try {
    expect(agent.status().forwarder).toMatchObject({
      thread: 'worker',
      threadRunning: false,
      threadEndedIdle: true,
    });
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${agent.mqttPort}`);
    const reading = (unitId: string) =>
      JSON.stringify({ v: 1, unitId, ts: '2026-11-02T08:00:00.000Z', engineHours: 10 });
    await c.publishAsync('ironledger/v1/units/U1/telemetry', reading('U1'), { qos: 1 });
    await until(() => units.length === 1);
    await until(() => lines.some((l) => l.event === 'forward.thread_ended'));
    expect(agent.status().forwarder.threadRunning).toBe(false);
    await c.publishAsync('ironledger/v1/units/U2/telemetry', reading('U2'), { qos: 1 });
    await until(() => units.length === 2);
    expect(units).toEqual(['U1', 'U2']);
    await until(() => agent.status().queuedReadings === 0);
    await c.endAsync();
  } finally {
    await agent.stop();
    await new Promise((r) => cloud.close(r));
  }
});

async function until(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
