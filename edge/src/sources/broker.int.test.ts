/**
 * The embedded broker over real sockets: a PUBACK arrives only once the reading is
 * committed to the SQLite file [MQTT-4.3.2-2]; open mode accepts anyone, still validating.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { waitFor } from '@ironledger/testkit';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { type Agent, startAgent } from '../agent.js';
import { fr } from '../buffer/buffer.contract.js';
import { hashSecret } from '../secrets.js';
import { mayMatchReadings } from './broker.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edge-broker-'));
let agent: Agent | null = null;
afterEach(async () => {
  await agent?.stop();
  agent = null;
});

async function start(file: string, auth: Record<string, unknown>) {
  agent = await startAgent({
    gatewayId: 'gw-broker',
    mqtt: { port: 0 },
    auth,
    buffer: { path: file },
    // No cloud: the outbox only fills.
    cloud: {
      url: 'http://127.0.0.1:9',
      token: 't',
      heartbeatIntervalMs: 60_000,
      backoff: { baseMs: 60_000, capMs: 60_000 },
    },
    http: { port: 0 },
    log: { level: 'silent' },
  });
  return agent;
}

describe('embedded broker', () => {
  it('sends each PUBACK only after the reading is in the SQLite file', async () => {
    const file = path.join(dir, 'puback.db');
    const a = await start(file, { units: [{ unitId: 'U1', secretHash: hashSecret('s1') }] });
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${a.mqttPort}`, {
      clientId: 'U1',
      username: 'U1',
      password: 's1',
    });
    const db = new Database(file, { readonly: true });
    const has = db.prepare('SELECT count(*) FROM readings WHERE unit_id = ? AND ts = ?').pluck();
    const checks = await Promise.all(
      Array.from({ length: 200 }, (_x, i) => {
        const r = fr('U1', i);
        const { receivedAt: _r, source: _s, ...body } = r;
        return new Promise<number>((resolve, reject) =>
          c.publish('ironledger/v1/units/U1/telemetry', JSON.stringify(body), { qos: 1 }, (err) =>
            // Read the file the moment the PUBACK arrives, from another connection.
            err ? reject(err) : resolve(has.get(r.unitId, r.ts) as number),
          ),
        );
      }),
    );
    expect(checks.every((n) => n === 1)).toBe(true);
    db.close();
    await c.endAsync();
  });

  it('open mode: anyone publishes; invalid messages are quarantined and acknowledged', async () => {
    const a = await start(path.join(dir, 'open.db'), { mode: 'open' });
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${a.mqttPort}`);
    const { receivedAt: _r, source: _s, ...body } = fr('ANY-1', 1);
    await c.publishAsync('ironledger/v1/units/ANY-1/telemetry', JSON.stringify(body), { qos: 1 });
    await c.publishAsync('ironledger/v1/units/ANY-1/telemetry', 'not json', { qos: 1 });
    await c.publishAsync('somewhere/else', '{}', { qos: 1 });
    await c.endAsync();
    const s = a.status();
    expect(s).toMatchObject({ queuedReadings: 1, quarantined: 2 });
  });

  it('open mode: a client subscribed to readings receives each one from its subscription on', async () => {
    // Nobody subscribed, aedes' delivery of a reading is skipped; the first subscription that
    // could match one turns it back on for good.
    const a = await start(path.join(dir, 'open-sub.db'), { mode: 'open' });
    const unit = await mqtt.connectAsync(`mqtt://127.0.0.1:${a.mqttPort}`);
    const send = (i: number, retain = false) => {
      const { receivedAt: _r, source: _s, ...body } = fr('ANY-2', i);
      return unit.publishAsync('ironledger/v1/units/ANY-2/telemetry', JSON.stringify(body), {
        qos: 1,
        retain,
      });
    };
    await send(0);
    await send(1, true);
    const seen: number[] = [];
    const dash = await mqtt.connectAsync(`mqtt://127.0.0.1:${a.mqttPort}`);
    dash.on('message', (_topic, payload) =>
      seen.push((JSON.parse(payload.toString()) as { seq: number }).seq),
    );
    await dash.subscribeAsync('ironledger/v1/units/+/telemetry', { qos: 1 });
    for (let i = 2; i < 5; i++) await send(i);
    await waitFor(() => seen.length >= 4, { timeoutMs: 10_000, what: "the subscriber's readings" });
    // The retained reading, then every reading sent after the subscription.
    expect(seen).toEqual([1, 2, 3, 4]);
    expect(a.status()).toMatchObject({ queuedReadings: 5 });
    await unit.endAsync();
    await dash.endAsync();
  });

  it('knows which subscription filters could match a reading', () => {
    for (const f of [
      '#',
      '+/#',
      'ironledger/#',
      'ironledger/v1/units/+/telemetry',
      'ironledger/v1/units/U1/+',
    ])
      expect(mayMatchReadings(f), f).toBe(true);
    for (const f of ['ironledger/v1/units/U1/telemetry', 'ironledger/v1/units/U1/aemp'])
      expect(mayMatchReadings(f), f).toBe(true);
    for (const f of [
      'ironledger/v1/units/U1/cmd',
      'ironledger/v1/units/U1/status',
      '$SYS/#',
      'somewhere/else',
    ])
      expect(mayMatchReadings(f), f).toBe(false);
  });

  it('keeps no 65,536-entry cache of packet ids in the heap once units are acknowledged', async () => {
    const a = await start(path.join(dir, 'numbers.db'), { mode: 'open' });
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${a.mqttPort}`);
    for (let i = 0; i < 20; i++) {
      const { receivedAt: _r, source: _s, ...body } = fr('ANY-2', i);
      await c.publishAsync('ironledger/v1/units/ANY-2/telemetry', JSON.stringify(body), { qos: 1 });
    }
    await c.endAsync();
    expect(a.status()).toMatchObject({ queuedReadings: 20 });
    // The writer aedes answers with (mqtt-packet, one copy in the tree): its cache of two-byte
    // Buffers, which it fills on first use when left on, costs about 7 MB of heap.
    const require = createRequire(createRequire(import.meta.url).resolve('aedes'));
    const numbers = require('mqtt-packet/numbers.js') as { cache: Record<number, Buffer> };
    expect(Object.keys(numbers.cache)).toHaveLength(0);
  });
});
