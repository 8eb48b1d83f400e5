/**
 * The arm64 gateway executable, cross-built (Debian's aarch64-linux-gnu toolchain) and run
 * under qemu-user: it starts, loads its own SQLite addon, and forwards readings from a unit
 * to the real cloud ingestor, like the x64 one. Skipped, with the reason, on a machine
 * without `g++-aarch64-linux-gnu` and `qemu-user-static` (apt).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { freePort, removeDir, tempDir } from '@ironledger/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

const QEMU = '/usr/bin/qemu-aarch64-static';
const SYSROOT = '/usr/aarch64-linux-gnu';
const CROSS_CXX = '/usr/bin/aarch64-linux-gnu-g++';

function missing(): string | null {
  const need = [
    [CROSS_CXX, 'g++-aarch64-linux-gnu'],
    [QEMU, 'qemu-user-static'],
    [path.join(SYSROOT, 'lib', 'ld-linux-aarch64.so.1'), 'libc6-arm64-cross'],
  ].filter(([file]) => !fs.existsSync(file!));
  if (process.arch !== 'x64')
    return `the arm64 cross build runs on x64 build machines (this is ${process.arch})`;
  return need.length ? `needs apt packages: ${need.map(([, pkg]) => pkg).join(' ')}` : null;
}

const skipReason = missing();
if (skipReason) console.warn(`gateway-arm64: skipped: ${skipReason}`);

const GATEWAY_ID = 'gw-arm64-test';
const UNIT = 'CRN-9001';

describe.skipIf(skipReason !== null)(
  `gateway executable (linux-arm64 under qemu)${skipReason ? ` [skipped: ${skipReason}]` : ''}`,
  () => {
    let dir: string;
    let cmd: string[];
    let cloud: Cloud | undefined;

    beforeAll(async () => {
      const built = await ensureGatewayExecutable('linux-arm64');
      dir = tempDir('ironledger-gateway-arm64-');
      const exe = installGateway(dir, built);
      // binfmt is rarely registered in containers: run the emulator explicitly.
      cmd = [QEMU, '-L', SYSROOT, exe];
      cloud = await startCloud(dir, { gatewayId: GATEWAY_ID, unitIds: [UNIT] });
    }, 600_000);

    afterAll(async () => {
      await cloud?.stop();
      if (dir) removeDir(dir);
    });

    it('is an arm64 executable carrying Node 24 and an arm64 SQLite addon', async () => {
      const info = await runGateway(cmd, ['--sea-info'], {
        cwd: dir,
        env: gatewayEnv(dir),
        timeoutMs: 120_000,
      });
      expect(info.code, info.stderr).toBe(0);
      const parsed = JSON.parse(info.stdout) as { node: string; arch: string; sqlite: string };
      expect(parsed).toMatchObject({ arch: 'arm64' });
      expect(parsed.node).toMatch(/^24\./);
      expect(parsed.sqlite).toMatch(/^3\./);
    });

    it('forwards a unit’s readings to the cloud', async () => {
      const secret = randomBytes(12).toString('hex');
      const env = gatewayEnv(dir, { IRONLEDGER_EDGE_CLOUD_TOKEN: cloud!.gatewayToken });
      const hashed = await runGateway(cmd, ['hash-secret', secret], { cwd: dir, env, timeoutMs: 120_000 });
      expect(hashed.code, hashed.stderr).toBe(0);
      const mqttPort = await freePort();
      const configPath = path.join(dir, 'edge.json');
      const cfg = gatewayConfig({
        gatewayId: GATEWAY_ID,
        cloud: cloud!,
        mqttPort,
        bufferPath: path.join(dir, 'edge.db'),
        units: [{ unitId: UNIT, secretHash: hashed.stdout.trim() }],
      });
      fs.writeFileSync(configPath, JSON.stringify(cfg, null, 2));
      const gw = await startGateway(cmd, configPath, { cwd: dir, env });
      try {
        const startMs = Date.parse('2026-11-03T06:00:00.000Z');
        const readings = Array.from({ length: 6 }, (_, i) => telemetry(UNIT, i, startMs));
        await publishAsUnit(`mqtt://127.0.0.1:${mqttPort}`, { unitId: UNIT, secret }, readings);
        await waitForForwarded(cloud!, gw.httpUrl, readings.length, 120_000);
        expect(await cloud!.readings()).toBe(readings.length);
      } finally {
        await gw.proc.stop();
      }
    });
  },
);
