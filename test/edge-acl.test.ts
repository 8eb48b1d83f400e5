/**
 * Contract 1 authentication and ACL: a unit authenticates as itself and may publish only
 * under its own unitId. Impersonation is refused (embedded: no PUBACK, connection closed;
 * Mosquitto: its ACL drops the message), a wrong secret is refused at CONNECT, a foreign
 * subscription gets a failure SUBACK, and a payload naming another unit is quarantined —
 * listable and replayable with the CLI.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { BIN, removeDir, tempDir, waitFor } from '@ironledger/testkit';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import {
  brokerModes,
  type Credentials,
  metricValue,
  reading,
  type Site,
  startSite,
} from '../edge/test/harness.js';

const run = promisify(execFile);

describe.each(brokerModes('edge-acl'))('unit authentication and ACL ($mode broker)', ({ mode, skip }) => {
  const unitIds = ['CRN-001', 'CRN-002'];
  let dir: string;
  let site: Site | undefined;
  let url: string;
  let creds: Credentials;

  afterAll(async () => {
    await site?.stop();
    if (dir) removeDir(dir);
  });

  it.skipIf(skip)(
    'refuses a unit publishing as another, a wrong secret and a foreign subscription',
    async () => {
      dir = tempDir('edge-acl-');
      const gatewayId = 'gw-acl';
      site = await startSite(dir, { mode, unitIds, gatewayId, forward: { maxBatchAgeMs: 50 } });
      const { cloud, edge, edgeUser } = site;
      creds = site.creds;
      url = site.unitUrl;
      const [a, b] = unitIds as [string, string];

      // Wrong secret: CONNACK refused.
      const wrong = mqtt.connect(url, {
        clientId: a,
        username: a,
        password: 'not-the-secret',
        reconnectPeriod: 0,
      });
      const refused = await new Promise<string>((r) => {
        wrong.once('connect', () => r('connected'));
        wrong.once('error', (e) => r(e.message));
      });
      wrong.end(true);
      expect(refused).toMatch(/Bad username or password|Not authorized/i);

      // A publishes on B's topic with B's identity in the payload.
      const ca = mqtt.connect(url, {
        clientId: a,
        username: a,
        password: creds.secrets[a],
        reconnectPeriod: 0,
      });
      await new Promise<void>((r) => ca.once('connect', () => r()));
      ca.on('error', () => {});
      const forged = reading(b, 1);
      const outcome = await new Promise<string>((resolve) => {
        ca.publish(`ironledger/v1/units/${b}/telemetry`, JSON.stringify(forged), { qos: 1 }, (err) =>
          resolve(err ? `error: ${err.message}` : 'puback'),
        );
        ca.once('close', () => resolve('closed'));
        setTimeout(() => resolve('timeout'), 3000);
      });
      if (mode === 'embedded') expect(outcome).toBe('closed'); // no PUBACK [MQTT-3.3.5-2]
      ca.end(true);

      // B may not listen to A's commands: embedded, SUBACK carries the failure code 0x80
      // [MQTT-3.9.3]; Mosquitto grants the SUBACK but its ACL delivers nothing.
      const cb = mqtt.connect(url, {
        clientId: b,
        username: b,
        password: creds.secrets[b],
        reconnectPeriod: 0,
      });
      await new Promise<void>((r) => cb.once('connect', () => r()));
      const subscribe = (topic: string) =>
        new Promise<number>((resolve) =>
          cb.subscribe(topic, { qos: 1 }, (err, granted) => resolve(err ? 128 : (granted?.[0]?.qos ?? 128))),
        );
      const received: string[] = [];
      cb.on('message', (topic) => received.push(topic));
      const foreign = await subscribe(`ironledger/v1/units/${a}/cmd`);
      expect(await subscribe(`ironledger/v1/units/${b}/cmd`)).not.toBe(128);
      if (mode === 'embedded') expect(foreign).toBe(128);
      else {
        const admin = mqtt.connect(url, {
          username: edgeUser.username,
          password: edgeUser.password,
          reconnectPeriod: 0,
        });
        await new Promise<void>((r) => admin.once('connect', () => r()));
        await admin.publishAsync(`ironledger/v1/units/${a}/cmd`, 'reboot', { qos: 1 });
        await admin.publishAsync(`ironledger/v1/units/${b}/cmd`, 'ping', { qos: 1 });
        await waitFor(() => received.length >= 1, { what: "B's own command" });
        await admin.endAsync();
        expect(received).toEqual([`ironledger/v1/units/${b}/cmd`]);
      }

      // B on its own topic, payload claiming to be A: quarantined, not stored as A's.
      await cb.publishAsync(`ironledger/v1/units/${b}/telemetry`, JSON.stringify(reading(a, 2)), { qos: 1 });
      // And a legitimate reading, so we know the pipeline runs.
      await cb.publishAsync(`ironledger/v1/units/${b}/telemetry`, JSON.stringify(reading(b, 3)), { qos: 1 });
      await cb.endAsync();

      await waitFor(() => cloud.readings().rows >= 1, { what: "B's own reading in the cloud" });
      await waitFor(async () => (await edge.status()).quarantined === 1, {
        what: 'the forged payload quarantined',
      });
      const inCloud = cloud.readings();
      expect([...inCloud.keys]).toEqual([`${b}@${reading(b, 3).ts}`]);
      if (mode === 'embedded') {
        const m = await edge.metrics();
        expect(
          metricValue(m, 'ironledger_edge_publishes_refused_total{reason="acl"}'),
        ).toBeGreaterThanOrEqual(2);
        expect(
          edge.proc
            .logs()
            .some((l) => l.event === 'mqtt.acl_denied' && l.topic === `ironledger/v1/units/${b}/telemetry`),
        ).toBe(true);
      }

      // The quarantine is listable and replayable (still invalid: it stays quarantined).
      const env = { ...process.env };
      const list = await run(
        process.execPath,
        [BIN.edge, 'quarantine', 'list', '--json', '--config', edge.configPath],
        { env },
      );
      const entries = JSON.parse(list.stdout) as Array<{ topic: string; reason: string; payload: string }>;
      expect(entries).toHaveLength(1);
      expect(entries[0]!.reason).toMatch(/^unit_mismatch/);
      expect(JSON.parse(entries[0]!.payload).unitId).toBe(a);
      const replay = await run(
        process.execPath,
        [BIN.edge, 'replay', '--quarantine', '--config', edge.configPath],
        { env },
      );
      expect(replay.stdout).toMatch(/1 considered, 0 stored.*1 still invalid/);
    },
  );
});
