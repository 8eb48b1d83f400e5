import { removeDir, tempDir, waitFor } from '@ironledger/testkit';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import {
  brokerModes,
  expectCloudHoldsExactly,
  metricValue,
  reading,
  type Site,
  startSite,
  TestUnit,
  union,
} from '../edge/test/harness.js';

describe.each(brokerModes('edge-storm'))('redelivery storm ($mode broker)', ({ mode, skip }) => {
  const UNITS = 20;
  const PER_UNIT = 100;
  const ROUNDS = 4;
  const unitIds = Array.from({ length: UNITS }, (_, i) => `DZR-${String(i + 1).padStart(3, '0')}`);
  let dir: string;
  let site: Site | undefined;

  afterAll(async () => {
    await site?.stop();
    if (dir) removeDir(dir);
  });

  it.skipIf(skip)('stores and forwards each reading once', async () => {
    dir = tempDir('edge-storm-');
    const gatewayId = 'gw-storm';
    site = await startSite(dir, {
      mode,
      unitIds,
      gatewayId,
      forward: { batchSize: 300, maxBatchAgeMs: 100 },
    });
    const { cloud, edge, creds, unitUrl: url } = site;

    const acked = new Set<string>();
    for (let round = 0; round < ROUNDS; round++) {
      // Every round is a reconnect of the whole fleet at once, resending everything.
      const units = unitIds.map((u) => new TestUnit(u, url, creds.secrets[u]));
      for (let i = 0; i < PER_UNIT; i++) for (const u of units) u.publish(reading(u.unitId, i));
      await waitFor(() => units.every((u) => u.pending.size === 0), {
        timeoutMs: 60_000,
        what: `round ${round} acknowledged`,
      });
      for (const k of union(units)) acked.add(k);
      await Promise.all(units.map((u) => u.close()));
    }
    // And QoS 1 redeliveries proper: the same PUBLISH again with DUP set [MQTT-3.3.1-1].
    const u0 = unitIds[0]!;
    const raw = mqtt.connect(url, { clientId: '', username: u0, password: creds.secrets[u0], clean: true });
    await new Promise<void>((r) => raw.once('connect', () => r()));
    for (let i = 0; i < 20; i++) {
      await raw.publishAsync(`ironledger/v1/units/${u0}/telemetry`, JSON.stringify(reading(u0, i)), {
        qos: 1,
        dup: true,
      });
    }
    await raw.endAsync();

    expect(acked.size).toBe(UNITS * PER_UNIT);
    await expectCloudHoldsExactly(edge, cloud, acked, { timeoutMs: 60_000, what: 'forwarding done' });
    const m = await edge.metrics();
    expect(metricValue(m, 'ironledger_edge_readings_duplicate_total')).toBeGreaterThanOrEqual(
      (ROUNDS - 1) * UNITS * PER_UNIT + 20,
    );
    // The edge forwarded each identity once: the cloud never had to deduplicate. The
    // forwarder's lines reach the log through the main thread, behind what it was writing.
    const sentLines = () => edge.proc.logs().filter((l) => l.event === 'forward.batch_sent');
    const sentCount = () => sentLines().reduce((n, l) => n + (l.count as number), 0);
    await waitFor(() => sentCount() >= acked.size, {
      timeoutMs: 30_000,
      intervalMs: 250,
      what: 'forward.batch_sent lines',
    });
    expect(sentCount()).toBe(acked.size);
    expect(sentLines().reduce((n, l) => n + (l.duplicates as number), 0)).toBe(0);
  });
});
