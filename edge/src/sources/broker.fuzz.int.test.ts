/**
 * Fuzz at the socket: random bytes, random packets after a valid CONNECT, and valid packet
 * headers with random bodies, over real TCP to the embedded broker. The agent never crashes
 * (vitest fails the run on an uncaught exception), and afterwards a unit's reading is still
 * acknowledged after commit.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { mqttConnect, varint } from '@ironledger/testkit';
import fc from 'fast-check';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { type Agent, startAgent } from '../agent.js';
import { hashSecret } from '../secrets.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edge-fuzz-'));
let agent: Agent | null = null;
afterAll(async () => {
  await agent?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const connect = mqttConnect('U1', 'U1', 's1');

/** Sends `bytes` on a fresh connection; resolves when the broker closes it or after 150 ms. */
function poke(port: number, bytes: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const done = () => {
      s.destroy();
      resolve();
    };
    s.on('error', done);
    s.on('close', done);
    s.on('connect', () => s.write(bytes));
    setTimeout(done, 150);
  });
}

const packet = fc
  .tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 300 }))
  .map(([first, body]) => Buffer.concat([Buffer.from([first]), varint(body.length), Buffer.from(body)]));
const input = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 512 }).map((a) => Buffer.from(a)),
  packet,
  fc.array(packet, { minLength: 1, maxLength: 5 }).map((ps) => Buffer.concat([connect, ...ps])),
  fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.concat([connect, Buffer.from(a)])),
);

describe('embedded broker under fuzz', () => {
  it('survives 600 connections of garbage and still acknowledges a valid reading', async () => {
    agent = await startAgent({
      gatewayId: 'gw-fuzz',
      mqtt: { port: 0 },
      auth: { units: [{ unitId: 'U1', secretHash: hashSecret('s1') }] },
      buffer: { path: path.join(dir, 'fuzz.db') },
      cloud: { url: 'http://127.0.0.1:9', token: 't', backoff: { baseMs: 60_000, capMs: 60_000 } },
      http: { port: 0 },
      log: { level: 'silent' },
    });
    const port = agent.mqttPort;
    const cases = fc.sample(input, { numRuns: 600, seed: 21 });
    for (let i = 0; i < cases.length; i += 20)
      await Promise.all(cases.slice(i, i + 20).map((b) => poke(port, b)));

    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
      clientId: 'U1',
      username: 'U1',
      password: 's1',
      reconnectPeriod: 0,
    });
    const reading = { v: 1, unitId: 'U1', ts: '2026-11-02T08:00:00.000Z', engineHours: 10 };
    await c.publishAsync('ironledger/v1/units/U1/telemetry', JSON.stringify(reading), { qos: 1 });
    await c.endAsync();
    expect(agent.status().queuedReadings).toBeGreaterThanOrEqual(1);
  });
});
