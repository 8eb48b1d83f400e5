/**
 * The fleet against a real MQTT broker (aedes) over real sockets: delivery with QoS 1, the
 * acknowledgement log, authentication, a broker that vanishes and returns, redelivery,
 * impersonation refused, offline backlog, giving up.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseUnitTopic } from '@ironledger/contracts';
import { silentLogger } from '@ironledger/logger';
import { removeDir, tempDir, waitFor } from '@ironledger/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deterministicSecrets } from './credentials.js';
import { DEFAULT_FAULT_OPTIONS, type FaultKind } from './faults.js';
import { type Pace, type RunOptions, runFleet } from './fleet.js';
import { type FleetPlan, planFleet, unitMessages } from './plan.js';
import { TestBroker } from './testing/broker.js';

let dir: string;
const brokers: TestBroker[] = [];

beforeEach(() => {
  dir = tempDir('sim-fleet-');
});
afterEach(async () => {
  for (const b of brokers.splice(0)) await b.stop();
  removeDir(dir);
});

function plan(
  units: number,
  enabled: FaultKind[] = [],
  over: Partial<typeof DEFAULT_FAULT_OPTIONS> = {},
  days = 1,
): FleetPlan {
  return planFleet({
    seed: '9',
    units,
    startMs: Date.parse('2026-11-02T00:00:00Z'),
    days,
    intervalMs: 5 * 60_000,
    format: 'mixed',
    faults: { ...DEFAULT_FAULT_OPTIONS, ...over, enabled },
  });
}

async function broker(o: ConstructorParameters<typeof TestBroker>[0] = {}): Promise<TestBroker> {
  const b = new TestBroker(o);
  await b.start();
  brokers.push(b);
  return b;
}

function run(p: FleetPlan, b: TestBroker, over: Partial<RunOptions> = {}, pace: Pace = { mode: 'afap' }) {
  return runFleet({
    plan: p,
    brokerUrl: b.url,
    pace,
    qos: 1,
    secrets: deterministicSecrets(p.world, p.options.seed),
    ackedPath: path.join(dir, 'acked.jsonl'),
    reconnectPeriodMs: 100,
    logger: silentLogger(),
    ...over,
  });
}

/** (unitId@ts) of every reading the plan publishes under the unit's own id. */
function plannedIds(p: FleetPlan): Set<string> {
  const ids = new Set<string>();
  for (const u of p.units)
    for (const m of unitMessages(u, p)) if (m.kind === 'reading') ids.add(`${m.unitId}@${m.ts}`);
  return ids;
}

function ackedIds(): Set<string> {
  const ids = new Set<string>();
  for (const line of fs.readFileSync(path.join(dir, 'acked.jsonl'), 'utf8').split('\n')) {
    if (!line) continue;
    const r = JSON.parse(line) as { unitId: string; ts: string };
    expect(Object.keys(r)).toEqual(['unitId', 'ts']);
    ids.add(`${r.unitId}@${r.ts}`);
  }
  return ids;
}

