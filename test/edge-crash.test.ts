/**
 * Invariant 1 and 2 at the gateway (DESIGN.md): the edge is SIGKILLed again and again while
 * a fleet publishes QoS 1 at a high rate; after restarts the cloud holds exactly the
 * readings the units saw acknowledged — nothing lost, nothing twice. Run in both broker
 * modes: the embedded aedes broker, and a real Mosquitto with a persistent session.
 */
import { removeDir, tempDir, waitFor } from '@ironledger/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  brokerModes,
  type CloudHandle,
  type EdgeHandle,
  expectCloudHoldsExactly,
  reading,
  type Site,
  startSite,
  TestUnit,
  union,
} from '../edge/test/harness.js';

describe.each(brokerModes('edge-crash'))(
  'edge under SIGKILL while the fleet publishes ($mode broker)',
  ({ mode, skip }) => {
    const UNITS = 12;
    const PER_UNIT = 400;
    const unitIds = Array.from({ length: UNITS }, (_, i) => `EXC-${String(i + 1).padStart(4, '0')}`);
    let dir: string;
    let cloud: CloudHandle;
    let edge: EdgeHandle;
    let site: Site | undefined;
    const units: TestUnit[] = [];

    beforeAll(async () => {
      if (skip) return;
      dir = tempDir('edge-crash-');
      const gatewayId = 'gw-crash';
      // Units keep the broker address across edge restarts (pinMqttPort).
      site = await startSite(dir, {
        mode,
        unitIds,
        gatewayId,
        mqtt: mode === 'embedded' ? { host: '127.0.0.1' } : { clientId: 'edge-crash' },
        forward: {
          batchSize: 500,
          maxBatchAgeMs: 100,
          heartbeatIntervalMs: 1000,
          backoff: { baseMs: 50, capMs: 500 },
        },
        edge: { http: { host: '127.0.0.1', port: 0 }, log: { level: 'info' } },
        pinMqttPort: true,
      });
      ({ cloud, edge } = site);
      const { creds, unitUrl: url } = site;
      for (const u of unitIds) units.push(new TestUnit(u, url, creds.secrets[u]));
    }, 120_000);

    afterAll(async () => {
      await Promise.all(units.map((u) => u.close()));
      await site?.stop();
      if (dir) removeDir(dir);
    });

    it.skipIf(skip)(
      'loses nothing acknowledged and stores nothing twice across repeated SIGKILLs',
      async () => {
        let sent = 0;
        const publishing = (async () => {
          // ~12 units × 400 readings, paced so the kills land mid-stream.
          for (let i = 0; i < PER_UNIT; i++) {
            for (const u of units) u.publish(reading(u.unitId, i));
            sent += units.length;
            if (i % 20 === 19) await new Promise((r) => setTimeout(r, 25));
          }
        })();

        for (let k = 0; k < 4; k++) {
          await waitFor(() => union(units).size > (k + 1) * 600 || sent >= UNITS * PER_UNIT, {
            timeoutMs: 60_000,
            what: 'acknowledgements before a kill',
          });
          await edge.kill9();
          await new Promise((r) => setTimeout(r, 150)); // units notice the broker is gone
          await edge.start();
        }
        await publishing;

        // Units resend until everything is acknowledged; then the outbox drains.
        await waitFor(() => units.every((u) => u.pending.size === 0), {
          timeoutMs: 90_000,
          what: 'every reading acknowledged',
        }).catch((e) => {
          console.error(
            units
              .map((u) => `${u.unitId}: pending ${u.pending.size} connected ${u.client.connected}`)
              .join('\n'),
          );
          console.error(edge.proc.stdout().slice(-3000), edge.proc.stderr().slice(-3000));
          throw e;
        });
        const acked = union(units);
        expect(acked.size).toBe(UNITS * PER_UNIT);
        await expectCloudHoldsExactly(edge, cloud, acked, {
          timeoutMs: 90_000,
          what: 'the outbox to drain into the cloud',
        });
      },
    );
  },
);
