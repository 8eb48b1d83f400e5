/**
 * Invariant 1 across an uplink outage: the cloud is down while a day of readings arrives
 * (and the edge itself is SIGKILLed once meanwhile); when the cloud is back the backlog
 * drains, and the cloud holds exactly what the units saw acknowledged, once each.
 */
import { removeDir, tempDir, waitFor } from '@ironledger/testkit';
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

describe.each(brokerModes('edge-outage'))(
  'cloud down for a simulated day ($mode broker)',
  ({ mode, skip }) => {
    const UNITS = 10;
    const PER_UNIT = 288; // one day at 5-minute intervals
    const unitIds = Array.from({ length: UNITS }, (_, i) => `LDR-${String(i + 1).padStart(3, '0')}`);
    let dir: string;
    let site: Site | undefined;
    const units: TestUnit[] = [];

    afterAll(async () => {
      await Promise.all(units.map((u) => u.close()));
      await site?.stop();
      if (dir) removeDir(dir);
    });

    it.skipIf(skip)('drains the backlog when the cloud is back: nothing lost, nothing twice', async () => {
      dir = tempDir('edge-outage-');
      const gatewayId = 'gw-outage';
      site = await startSite(dir, {
        mode,
        unitIds,
        gatewayId,
        forward: {
          batchSize: 200,
          maxBatchAgeMs: 100,
          heartbeatIntervalMs: 300,
          backoff: { baseMs: 100, capMs: 800 },
        },
        pinMqttPort: true,
      });
      const { cloud, edge, creds } = site;
      for (const u of unitIds) units.push(new TestUnit(u, site.unitUrl, creds.secrets[u]));

      await cloud.kill9();
      const start = Date.parse('2026-11-03T00:00:00.000Z');
      for (let i = 0; i < PER_UNIT; i++) {
        for (const u of units) u.publish(reading(u.unitId, i, start, 5 * 60_000));
        if (i === PER_UNIT / 2) {
          await waitFor(() => union(units).size >= (PER_UNIT / 2) * UNITS, {
            what: 'first half acknowledged',
          });
          await edge.kill9(); // the gateway loses power during the outage too
          await edge.start();
        }
      }
      await waitFor(() => units.every((u) => u.pending.size === 0), {
        timeoutMs: 60_000,
        what: 'every reading acknowledged',
      });
      const acked = union(units);
      expect(acked.size).toBe(UNITS * PER_UNIT);

      // While the cloud is away everything waits in the outbox, and the edge says so.
      await waitFor(async () => (await edge.status()).queuedReadings === acked.size, {
        what: 'backlog = acknowledged readings',
      });
      const during = await edge.status();
      expect(during.oldestUnsentAgeS as number).toBeGreaterThan(0);
      expect((during.forwarder as { state: string }).state).toMatch(/backoff|sending/);
      expect(metricValue(await edge.metrics(), 'ironledger_edge_queue_depth')).toBe(acked.size);
      expect(cloud.readings().rows).toBe(0);

      await cloud.start();
      await expectCloudHoldsExactly(edge, cloud, acked, { timeoutMs: 90_000, what: 'backlog drained' });
      // The fleet manager sees the site again, its backlog back to zero.
      await waitFor(async () => (await cloud.gatewayStatus())?.queuedReadings === 0, {
        what: 'heartbeat with an empty backlog',
      });
      expect(edge.proc.logs().some((l) => l.event === 'forward.retry')).toBe(true);
    });
  },
);
