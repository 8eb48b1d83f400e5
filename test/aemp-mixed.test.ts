/**
 * Contract 3 end to end on real processes: a mixed fleet of eight machines, four carrying our
 * unit (MQTT → edge → cloud) and four reachable only through their maker's AEMP 2.0 feed
 * (the simulator serving them in the index-page dialect, Basic auth, a quota of 20 requests a
 * second and one request per URL per 2 s, the day running in 40 s). The cloud polls the
 * feed while the day runs and is killed with SIGKILL mid-run; it resumes from its persisted
 * cursor.
 *
 * Asserts: every unit's usage equals the simulator's truth (0.01 h per unit-day-project),
 * every unit gets allocations, the cloud holds exactly the distinct readings both halves sent
 * (nothing stored twice, no conflict), polling again adds nothing, and `ironledger status`
 * shows the feed's line.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  BIN,
  freePort,
  type Pipeline,
  removeDir,
  runCommand,
  type SpawnedProcess,
  spawnNode,
  startPipeline,
  tempDir,
  waitFor,
} from '@ironledger/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

interface TruthUsage {
  unitId: string;
  day: string;
  projectId: string;
  engineHours: number;
  idleHours: number;
  workingHours: number;
}
interface Truth {
  usage: TruthUsage[];
  readings: { published: number; distinct: number };
}
interface FeedStatus {
  feedId: string;
  lastPollOutcome: string | null;
  readingsAccepted: number;
  duplicates: number;
  requests: number;
  rateLimited: number;
  errors: number;
  unmatched: string[];
  cursorTs: string | null;
}

const key = (r: { unitId: string; day: string; projectId: string }) => `${r.unitId}|${r.day}|${r.projectId}`;
const SEED = '11';
const WINDOW = ['--seed', SEED, '--start', '2026-11-02', '--days', '1', '--interval', '5m'];

describe('a mixed fleet: half MQTT, half behind a maker’s AEMP feed', () => {
  let dir: string;
  let pl: Pipeline;
  let feed: SpawnedProcess;
  let feedPort: number;
  let world: { sites: unknown[]; projects: unknown[]; units: Array<{ unitId: string }> };
  const paths = { mqttTruth: '', aempTruth: '', acked: '' };

  const feeds = async (): Promise<FeedStatus[]> => {
    const r = await fetch(`${pl.cloudUrl}/v1/aemp/feeds`, {
      headers: { authorization: `Bearer ${pl.adminToken}` },
    });
    if (!r.ok) return [];
    return ((await r.json()) as { feeds: FeedStatus[] }).feeds;
  };
  const cloudReadings = async (): Promise<number> => {
    const r = await fetch(`${pl.cloudUrl}/v1/status`, {
      headers: { authorization: `Bearer ${pl.adminToken}` },
    });
    return ((await r.json()) as { pipeline: { readings: number } }).pipeline.readings;
  };

  beforeAll(async () => {
    dir = tempDir('ironledger-aemp-e2e-');
    paths.mqttTruth = path.join(dir, 'truth-mqtt.json');
    paths.aempTruth = path.join(dir, 'truth-aemp.json');
    paths.acked = path.join(dir, 'acked.jsonl');
    const w = await runCommand(BIN.sim, ['--print-world', '--units', '8', '--seed', SEED]);
    expect(w.code, w.stderr).toBe(0);
    world = JSON.parse(w.stdout);
    // Units 1–4 carry our unit; 5–8 (two at the second site, another time zone) only AEMP.
    fs.writeFileSync(
      path.join(dir, 'world-mqtt.json'),
      JSON.stringify({ ...world, units: world.units.slice(0, 4) }),
    );
    fs.writeFileSync(
      path.join(dir, 'world-aemp.json'),
      JSON.stringify({ ...world, units: world.units.slice(4) }),
    );
    fs.writeFileSync(path.join(dir, 'feed.secret'), 'feed-password\n', { mode: 0o600 });

    feedPort = await freePort();

    pl = await startPipeline({
      dir,
      units: 8,
      seed: Number(SEED),
      cloudConfig: {
        aemp: {
          feeds: [
            {
              feedId: 'feed-oem',
              url: `http://127.0.0.1:${feedPort}/aemp/2.0`,
              dialect: 'index-page',
              auth: {
                kind: 'basic',
                username: 'ironledger',
                password: { file: path.join(dir, 'feed.secret') },
              },
              pollIntervalS: 1,
              quota: { requests: 15, perS: 1 },
              backfillHours: 48,
            },
          ],
        },
      },
    });
    // The feed's day starts now, with the cloud already polling (its first polls find no feed).
    feed = spawnNode(
      BIN.sim,
      [
        '--serve-aemp',
        '--dialect',
        'index-page',
        '--world',
        path.join(dir, 'world-aemp.json'),
        ...WINDOW,
        '--speed',
        String(86_400 / 40), // the day in 40 s
        '--aemp-port',
        String(feedPort),
        '--aemp-quota',
        '20/1s',
        '--aemp-url-interval',
        '2s',
        '--aemp-page-size',
        '2',
        '--aemp-series-page-size',
        '100',
        '--aemp-basic',
        'ironledger:feed-password',
        '--truth',
        paths.aempTruth,
      ],
      { name: 'aemp-feed' },
    );
    await feed.waitForEvent('aemp.ready', {}, 30_000);
  });

  afterAll(async () => {
    await pl?.stop();
    await feed?.stop();
    if (dir) removeDir(dir);
  });

  it('ends with usage equal to the truth for every unit, a SIGKILL of the poller mid-run adding nothing twice', async () => {
    const sim = pl.runSim([
      '--world',
      path.join(dir, 'world-mqtt.json'),
      ...WINDOW,
      '--as-fast-as-possible',
      '--truth',
      paths.mqttTruth,
      '--acked',
      paths.acked,
    ]);

    // Mid-run: the feed has been read in part (its day is still running): kill the cloud.
    const midRun = await waitFor(
      async () => {
        const f = (await feeds())[0];
        return f?.readingsAccepted ? f : null;
      },
      { timeoutMs: 60_000, what: 'first feed readings' },
    );
    // The feed's day is still running: later readings are yet to appear on it.
    expect(midRun.cursorTs! < '2026-11-02T20:00:00.000Z', midRun.cursorTs!).toBe(true);
    const killed = await pl.cloud.kill9();
    expect(killed).toBe('SIGKILL');
    await pl.restartCloud();

    const simDone = await sim;
    expect(simDone.code, simDone.stderr).toBe(0);
    const mqttTruth = JSON.parse(fs.readFileSync(paths.mqttTruth, 'utf8')) as Truth;
    const aempTruth = JSON.parse(fs.readFileSync(paths.aempTruth, 'utf8')) as Truth;
    expect(mqttTruth.readings.distinct).toBe(4 * 289);
    expect(aempTruth.readings.distinct).toBe(4 * 289);
    const total = mqttTruth.readings.distinct + aempTruth.readings.distinct;
    try {
      await pl.waitForDrain(total, 180_000);
    } catch (e) {
      // What the feed and the cloud say, for whoever reads the failure.
      const aempLogs = pl.cloud
        .logs()
        .filter((l) => String(l.event).startsWith('aemp.') || (l.level as number) >= 40);
      throw new Error(
        `${(e as Error).message}\nfeeds: ${JSON.stringify(await feeds())}\nreadings: ${await cloudReadings()}\nlogs: ${JSON.stringify(aempLogs.slice(-15))}`,
      );
    }
    // Exactly the distinct readings: nothing the restart made the poller read again was stored twice.
    expect(await cloudReadings()).toBe(total);
    const held = await pl.cli(['conflicts', 'list', '--json']);
    expect(held.code, held.stderr).toBe(0);
    expect(JSON.parse(held.stdout).conflicts).toEqual([]);

    // Polling on (the feed's whole day is on it now) stores nothing new.
    const before = (await feeds())[0]!;
    await waitFor(async () => ((await feeds())[0]?.requests ?? 0) > before.requests + 10, {
      timeoutMs: 60_000,
      what: 'more polls',
    });
    expect(await cloudReadings()).toBe(total);
    const after = (await feeds())[0]!;
    expect(after).toMatchObject({ feedId: 'feed-oem', lastPollOutcome: 'ok', errors: 0, unmatched: [] });
    expect(after.readingsAccepted).toBe(before.readingsAccepted);
    // The maker's quota was met (one request per URL per 2 s, polled every second) and waited out.
    expect(after.rateLimited).toBeGreaterThan(0);

    const cons = await pl.cli(['consolidate']);
    expect(cons.code, cons.stderr).toBe(0);
    const usage = await pl.cli(['usage', '--json']);
    expect(usage.code, usage.stderr).toBe(0);
    const rows = (JSON.parse(usage.stdout) as { rows: TruthUsage[] }).rows;
    const truth = [...mqttTruth.usage, ...aempTruth.usage];
    const expected = new Map(truth.map((t) => [key(t), t]));
    const actual = new Map(rows.map((r) => [key(r), r]));
    for (const u of world.units)
      expect(
        truth.some((t) => t.unitId === u.unitId && t.engineHours > 0),
        u.unitId,
      ).toBe(true);
    for (const k of new Set([...expected.keys(), ...actual.keys()])) {
      const t = expected.get(k);
      const a = actual.get(k);
      for (const f of ['engineHours', 'idleHours', 'workingHours'] as const)
        expect(Math.abs((a?.[f] ?? 0) - (t?.[f] ?? 0)), `${f} ${k}`).toBeLessThanOrEqual(0.01);
    }

    // Allocations for every unit, MQTT and AEMP alike.
    const list = await pl.cli(['allocations', 'list', '--json']);
    expect(list.code, list.stderr).toBe(0);
    const allocations = (
      JSON.parse(list.stdout) as { allocations: Array<{ unitId: string; amountMinor: number }> }
    ).allocations;
    for (const u of world.units)
      expect(
        allocations.filter((a) => a.unitId === u.unitId && a.amountMinor > 0).length,
        u.unitId,
      ).toBeGreaterThan(0);

    // The feed has its own line in `ironledger status`.
    const status = await pl.cli(['status']);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(
      /AEMP FEEDS \(1\)\n {2}feed-oem {2}index-page {2}polled .* ago ok {2}next .* {2}quota \d+ {2}errors 0 {2}up to 2026-11-0[23] .*unmatched 0/,
    );
  }, 300_000);
});
