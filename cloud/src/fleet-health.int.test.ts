/** `GET /v1/status` and the operator gauges name the same stale gateways and silent units. */
import { afterEach, describe, expect, it } from 'vitest';
import { batch, startTestCloud, type TestCloud, TOKENS } from './testing/harness.js';

let t: TestCloud | undefined;
afterEach(async () => {
  await t?.stop();
});

function gauge(metrics: string, name: string): number {
  const line = metrics.split('\n').find((l) => l.startsWith(`${name} `));
  if (!line) throw new Error(`${name} not in /metrics`);
  return Number(line.split(' ')[1]);
}

describe('stale gateways and silent units', () => {
  it('are the same in /v1/status and /metrics as the clock passes silentUnitAfterS', async () => {
    let nowMs = Date.parse('2026-06-01T10:00:00Z');
    t = await startTestCloud({
      now: () => nowMs,
      config: { consolidation: { cron: '', silentUnitAfterS: 600 } },
    });
    const hb = {
      version: '1.0.0',
      sentAt: new Date(nowMs).toISOString(),
      queuedReadings: 0,
      oldestUnsentAgeS: null,
      quarantined: 0,
    };
    expect((await t.api('POST', '/v1/gateways/gw1/heartbeat', hb, TOKENS.gw1)).status).toBe(200);
    expect((await t.postBatch(batch([['EXC-1', '2026-06-01T10:00:00Z', 100]]))).status).toBe(200);

    const look = async () => {
      const s = (await t!.api('GET', '/v1/status', undefined, TOKENS.viewer)).json;
      const text = await fetch(`${t!.url}/metrics`).then((r) => r.text());
      return {
        stale: s.gateways
          .filter((g: { stale: boolean }) => g.stale)
          .map((g: { gatewayId: string }) => g.gatewayId),
        silent: s.silentUnits.map((u: { unitId: string }) => u.unitId),
        staleGauge: gauge(text, 'ironledger_cloud_gateways_stale'),
        silentGauge: gauge(text, 'ironledger_cloud_silent_units'),
      };
    };

    // A reading's reception time is the gateway's (receivedAt), here the clock's now.
    // gw2 never seen and EXC-2 never heard: both count from the start.
    expect(await look()).toEqual({ stale: ['gw2'], silent: ['EXC-2'], staleGauge: 1, silentGauge: 1 });
    // Exactly at the limit nothing more is stale; one second past it, everything is.
    nowMs += 600_000;
    expect(await look()).toEqual({ stale: ['gw2'], silent: ['EXC-2'], staleGauge: 1, silentGauge: 1 });
    nowMs += 1_000;
    expect(await look()).toEqual({
      stale: ['gw1', 'gw2'],
      silent: ['EXC-1', 'EXC-2'],
      staleGauge: 2,
      silentGauge: 2,
    });
  });
});
