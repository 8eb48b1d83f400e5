/**
 * The gateway executable as a site gateway runs it (issue 8): one file copied into an empty
 * directory, no Node.js on PATH, no node_modules anywhere above it, no variable inherited
 * from this test. It takes a config, accepts readings from a unit over MQTT and forwards
 * them to the real cloud ingestor; its command line is the agent's own.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { freePort, REPO_ROOT, removeDir, tempDir } from '@ironledger/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import {
  type Cloud,
  ensureGatewayExecutable,
  gatewayConfig,
  gatewayEnv,
  installGateway,
  publishAsUnit,
  runGateway,
  startCloud,
  startGateway,
  telemetry,
  waitForForwarded,
} from './gateway-harness.js';

const GATEWAY_ID = 'gw-exe-test';
const UNITS = ['EXC-7001', 'LDR-7002'];
const PER_UNIT = 12;

describe('gateway executable (linux-x64): one file, no Node.js', () => {
  let dir: string;
  let exe: string;
  let env: NodeJS.ProcessEnv;
  let cloud: Cloud | undefined;
  let configPath: string;
  let mqttUrl: string;
  const secrets = Object.fromEntries(UNITS.map((u) => [u, randomBytes(12).toString('hex')]));
  const stopAfter: Array<() => Promise<unknown>> = [];

  beforeAll(async () => {
    const built = await ensureGatewayExecutable('linux-x64');
    dir = tempDir('ironledger-gateway-exe-');
    exe = installGateway(dir, built);
    cloud = await startCloud(dir, { gatewayId: GATEWAY_ID, unitIds: UNITS });
    env = gatewayEnv(dir, { IRONLEDGER_EDGE_CLOUD_TOKEN: cloud.gatewayToken });
    const mqttPort = await freePort();
    mqttUrl = `mqtt://127.0.0.1:${mqttPort}`;
    const units = [];
    for (const unitId of UNITS) {
      const r = await runGateway([exe], ['hash-secret', secrets[unitId]!], { cwd: dir, env });
      expect(r.code, r.stderr).toBe(0);
      units.push({ unitId, secretHash: r.stdout.trim() });
    }
    configPath = path.join(dir, 'edge.yaml');
    // YAML on purpose: the file format operators write.
    const cfg = gatewayConfig({
      gatewayId: GATEWAY_ID,
      cloud,
      mqttPort,
      bufferPath: path.join(dir, 'var', 'edge.db'),
      units,
    });
    fs.mkdirSync(path.join(dir, 'var'));
    fs.writeFileSync(configPath, YAML.stringify(cfg));
  }, 600_000);

  afterAll(async () => {
    for (const stop of stopAfter.reverse()) await stop();
    await cloud?.stop();
    if (dir) removeDir(dir);
  });

  it('runs where there is no node and no node_modules', () => {
    const pathDir = env.PATH!;
    expect(fs.readdirSync(pathDir)).toEqual([]);
    for (let d = path.dirname(exe); d !== path.dirname(d); d = path.dirname(d)) {
      expect(fs.existsSync(path.join(d, 'node_modules')), `${d}/node_modules`).toBe(false);
    }
    expect(fs.readdirSync(path.dirname(exe))).toEqual(['ironledger-edge']);
  });

  it('answers --version, --help and --sea-info', async () => {
    const edgeVersion = (
      JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'edge', 'package.json'), 'utf8')) as { version: string }
    ).version;
    const version = await runGateway([exe], ['--version'], { cwd: dir, env });
    expect(version.code, version.stderr).toBe(0);
    expect(version.stdout).toContain(edgeVersion);

    const help = await runGateway([exe], ['--help'], { cwd: dir, env });
    expect(help.code, help.stderr).toBe(0);
    for (const cmd of ['run', 'check-config', 'status', 'quarantine', 'replay', 'vacuum'])
      expect(help.stdout).toContain(cmd);

    const info = await runGateway([exe], ['--sea-info'], { cwd: dir, env });
    expect(info.code, info.stderr).toBe(0);
    const parsed = JSON.parse(info.stdout) as { node: string; arch: string; sqlite: string };
    expect(parsed.node).toMatch(/^24\./);
    expect(parsed.arch).toBe('x64');
    expect(parsed.sqlite).toMatch(/^3\./);
  });

  it('validates config: the deploy example passes, a bad key is named, env overrides apply', async () => {
    const example = path.join(REPO_ROOT, 'deploy', 'edge.example.yaml');
    // As the systemd unit passes it: the token in a file named by *_FILE.
    const tokenFile = path.join(dir, 'cloud-token');
    fs.writeFileSync(tokenFile, 'example-token\n', { mode: 0o600 });
    const ok = await runGateway([exe], ['check-config', '--config', example], {
      cwd: dir,
      env: { ...env, IRONLEDGER_EDGE_CLOUD_TOKEN: undefined, IRONLEDGER_EDGE_CLOUD_TOKEN_FILE: tokenFile },
    });
    expect(ok.code, ok.stderr + ok.stdout).toBe(0);

    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(
      bad,
      JSON.stringify({ gatewayId: GATEWAY_ID, cloud: { url: 'http://127.0.0.1:1' }, mqtt: { port: 'x' } }),
    );
    const rejected = await runGateway([exe], ['check-config', '--config', bad], { cwd: dir, env });
    expect(rejected.code).not.toBe(0);
    expect(rejected.stderr + rejected.stdout).toContain('mqtt.port');

    const overridden = await runGateway([exe], ['check-config', '--config', bad], {
      cwd: dir,
      env: { ...env, IRONLEDGER_EDGE_MQTT__PORT: '1884' },
    });
    expect(overridden.code, overridden.stderr + overridden.stdout).toBe(0);
  });

  it('ships a deploy config with every key of the reference example, and valid systemd units', async () => {
    const leaves = (o: unknown, prefix = ''): string[] =>
      o && typeof o === 'object' && !Array.isArray(o)
        ? Object.entries(o).flatMap(([k, v]) => leaves(v, prefix ? `${prefix}.${k}` : k))
        : [prefix];
    const reference = leaves(
      YAML.parse(fs.readFileSync(path.join(REPO_ROOT, 'edge', 'config.example.yaml'), 'utf8')),
    );
    const deployed = leaves(
      YAML.parse(fs.readFileSync(path.join(REPO_ROOT, 'deploy', 'edge.example.yaml'), 'utf8')),
    );
    // The token is the one key a gateway must not keep in the file (systemd credential).
    expect(deployed.sort()).toEqual(reference.filter((k) => k !== 'cloud.token').sort());

    const analyze = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((p) => fs.existsSync(p));
    if (!analyze) return; // not a systemd machine: the units are checked where it is
    const units = path.join(dir, 'units');
    fs.mkdirSync(units);
    for (const f of fs
      .readdirSync(path.join(REPO_ROOT, 'deploy'))
      .filter((f) => /\.(service|timer)$/.test(f))) {
      const text = fs.readFileSync(path.join(REPO_ROOT, 'deploy', f), 'utf8');
      // verify checks that ExecStart's program exists: point it at this copy.
      fs.writeFileSync(path.join(units, f), text.replaceAll('/usr/local/bin/ironledger-edge', exe));
    }
    const files = fs.readdirSync(units).map((f) => path.join(units, f));
    expect(files.length).toBe(3);
    const verify = await runGateway([analyze], ['verify', ...files], { cwd: dir, env: { ...process.env } });
    expect(verify.code, verify.stderr).toBe(0);
    expect(verify.stderr.trim()).toBe('');
  });

  it('forwards readings published over MQTT to the cloud ingestor', async () => {
    const gw = await startGateway([exe], configPath, { cwd: dir, env });
    stopAfter.push(() => gw.proc.stop());
    const startMs = Date.parse('2026-11-02T06:00:00.000Z');
    for (const unitId of UNITS) {
      const readings = Array.from({ length: PER_UNIT }, (_, i) => telemetry(unitId, i, startMs));
      await publishAsUnit(mqttUrl, { unitId, secret: secrets[unitId]! }, readings);
    }
    await waitForForwarded(cloud!, gw.httpUrl, UNITS.length * PER_UNIT);
    expect(await cloud!.readings()).toBe(UNITS.length * PER_UNIT);

    // The addon was unpacked into the private cache, not beside the executable.
    expect(fs.readdirSync(path.dirname(exe))).toEqual(['ironledger-edge']);
    // The same readings again are duplicates: nothing new reaches the cloud.
    await publishAsUnit(mqttUrl, { unitId: UNITS[0]!, secret: secrets[UNITS[0]!]! }, [
      telemetry(UNITS[0]!, 0, startMs),
    ]);
    await waitForForwarded(cloud!, gw.httpUrl, UNITS.length * PER_UNIT);
    expect(await cloud!.readings()).toBe(UNITS.length * PER_UNIT);

    // A unit with a wrong secret is refused, and nothing it sent is stored.
    await expect(
      publishAsUnit(mqttUrl, { unitId: UNITS[1]!, secret: 'wrong' }, [telemetry(UNITS[1]!, 99, startMs)]),
    ).rejects.toThrow();

    const health = await fetch(`${gw.httpUrl}/healthz`);
    expect(health.status).toBe(200);
    // What the systemd health-check timer runs.
    const status = await runGateway([exe], ['status', '--url', gw.httpUrl], { cwd: dir, env });
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/queued readings\s+0/);
    // The executable carries the forwarder's thread too (its bundle is an asset).
    expect(status.stdout).toMatch(/forwarder\s+\w+ \(worker thread(, not running: nothing to send)?\)/);

    // SIGTERM, as systemd stops it: a clean exit.
    expect(await gw.proc.stop()).toBe(0);
    const cloudSide = await cloud!.gateway();
    expect(cloudSide?.version).toBeTruthy();
  });

  it('runs the operator commands on the stopped agent’s buffer: quarantine list, replay, vacuum', async () => {
    for (const args of [['quarantine', 'list'], ['replay'], ['vacuum']]) {
      const r = await runGateway([exe], [...args, '--config', configPath], { cwd: dir, env });
      expect(r.code, `${args.join(' ')}: ${r.stderr}${r.stdout}`).toBe(0);
    }
  });
});
