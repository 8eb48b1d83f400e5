/**
 * The consolidation worker thread computes what the event loop would, and a worker that dies
 * fails the request it held (the runner then releases the unit for the next run) instead of
 * leaving the run waiting forever.
 */
import fs from 'node:fs';
import path from 'node:path';
import { tempDir } from '@ironledger/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import type { MeterReading } from '../store/store.js';
import { computeUnitUsage, type UnitUsageRequest } from './unit-usage.js';
import { UsageWorker, workerFile } from './usage-worker-pool.js';

const workers: UsageWorker[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.close()));
});

const req: UnitUsageRequest = {
  unitId: 'EXC-1',
  sinceMs: 0,
  sites: new Map([
    ['LDN', { siteId: 'LDN', timeZone: 'Europe/London', defaultProjectId: 'P', geofences: [] }],
  ]),
  unitSiteId: 'LDN',
  projects: new Map(),
};
const t0 = Date.parse('2026-03-28T20:00:00Z'); // across the night London's day has 23 h
const readings: MeterReading[] = Array.from({ length: 300 }, (_, i) => ({
  ts: new Date(t0 + i * 10 * 60_000).toISOString(),
  tsMs: t0 + i * 10 * 60_000,
  engineHours: i === 150 ? 3 : 1000 + i / 6 - (i > 150 ? 997.5 : 0),
  idleHours: null,
  odometerKm: null,
  position: null,
  siteId: 'LDN',
}));

describe('consolidation worker', () => {
  it('gives exactly the figures and anomalies the event loop computes', async () => {
    const file = workerFile();
    expect(file, 'the compiled worker (npm run build)').not.toBeNull();
    const w = new UsageWorker(file!, null);
    workers.push(w);
    const expected = computeUnitUsage(req, readings, undefined);
    expect(expected.anomalies.map((a) => a.kind)).toContain('meter_reset');
    expect(await w.unitUsage(req, { readings })).toEqual(expected);
    // Twice: the same thread answers the next request.
    expect(await w.unitUsage(req, { readings: readings.slice(100) })).toEqual(
      computeUnitUsage(req, readings.slice(100), undefined),
    );
  });

  it('a worker that dies fails the request it held, and the next request starts a new one', async () => {
    const dir = tempDir('usage-worker-');
    const dying = path.join(dir, 'dying.mjs');
    // Takes the request, then the thread ends without answering (as an out-of-memory abort would).
    fs.writeFileSync(
      dying,
      "import { parentPort } from 'node:worker_threads'; parentPort.on('message', () => process.exit(7));",
    );
    const w = new UsageWorker(dying, null);
    workers.push(w);
    await expect(w.unitUsage(req, { readings })).rejects.toMatchObject({
      code: 'INTERNAL',
      message: expect.stringContaining('exit code 7'),
    });
    await expect(w.unitUsage(req, { readings })).rejects.toMatchObject({ code: 'INTERNAL' });
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
