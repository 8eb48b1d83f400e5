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

describe.each(brokerModes('edge-budget'))('disk budget reached ($mode broker)', ({ mode, skip }) => {
  const UNITS = 4;
  const PER_UNIT = 600;
  const unitIds = Array.from({ length: UNITS }, (_, i) => `GEN-${String(i + 1).padStart(3, '0')}`);
  let dir: string;
  let site: Site | undefined;
  const units: TestUnit[] = [];

  afterAll(async () => {
    await Promise.all(units.map((u) => u.close()));
    await site?.stop();
    if (dir) removeDir(dir);
  });

  it.skipIf(skip)('refuses new publishes, keeps every unsent reading, alarms, and recovers', async () => {
    dir = tempDir('edge-budget-');
    const gatewayId = 'gw-budget';
    site = await startSite(dir, {
      mode,
      unitIds,
      gatewayId,
      cloudDown: true,
      // ~0.15 MiB (76 KiB of it the empty file) holds several hundred readings at ~105 bytes
      // each: well below the 2400 the fleet will send.
      buffer: { diskBudgetMb: 0.15 },
      forward: { maxBatchAgeMs: 100, backoff: { baseMs: 100, capMs: 500 } },
    });
    const { cloud, edge, creds } = site;
    for (const u of unitIds) units.push(new TestUnit(u, site.unitUrl, creds.secrets[u]));
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
