import path from 'node:path';
import { removeDir, tempDir, waitFor } from '@ironledger/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import {
  brokerModes,
  type CloudHandle,
  type EdgeHandle,
  expectCloudHoldsExactly,
  type MosquittoHandle,
  makeCredentials,
  metricValue,
  reading,
  startCloud,
  startEdge,
  startMosquitto,
  TestUnit,
  union,
} from '../edge/test/harness.js';

describe.each(brokerModes('edge-budget'))('disk budget reached ($mode broker)', ({ mode, skip }) => {
  const UNITS = 4;
  const PER_UNIT = 600;
  const unitIds = Array.from({ length: UNITS }, (_, i) => `GEN-${String(i + 1).padStart(3, '0')}`);
  let dir: string;
  let cloud: CloudHandle;
  let edge: EdgeHandle;
  let mosq: MosquittoHandle | null = null;
  const units: TestUnit[] = [];

  afterAll(async () => {
    await Promise.all(units.map((u) => u.close()));
    await edge?.stop();
    await mosq?.stop();
    await cloud?.proc.stop();
    if (dir) removeDir(dir);
  });

  it.skipIf(skip)('refuses new publishes, keeps every unsent reading, alarms, and recovers', async () => {
    dir = tempDir('edge-budget-');
    const gatewayId = 'gw-budget';
    cloud = await startCloud(dir, unitIds, gatewayId);
    await cloud.kill9();
    const creds = makeCredentials(unitIds);
    const edgeUser = { username: 'ironledger-edge', password: 'edge-secret' };
    if (mode === 'external') mosq = await startMosquitto(dir, creds, edgeUser);
    edge = await startEdge(dir, {
      gatewayId,
      mqtt:
        mode === 'embedded'
          ? { mode, port: 0 }
          : { mode, url: mosq!.url, username: edgeUser.username, password: edgeUser.password },
      auth: { units: creds.hashes },
      // ~0.15 MiB (76 KiB of it the empty file) holds several hundred readings at ~105 bytes
      // each: well below the 2400 the fleet will send.
      buffer: { path: path.join(dir, 'edge.db'), diskBudgetMb: 0.15 },
      cloud: {
        url: cloud.url,
        token: cloud.gatewayToken,
        maxBatchAgeMs: 100,
        backoff: { baseMs: 100, capMs: 500 },
      },
      http: { port: 0 },
    });
    const url = mode === 'embedded' ? `mqtt://127.0.0.1:${edge.mqttPort}` : mosq!.url;
    for (const u of unitIds) units.push(new TestUnit(u, url, creds.secrets[u]));
    for (let i = 0; i < PER_UNIT; i++) for (const u of units) u.publish(reading(u.unitId, i));

    await edge.proc.waitForEvent('buffer.full', {}, 30_000);
    const status = await waitFor(async () => {
      const s = await edge.status();
      return s.diskBudgetExceeded === true ? s : null;
    });
    await new Promise((r) => setTimeout(r, 1000)); // units (or the site broker) keep trying meanwhile
    const m = await edge.metrics();
    expect(metricValue(m, 'ironledger_edge_disk_budget_exceeded')).toBe(1);
    if (mode === 'embedded') {
      // Refused at the gateway: the rest stays with the units, unacknowledged.
      const acked = union(units);
      expect(acked.size).toBeGreaterThan(0);
      expect(acked.size).toBeLessThan(UNITS * PER_UNIT);
      expect(units.some((u) => u.pending.size > 0)).toBe(true);
      // Nothing unsent was deleted to make room: the outbox holds every acknowledged reading.
      expect((await edge.status()).queuedReadings).toBe(acked.size);
      expect(status.queuedReadings as number).toBeLessThanOrEqual(acked.size);
      expect(metricValue(m, 'ironledger_edge_publishes_refused_total{reason="buffer_full"}')).toBeGreaterThan(
        0,
      );
    } else {
      // Mosquitto acknowledged the units; the edge stopped taking from its session, which
      // queues the rest at the broker. Nothing was deleted: the outbox only grew.
      expect((await edge.status()).queuedReadings).toBeGreaterThanOrEqual(status.queuedReadings as number);
      expect((await edge.status()).queuedReadings as number).toBeLessThan(UNITS * PER_UNIT);
    }
    const full = edge.proc.logs().find((l) => l.event === 'buffer.full');
    expect(full?.level).toBe('error');

    // Uplink back: the backlog drains, acknowledged rows are pruned, publishes accepted again.
    await cloud.start();
    await waitFor(() => units.every((u) => u.pending.size === 0), {
      timeoutMs: 90_000,
      what: "the units' buffers to empty",
    });
    const all = union(units);
    expect(all.size).toBe(UNITS * PER_UNIT);
    // (External mode: part of the backlog still waits in the broker's session queue.)
    await expectCloudHoldsExactly(edge, cloud, all, { timeoutMs: 90_000, what: 'drain' });
    expect(edge.proc.logs().some((l) => l.event === 'buffer.ok')).toBe(true);
  });
});
