/**
 * The real `ironledger-cloud` process: CLI surface; durability under SIGKILL: every batch
 * the client saw acknowledged (200) is in the store after a kill -9 and restart; and a restart
 * re-seeding master data from config without undoing what was changed through the admin API.
 */
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { ProjectsResponseSchema, UnitsResponseSchema } from '@ironledger/contracts';
import { BIN, spawnNode, tempDir } from '@ironledger/testkit';
import Database from 'better-sqlite3';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import type { CloudConfigInput } from './config.js';
import { baseConfig, TOKENS as T, TOKENS } from './testing/harness.js';

function writeConfig(dir: string, extra: Partial<CloudConfigInput> = {}): string {
  const file = path.join(dir, 'cloud.yaml');
  fs.writeFileSync(file, YAML.stringify({ ...baseConfig(dir, extra), log: { level: 'info' } }));
  return file;
}

async function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  const p = spawnNode(BIN.cloud, args, { env });
  const code = await p.exited;
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

describe('ironledger-cloud (process)', () => {
  it('--help, --version, hash-token, check-config', async () => {
    expect((await run(['--help'])).stdout).toMatch(/ironledger-cloud \[serve\] --config/);
    expect((await run(['--version'])).stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    expect((await run(['hash-token', 'abc'])).stdout.trim()).toBe(
      'sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    const dir = tempDir();
    const file = writeConfig(dir);
    expect(await run(['check-config', '--config', file])).toMatchObject({ code: 0 });
    const bad = await run(['check-config', '--config', file], { IRONLEDGER_CLOUD_HTTP__PORT: 'x' });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/http\.port/);
    expect((await run(['frobnicate'])).code).toBe(2);
  });

  it('loses no acknowledged batch when SIGKILLed mid-stream and restarted on the same db', async () => {
    const dir = tempDir();
    const file = writeConfig(dir);
    const start = async () => {
      const p = spawnNode(BIN.cloud, ['--config', file], { name: 'cloud' });
      const ready = await p.waitForEvent('ready');
      return { p, url: ready.url as string };
    };
    const { p, url } = await start();
    const acked = new Map<string, number>();
    let n = 0;
    let killed = false;
    const sender = async (lane: number) => {
      while (!killed) {
        const id = `lane${lane}-${n++}`;
        const readings = Array.from({ length: 50 }, (_, i) => {
          const ts = new Date(
            Date.parse('2026-06-01T00:00:00Z') + (n * 100 + i) * 60_000 + lane,
          ).toISOString();
          return { v: 1, unitId: 'EXC-1', ts, engineHours: n + i / 100, receivedAt: ts };
        });
        try {
          const res = await request(`${url}/v1/batches`, {
            method: 'POST',
            headers: {
              authorization: `Bearer ${TOKENS.gw1}`,
              'content-encoding': 'gzip',
              'content-type': 'application/json',
            },
            body: gzipSync(JSON.stringify({ gatewayId: 'gw1', batchId: id, readings })),
          });
          const body = (await res.body.json()) as { accepted: number; duplicates: number };
          if (res.statusCode === 200) acked.set(id, body.accepted + body.duplicates);
        } catch {
          return; // connection cut by the kill: not acknowledged
        }
      }
    };
    const lanes = [0, 1, 2, 3].map(sender);
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (acked.size >= 40) {
          clearInterval(check);
          resolve();
        }
      }, 5);
    });
    await p.kill9();
    killed = true;
    await Promise.all(lanes);
    expect(acked.size).toBeGreaterThanOrEqual(40);

    const again = await start();
    // The restarted cloud answers a retry of an acknowledged batch with its original counts.
    const [someId, someCount] = [...acked.entries()][0]!;
    const retry = await request(`${again.url}/v1/batches`, {
      method: 'POST',
      headers: { authorization: `Bearer ${T.gw1}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        gatewayId: 'gw1',
        batchId: someId,
        readings: [
          {
            v: 1,
            unitId: 'EXC-1',
            ts: '2026-06-01T00:00:00Z',
            engineHours: 1,
            receivedAt: '2026-06-01T00:00:00Z',
          },
        ],
      }),
    });
    expect(retry.statusCode).toBe(200);
    const answer = (await retry.body.json()) as { accepted: number; duplicates: number };
    expect(answer.accepted + answer.duplicates).toBe(someCount);
    await again.p.stop();

    const db = new Database(path.join(dir, 'cloud.db'), { readonly: true });
    const count = db.prepare('SELECT COUNT(*) AS n FROM readings WHERE batch_id = ?');
    const known = db.prepare('SELECT 1 FROM batches WHERE batch_id = ?');
    for (const [id, readings] of acked) {
      expect(known.get(id), `batch ${id}`).toBeTruthy();
      expect((count.get(id) as { n: number }).n, `readings of ${id}`).toBe(readings);
    }
    db.close();
  });

  it('a restart seeds what config adds or still owns and keeps what the admin API changed', async () => {
    const dir = tempDir();
    const start = async () => {
      const p = spawnNode(BIN.cloud, ['--config', path.join(dir, 'cloud.yaml')], {
        name: 'cloud',
        env: { IRONLEDGER_ADMIN_TOKEN: TOKENS.admin },
      });
      const ready = await p.waitForEvent('ready');
      const api = async (method: 'GET' | 'POST', route: string, body?: unknown) => {
        const res = await request(`${ready.url as string}${route}`, {
          method,
          headers: { authorization: `Bearer ${TOKENS.admin}`, 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        return { status: res.statusCode, json: (await res.body.json()) as unknown };
      };
      return { p, api };
    };
    writeConfig(dir);
    const first = await start();
    const edited = { projectId: 'P-LDN', name: 'London', analyticAccountId: 34 };
    expect((await first.api('POST', '/v1/projects', edited)).status).toBe(200);
    expect(await first.p.stop()).toBe(0);

    // The config now also renames the API-edited project, adds a project and edits a unit it owns.
    writeConfig(dir, {
      projects: [
        { projectId: 'P-LDN', name: 'London (config)' },
        { projectId: 'P-NEW', name: 'New works' },
      ],
      units: [
        { unitId: 'EXC-1', equipmentClass: 'excavator', serialNo: 'SN-1' },
        { unitId: 'EXC-2', equipmentClass: 'excavator', serialNo: 'SN-2-FROM-CONFIG' },
      ],
    });
    const second = await start();
    const { projects } = ProjectsResponseSchema.parse((await second.api('GET', '/v1/projects')).json);
    expect(projects).toEqual([edited, { projectId: 'P-NEW', name: 'New works' }]);
    const { units } = UnitsResponseSchema.parse((await second.api('GET', '/v1/units')).json);
    expect(units.find((u) => u.unitId === 'EXC-2')).toMatchObject({
      serialNo: 'SN-2-FROM-CONFIG',
    });
    expect(second.p.logs().find((l) => l.event === 'master_data_config_ignored')).toMatchObject({
      records: ['project:P-LDN'],
    });
    expect(await second.p.stop()).toBe(0);

    // And again: the API's edit survives every restart, not just the first.
    const third = await start();
    const again = ProjectsResponseSchema.parse((await third.api('GET', '/v1/projects')).json);
    expect(again.projects[0]).toEqual(edited);
    await third.p.stop();
  });
});