describe('fleet over MQTT', () => {
  it('delivers every reading with QoS 1, authenticated, and logs each acknowledgement', async () => {
    const p = plan(3);
    const b = await broker({ secrets: deterministicSecrets(p.world, p.options.seed), enforceOwnTopic: true });
    const s = await run(p, b);
    const per = (p.endMs - p.startMs) / p.intervalMs + 1;
    expect(s).toMatchObject({
      event: 'sim.summary',
      published: 3 * per,
      acknowledged: 3 * per,
      failed: 0,
      gaveUp: false,
    });
    expect(s.readingsPerSecond).toBeGreaterThan(0);
    expect(ackedIds()).toEqual(plannedIds(p));
    // Mixed format: the second unit speaks AEMP.
    expect(b.readingsOf('LDR-0002').every((r) => r.topic.endsWith('/aemp'))).toBe(true);
    expect(b.readingsOf('EXC-0001').every((r) => r.topic.endsWith('/telemetry'))).toBe(true);
    // Status: retained online on connect, retained offline on a clean goodbye.
    const status = b.received.filter(
      (r) => parseUnitTopic(r.topic)?.kind === 'status' && r.topic.includes('EXC-0001'),
    );
    expect(status.map((r) => [r.payload, r.retain])).toEqual([
      ['online', true],
      ['offline', true],
    ]);
  });

  it('refuses to connect with a wrong secret and gives up when nothing is acknowledged', async () => {
    const p = plan(2);
    const b = await broker({ secrets: { 'EXC-0001': 'not-this', 'LDR-0002': 'nor-this' } });
    const s = await run(p, b, { giveUpAfterMs: 800, connectWaitMs: 200 });
    expect(s.gaveUp).toBe(true);
    expect(s.acknowledged).toBe(0);
    expect(s.failed).toBeGreaterThan(0);
    expect(b.readingsOf('EXC-0001')).toHaveLength(0);
  });

  it('puts the same messages on the wire, in the same order per unit, on every run', async () => {
    const p = plan(4, ['duplicate', 'reorder', 'malformed', 'gap', 'clock1970', 'skew'], {
      duplicateRate: 0.05,
      malformedRate: 0.05,
    });
    const b1 = await broker();
    await run(p, b1);
    const b2 = await broker();
    await run(
      plan(4, ['duplicate', 'reorder', 'malformed', 'gap', 'clock1970', 'skew'], {
        duplicateRate: 0.05,
        malformedRate: 0.05,
      }),
      b2,
    );
    for (const u of p.units) {
      const a = b1.readingsOf(u.unit.unitId).map((r) => r.payload);
      expect(a.length).toBeGreaterThan(280);
      expect(b2.readingsOf(u.unit.unitId).map((r) => r.payload)).toEqual(a);
    }
  });

  it('survives a broker that disappears and comes back, resending what was not acknowledged', async () => {
    const p = plan(6);
    const b = await broker();
    const done = run(p, b, {}, { mode: 'rate', rate: 1500 });
    for (let k = 1; k <= 2; k++) {
      await waitFor(() => b.received.length > k * 400, { what: `${k * 400} publishes` });
      await b.stop();
      await new Promise((r) => setTimeout(r, 300));
      await b.start();
    }
    const s = await done;
    expect(s.failed).toBe(0);
    expect(s.reconnects).toBeGreaterThanOrEqual(6);
    expect(ackedIds()).toEqual(plannedIds(p));
  });

  it('redelivers a PUBLISH whose PUBACK was lost to a cut connection', async () => {
    const p = plan(2, ['redelivery'], { redeliveryRate: 0.03 });
    const b = await broker();
    const s = await run(p, b);
    expect(s.failed).toBe(0);
    expect(ackedIds()).toEqual(plannedIds(p));
    const published = b.received.filter((r) => parseUnitTopic(r.topic)?.kind !== 'status');
    // More arrivals than planned readings: the cut ones came again.
    expect(published.length).toBeGreaterThan(plannedIds(p).size);
    expect(published.some((r) => r.dup)).toBe(true);
  });

  it('has impersonation refused by a gateway that enforces "your own id only"', async () => {
    const p = plan(3, ['impersonate'], { impersonateRate: 0.02 });
    const b = await broker({ enforceOwnTopic: true });
    const s = await run(p, b);
    expect(s.impersonations.published).toBeGreaterThan(0);
    // The gateway hung up on the unit each time it saw one (QoS 0: one sent into a socket
    // that was already closing is simply gone); none was accepted under the wrong id.
    expect(b.refused.length).toBeGreaterThan(0);
    expect(b.refused.length).toBeLessThanOrEqual(s.impersonations.published);
    for (const r of b.received) {
      const t = parseUnitTopic(r.topic);
      if (t && r.clientId) expect(t.unitId).toBe(r.clientId);
    }
    expect(s.failed).toBe(0);
    expect(ackedIds()).toEqual(plannedIds(p));
  });

  it("sends malformed payloads on the unit's topic and is not trapped by a gateway that hangs up on them", async () => {
    const p = plan(3, ['malformed'], { malformedRate: 0.05 });
    const isReading = (payload: string) => {
      try {
        const r = JSON.parse(payload) as Record<string, unknown>;
        return r.v === 1 || typeof r.CumulativeOperatingHours === 'object';
      } catch {
        return false;
      }
    };
    const b = await broker({ refuse: (topic, payload) => !topic.endsWith('/status') && !isReading(payload) });
    const s = await run(p, b);
    expect(s.malformed.published).toBeGreaterThan(10);
    expect(b.refused.length).toBeGreaterThan(0);
    expect(s.failed).toBe(0);
    expect(ackedIds()).toEqual(plannedIds(p));
  });

  it('goes offline for a gap (last will published) and sends the backlog after', async () => {
    const p = plan(2, ['gap'], { gapUnits: 1, gapHours: 2 });
    const b = await broker();
    const s = await run(p, b);
    expect(s.failed).toBe(0);
    for (const u of p.units) {
      const status = b.received
        .filter((r) => r.topic.endsWith(`${u.unit.unitId}/status`))
        .map((r) => r.payload);
      // online, offline (last will at the gap), online again, offline (goodbye).
      expect(status).toEqual(['online', 'offline', 'online', 'offline']);
    }
    expect(ackedIds()).toEqual(plannedIds(p));
  });
});
