/** The `ironledger-sim` binary as other parts use it: real process, real broker, real files. */
import fs from 'node:fs';
import path from 'node:path';
import { WorldSchema } from '@ironledger/contracts';
import { BIN, removeDir, runCommand, spawnNode, tempDir } from '@ironledger/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deterministicSecrets } from './credentials.js';
import { TestBroker } from './testing/broker.js';
import { defaultWorld } from './world.js';

let dir: string;
beforeAll(() => {
  dir = tempDir('sim-main-');
});
afterAll(() => removeDir(dir));

const sim = (args: string[]) => runCommand(BIN.sim, args);

function summaryOf(stdout: string): Record<string, unknown> {
  const lines = stdout.trim().split('\n');
  const last = JSON.parse(lines[lines.length - 1] as string) as Record<string, unknown>;
  expect(last.event).toBe('sim.summary');
  return last;
}

describe('ironledger-sim', () => {
  it('prints usage on --help and its version on --version', async () => {
    const h = await sim(['--help']);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/^Usage: ironledger-sim/);
    for (const flag of [
      '--broker',
      '--as-fast-as-possible',
      '--truth',
      '--faults',
      '--give-up-after',
      '--rate',
    ])
      expect(h.stdout).toContain(flag);
    const v = await sim(['--version']);
    expect(v.stdout).toMatch(/^ironledger-sim \d+\.\d+\.\d+/);
  });

  it('answers a bad flag with one line naming it, the usage, and exit 2', async () => {
    for (const args of [['--bogus'], ['--interval', 'soon'], ['--faults', 'gremlins']]) {
      const r = await sim(args);
      expect(r.code).toBe(2);
      const [first, second] = r.stderr.split('\n');
      expect(first).toMatch(/^ironledger-sim: .*(bogus|interval|gremlins)/);
      expect(second).toBe('');
      expect(r.stderr).toContain('Usage: ironledger-sim');
    }
  });

  it('prints the world and writes credentials, deterministically', async () => {
    const w = await sim(['--print-world', '--units', '7', '--seed', '3']);
    expect(w.code).toBe(0);
    const world = WorldSchema.parse(JSON.parse(w.stdout));
    expect(world.units.map((u) => u.unitId)).toEqual([
      'EXC-0001',
      'LDR-0002',
      'DOZ-0003',
      'CRN-0004',
      'TEL-0005',
      'GEN-0006',
      'EXC-0007',
    ]);
    expect(world).toEqual(defaultWorld('3', 7));
    const file = path.join(dir, 'creds.json');
    expect((await sim(['--write-credentials', file, '--units', '7', '--seed', '3'])).code).toBe(0);
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual(deterministicSecrets(world, '3'));
  });

  it('runs a day against a broker, with credentials, truth and acked log', async () => {
    const world = defaultWorld('5', 3);
    const secrets = { 'EXC-0001': 'a1', 'LDR-0002': 'b2', 'DOZ-0003': 'c3' };
    const creds = path.join(dir, 'run-creds.json');
    fs.writeFileSync(creds, JSON.stringify(secrets));
    const broker = new TestBroker({ secrets, enforceOwnTopic: true });
    await broker.start();
    try {
      const truth1 = path.join(dir, 'truth1.json');
      const acked = path.join(dir, 'acked.jsonl');
      const common = [
        '--broker',
        broker.url,
        '--units',
        '3',
        '--seed',
        '5',
        '--credentials',
        creds,
        '--faults',
        'duplicate,reset',
      ];
      const r = await sim([...common, '--as-fast-as-possible', '--truth', truth1, '--acked', acked]);
      expect(r.code, r.stderr).toBe(0);
      const s = summaryOf(r.stdout);
      const truth = JSON.parse(fs.readFileSync(truth1, 'utf8')) as {
        version: number;
        world: unknown;
        units: unknown[];
        usage: Array<{ engineHours: number }>;
        meterResets: unknown[];
        readings: { published: number; distinct: number };
      };
      expect(truth.version).toBe(1);
      expect(truth.world).toEqual(world);
      expect(truth.meterResets.length).toBeGreaterThan(0);
      expect(s.published).toBe(truth.readings.published);
      expect(s.acknowledged).toBe(truth.readings.published);
      expect(s.failed).toBe(0);
      const ids = new Set(
        fs
          .readFileSync(acked, 'utf8')
          .trim()
          .split('\n')
          .map((l) => l),
      );
      expect(ids.size).toBe(truth.readings.distinct);
      expect(typeof s.readingsPerSecond).toBe('number');
      expect(typeof s.durationMs).toBe('number');

      // Same seed and options, another pace: byte-identical truth.
      const truth2 = path.join(dir, 'truth2.json');
      const r2 = await sim([...common, '--rate', '5000', '--truth', truth2]);
      expect(r2.code, r2.stderr).toBe(0);
      expect(r2.stdout).toMatch(/readings\/s\s+\d/);
      expect(fs.readFileSync(truth2, 'utf8')).toBe(fs.readFileSync(truth1, 'utf8'));
    } finally {
      await broker.stop();
    }
  });

  it('paces by sim time at --speed', async () => {
    const broker = new TestBroker();
    await broker.start();
    try {
      // 20 sim minutes at 1200× → one real second; readings at 0, 5, 10, 15, 20 min.
      const r = await sim([
        '--broker',
        broker.url,
        '--units',
        '1',
        '--days',
        String(20 / 1440),
        '--speed',
        '1200',
      ]);
      expect(r.code, r.stderr).toBe(0);
      const s = summaryOf(r.stdout);
      expect(s.acknowledged).toBe(5);
      expect(s.durationMs as number).toBeGreaterThanOrEqual(950);
    } finally {
      await broker.stop();
    }
  });

  it('loads a world file and stops cleanly on SIGTERM with a summary', async () => {
    const world = defaultWorld('w', 2);
    world.sites[0]!.name = 'From a file';
    const file = path.join(dir, 'world.json');
    fs.writeFileSync(file, JSON.stringify(world));
    const printed = await sim(['--print-world', '--world', file]);
    expect(JSON.parse(printed.stdout)).toEqual(world);

    const broker = new TestBroker();
    await broker.start();
    try {
      const p = spawnNode(BIN.sim, [
        '--broker',
        broker.url,
        '--world',
        file,
        '--days',
        '7',
        '--speed',
        '600',
      ]);
      await p.waitForOutput(/"event":"sim.connected"/);
      p.child.kill('SIGTERM');
      expect(await p.exited).toBe(143);
      const s = summaryOf(p.stdout());
      expect(s.aborted).toBe(true);
      expect(s.unsent as number).toBeGreaterThan(0);
    } finally {
      await broker.stop();
    }
  });

  it('exits 3 when it gives up on an absent broker', async () => {
    const r = await sim([
      '--broker',
      'mqtt://127.0.0.1:1',
      '--units',
      '1',
      '--as-fast-as-possible',
      '--give-up-after',
      '500ms',
    ]);
    expect(r.code).toBe(3);
    expect(summaryOf(r.stdout)).toMatchObject({ gaveUp: true, acknowledged: 0 });
  });
});
