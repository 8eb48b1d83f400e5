/**
 * No input or intruder blocks a site (issue #13, edge side), on the real edge and cloud
 * processes with the embedded broker. Each case is followed by a probe: another unit's valid
 * reading is acknowledged and stored by the cloud within a few seconds.
 *   1. a unit the edge knows and the cloud does not: nothing parked, held at the cloud
 *   2. a flood of 1 MB garbage: quarantine stays in its own bounded room, readings still flow
 *   3. a 50 MB payload: refused at its header, never buffered
 *   4. another unit's client id: refused, the unit's session untouched
 *   7. SUBSCRIBE naming 10 000 topics: a bounded number of log lines
 *   8. repeated wrong secrets: slowed, counted
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { mqttConnect, mqttString, removeDir, tempDir, varint, waitFor } from '@ironledger/testkit';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  brokerModes,
  type CloudHandle,
  type EdgeHandle,
  makeCredentials,
  metricValue,
  reading,
  startCloud,
  startEdge,
  TestUnit,
} from '../edge/test/harness.js';

const [embedded] = brokerModes('edge-intruder');

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

describe.skipIf(embedded!.skip)('intruders and bad input at the edge (embedded broker)', () => {
  const unitIds = ['U1', 'U2', 'U3'];
  const gatewayId = 'gw-intruder';
  let dir: string;
  let cloud: CloudHandle;
  let edge: EdgeHandle;
  let url: string;
  let probeUnit: TestUnit;
  let probeSeq = 0;
  const creds = makeCredentials([...unitIds, 'GHOST']);

  /** Another unit's reading is acknowledged by the edge and stored by the cloud within 5 s. */
  async function probe(): Promise<void> {
    const r = reading('U3', probeSeq++);
    const key = `U3@${r.ts}`;
    probeUnit.publish(r);
    await waitFor(() => probeUnit.acked.has(key) && cloud.readings().keys.has(key), {
      timeoutMs: 5000,
      what: `probe reading ${key} end to end`,
    });
  }

  beforeAll(async () => {
    dir = tempDir('edge-intruder-');
    cloud = await startCloud(dir, unitIds, gatewayId); // GHOST is unknown to the cloud
    edge = await startEdge(dir, {
      gatewayId,
      // 2 MiB packets let the garbage flood through the broker, so the quarantine bound is tested.
      mqtt: { mode: 'embedded', port: 0, maxPacketBytes: 2 * 1024 * 1024 },
      auth: { units: creds.hashes },
      buffer: { path: path.join(dir, 'edge.db'), diskBudgetMb: 4 },
      quarantine: { maxEntries: 5, maxPayloadBytes: 4096 },
      cloud: {
        url: cloud.url,
        token: cloud.gatewayToken,
        maxBatchAgeMs: 50,
        backoff: { baseMs: 100, capMs: 500 },
      },
      http: { port: 0 },
    });
    url = `mqtt://127.0.0.1:${edge.mqttPort}`;
    probeUnit = new TestUnit('U3', url, creds.secrets.U3);
    await probe();
  });

  afterAll(async () => {
    if (edge?.proc.child.exitCode !== null) console.error(edge?.proc.stderr().slice(-3000));
    await probeUnit?.close();
    await edge?.stop();
    await cloud?.proc.stop();
    if (dir) removeDir(dir);
  });

  it('1: a unit the cloud does not know parks nothing; its readings are held at the cloud', async () => {
    const ghost = new TestUnit('GHOST', url, creds.secrets.GHOST);
    const u1 = new TestUnit('U1', url, creds.secrets.U1);
    for (let i = 0; i < 5; i++) {
      ghost.publish(reading('GHOST', i));
      u1.publish(reading('U1', i));
    }
    await waitFor(() => cloud.readings().rows >= 10 + probeSeq, {
      timeoutMs: 10_000,
      what: 'all readings stored',
    });
    const status = await edge.status();
    expect(status).toMatchObject({ parkedBatches: 0, queuedReadings: 0 });
    const db = new Database(cloud.dbPath, { readonly: true });
    const held = db
      .prepare(
        "SELECT count(*) AS n FROM readings WHERE unit_id = 'GHOST' AND status = 'held' AND hold_reason LIKE 'unknown_unit%'",
      )
      .get() as { n: number };
    db.close();
    expect(held.n).toBe(5);
    await Promise.all([ghost.close(), u1.close()]);
    await probe();
  });

  it('2: 20 × 1 MB of garbage stays in the quarantine’s bounded room and never refuses a reading', async () => {
    const c = await mqtt.connectAsync(url, { clientId: 'U1', username: 'U1', password: creds.secrets.U1 });
    const garbage = Buffer.alloc(1024 * 1024, 0x41);
    for (let i = 0; i < 20; i++)
      await c.publishAsync('ironledger/v1/units/U1/telemetry', garbage, { qos: 1 });
    await c.endAsync();
    const status = (await edge.status()) as { quarantined: number; diskBudgetExceeded: boolean };
    expect(status.quarantined).toBe(5);
    expect(status.diskBudgetExceeded).toBe(false);
    expect(metricValue(await edge.metrics(), 'ironledger_edge_quarantine_evicted_total')).toBe(15);
    const db = new Database(edge.dbPath, { readonly: true });
    const rows = db.prepare('SELECT length(payload) AS kept, size, sha256 FROM quarantine').all() as Array<{
      kept: number;
      size: number;
      sha256: string;
    }>;
    db.close();
    expect(rows).toHaveLength(5);
    for (const r of rows) expect(r).toMatchObject({ kept: 4096, size: 1024 * 1024 });
    expect(rows[0]!.sha256).toMatch(/^[0-9a-f]{64}$/);
    await probe();
  });

  it('3: a 50 MB payload is refused at its header, without buffering it', async () => {
    const before = rssMb(edge.proc.child.pid!);
    const quarantinedBefore = ((await edge.status()) as { quarantined: number }).quarantined;
    const sock = net.connect(edge.mqttPort, '127.0.0.1');
    sock.on('error', () => {});
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.write(mqttConnect('U1', 'U1', creds.secrets.U1!));
    await new Promise<void>((r) => sock.once('data', () => r())); // CONNACK
    const topic = mqttString('ironledger/v1/units/U1/telemetry');
    const total = 50 * 1024 * 1024;
    sock.write(
      Buffer.concat([Buffer.from([0x32]), varint(topic.length + 2 + total), topic, Buffer.from([0, 1])]),
    );
    const chunk = Buffer.alloc(64 * 1024, 0x42);
    let sent = 0;
    const closed = new Promise<void>((r) => sock.once('close', () => r()));
    let isClosed = false;
    void closed.then(() => {
      isClosed = true;
    });
    while (!isClosed && sent < total) {
      sent += chunk.length;
      if (!sock.write(chunk)) await Promise.race([new Promise((r) => sock.once('drain', r)), closed]);
    }
    await closed;
    expect(sent).toBeLessThan(total); // the edge hung up long before the payload was through
    expect(
      metricValue(await edge.metrics(), 'ironledger_edge_publishes_refused_total{reason="too_large"}'),
    ).toBe(1);
    expect(((await edge.status()) as { quarantined: number }).quarantined).toBe(quarantinedBefore);
    expect(rssMb(edge.proc.child.pid!) - before).toBeLessThan(30);
    await probe();
  });

  it('4: another unit’s client id is refused and that unit’s session is untouched', async () => {
    const victim = await mqtt.connectAsync(url, {
      clientId: 'U2',
      username: 'U2',
      password: creds.secrets.U2,
      clean: false,
      reconnectPeriod: 0,
    });
    let victimClosed = false;
    victim.on('close', () => {
      victimClosed = true;
    });
    const attempt = await new Promise<string>((resolve) => {
      const c = mqtt.connect(url, {
        clientId: 'U2',
        username: 'U1',
        password: creds.secrets.U1,
        clean: false,
        reconnectPeriod: 0,
      });
      c.once('connect', () => resolve('connected'));
      c.once('error', (e) => resolve(e.message));
      c.once('close', () => resolve('closed'));
    });
    expect(attempt).toMatch(/Identifier rejected/i);
    // The victim is still connected and its publishes are acknowledged.
    const r = reading('U2', 0);
    await victim.publishAsync('ironledger/v1/units/U2/telemetry', JSON.stringify(r), { qos: 1 });
    expect(victimClosed).toBe(false);
    await waitFor(() => cloud.readings().keys.has(`U2@${r.ts}`), {
      timeoutMs: 5000,
      what: 'victim reading stored',
    });
    await victim.endAsync();
    await probe();
  });

  it('7: a SUBSCRIBE naming 10 000 topics is refused with a bounded log volume', async () => {
    const c = await mqtt.connectAsync(url, { clientId: 'U1', username: 'U1', password: creds.secrets.U1 });
    const logBefore = edge.proc.stdout().length;
    const topics = Array.from({ length: 10_000 }, (_, i) => `ironledger/v1/units/U${i}/cmd`);
    // mqtt.js reports a SUBACK with failure codes as an error carrying the packet.
    const codes = await new Promise<number[]>((resolve) =>
      c.subscribe(topics, { qos: 1 }, (err, granted) => {
        const packet = (err as { packet?: { granted?: number[] } } | null)?.packet;
        resolve(packet?.granted ?? granted?.map((g) => g.qos) ?? []);
      }),
    );
    expect(codes.filter((q) => q === 128)).toHaveLength(9_999); // all but its own cmd topic
    await c.endAsync();
    // The summary line of the interval carries the count.
    const summary = await edge.proc.waitForEvent('mqtt.denials', {}, 15_000);
    expect(summary.refusals).toBeGreaterThanOrEqual(9_990);
    const written = edge.proc.stdout().length - logBefore;
    expect(written).toBeLessThan(16 * 1024); // 10 000 warn lines were ~2 MB
    await probe();
  });

  it('8: repeated wrong secrets from one address are slowed and counted', async () => {
    const delayedBefore = metricValue(await edge.metrics(), 'ironledger_edge_auth_delayed_total');
    const took: number[] = [];
    for (let i = 0; i < 8; i++) {
      const started = Date.now();
      const outcome = await new Promise<string>((resolve) => {
        const c = mqtt.connect(url, {
          clientId: 'U1',
          username: 'U1',
          password: `guess-${i}`,
          reconnectPeriod: 0,
        });
        c.once('connect', () => resolve('connected'));
        c.once('error', (e) => resolve(e.message));
      });
      expect(outcome).toMatch(/Bad username or password/i);
      took.push(Date.now() - started);
    }
    // Five free failures (test 4's refused client id is one of them), then 0.25, 0.5, 1 s…
    expect(took[7]).toBeGreaterThanOrEqual(900);
    const m = await edge.metrics();
    expect(metricValue(m, 'ironledger_edge_auth_failures_total{kind="auth_failed"}')).toBe(8);
    expect(metricValue(m, 'ironledger_edge_auth_delayed_total') - delayedBefore).toBeGreaterThanOrEqual(3);
    await probe(); // a unit with its right secret is not slowed
  });
});
