/**
 * The README's "Starting each part on its own" block, run line by line in this checkout as a
 * new user would paste it (CI's checkout is a fresh clone: `npm ci` linked the bins, `npm test`
 * built them). Every `npx` line goes through the bins npm linked; nothing calls dist/ directly.
 *
 * What the test changes, only through the environment overrides the README documents: ports
 * (0, then the real ones replace :8080 and :1883 in later lines) and the files the examples
 * would put in ./var (a temporary directory instead). Lines ending in `&` are the long-running
 * parts: started in their own process group, as an interactive shell's job control does, and
 * stopped by the README's `kill %1 %2` as that shell would: SIGTERM to each job's group.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  REPO_ROOT,
  removeDir,
  type SpawnedProcess,
  spawnCommand,
  tempDir,
  waitFor,
} from '@ironledger/testkit';
import { request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';

const START = '<!-- readme-commands:start -->';
const END = '<!-- readme-commands:end -->';

/** The block's command lines, without fences, blank lines and trailing comments. */
function readmeLines(): string[] {
  const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const from = readme.indexOf(START);
  const to = readme.indexOf(END);
  if (from < 0 || to < from) throw new Error(`README.md has no ${START} … ${END} block`);
  return readme
    .slice(from + START.length, to)
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('```') && !l.trimStart().startsWith('#'))
    .map((l) => l.replace(/\s+#\s[^"']*$/, '').trimEnd());
}

/** Runs one line in bash with `env`, returns its output and the environment it left. */
async function runLine(
  line: string,
  env: NodeJS.ProcessEnv,
  envFile: string,
): Promise<{ code: number | string; stdout: string; stderr: string; env: NodeJS.ProcessEnv }> {
  const p = spawnCommand('bash', ['-c', `set -e\n${line}\nenv -0 > '${envFile}'`], {
    cwd: REPO_ROOT,
    env,
    name: line.slice(0, 40),
  });
  const code = await p.exited;
  const next: NodeJS.ProcessEnv = {};
  if (code === 0)
    for (const kv of fs.readFileSync(envFile, 'utf8').split('\0').filter(Boolean)) {
      const i = kv.indexOf('=');
      next[kv.slice(0, i)] = kv.slice(i + 1);
    }
  return { code, stdout: p.stdout(), stderr: p.stderr(), env: next };
}

describe('README: the parts started one by one with npx', () => {
  const dir = tempDir('ironledger-readme-');
  const jobs: SpawnedProcess[] = [];
  /**
   * SIGTERM to the job's process group; resolves once every process of it has closed stdout
   * (npx itself dies of the signal, the part behind it shuts down gracefully and then exits).
   */
  const stopJob = async (job: SpawnedProcess) => {
    const closed = new Promise((resolve) => job.child.stdout!.once('close', resolve));
    process.kill(-job.child.pid!, 'SIGTERM');
    await closed;
  };

  afterAll(async () => {
    for (const j of jobs)
      if (j.child.exitCode === null && j.child.signalCode === null) process.kill(-j.child.pid!, 'SIGKILL');
    removeDir(dir);
  });

  it('every line works as written: cloud, edge, simulator, then the CLI sees the readings', async () => {
    const lines = readmeLines();
    expect(lines[0]).toBe('npm ci && npm run build'); // done by CI on its fresh clone, and by `npm test`
    const inherited = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith('IRONLEDGER_') && !k.startsWith('ODOO_')),
    );
    let env: NodeJS.ProcessEnv = {
      ...inherited,
      IRONLEDGER_CLOUD_HTTP__PORT: '0',
      IRONLEDGER_CLOUD_STORE__PATH: path.join(dir, 'cloud.db'),
      IRONLEDGER_CLOUD_POSTING__JOURNAL_PATH: path.join(dir, 'odoo-journal.jsonl'),
      IRONLEDGER_EDGE_MQTT__PORT: '0',
      IRONLEDGER_EDGE_HTTP__PORT: '0',
      IRONLEDGER_EDGE_BUFFER__PATH: path.join(dir, 'edge.db'),
    };
    const ports: Array<[string, string]> = [];
    const withPorts = (l: string) => ports.reduce((s, [from, to]) => s.split(from).join(to), l);
    const outputs: Record<string, string> = {};
    let acknowledged = 0;
    let cloudUrl = '';

    for (const raw of lines.slice(1)) {
      const line = withPorts(raw);
      if (line === 'kill %1 %2') {
        for (const job of jobs) await stopJob(job);
        continue;
      }
      if (line.endsWith('&')) {
        const job = spawnCommand('bash', ['-c', `exec ${line.slice(0, -1).trim()}`], {
          cwd: REPO_ROOT,
          env,
          name: line.includes('ironledger-cloud') ? 'cloud' : 'edge',
          detached: true,
        });
        jobs.push(job);
        const ready = await job.waitForEvent('ready', {}, 60_000);
        if (job.name === 'cloud') {
          cloudUrl = String(ready.url);
          ports.push(['127.0.0.1:8080', new URL(cloudUrl).host]);
          env = { ...env, IRONLEDGER_EDGE_CLOUD__URL: cloudUrl };
        } else {
          ports.push(['127.0.0.1:1883', `127.0.0.1:${ready.mqttPort}`]);
        }
        continue;
      }
      if (line.startsWith('npx ironledger status')) {
        // The edge forwards in batches (maxBatchAgeMs): wait until the cloud holds what the units saw acknowledged.
        await waitFor(
          async () => {
            const r = await request(`${cloudUrl}/v1/status`, {
              headers: { authorization: `Bearer ${env.IRONLEDGER_TOKEN}` },
            });
            const body = (await r.body.json()) as { pipeline: { readings: number } };
            return body.pipeline.readings === acknowledged;
          },
          { timeoutMs: 60_000, what: `the cloud to store ${acknowledged} readings` },
        );
      }
      const r = await runLine(line, env, path.join(dir, 'env'));
      expect(r.code, `${line}\n${r.stderr.slice(-2000)}`).toBe(0);
      env = r.env;
      outputs[raw] = r.stdout;
      if (line.startsWith('npx ironledger-sim')) {
        const summary = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {
          acknowledged: number;
          failed: number;
        };
        expect(summary.failed).toBe(0);
        acknowledged = summary.acknowledged;
      }
    }

    expect(acknowledged).toBeGreaterThan(200); // a day of 5-minute readings from EXC-0042
    const status = outputs['npx ironledger status']!;
    expect(status).toContain('gw-riverside');
    expect(status).toMatch(new RegExp(`readings stored\\s+${acknowledged}\\b`));
    expect(outputs['npx ironledger usage']).toContain('EXC-0042');
    expect(jobs.map((j) => j.name)).toEqual(['cloud', 'edge']);
    // Both shut down gracefully on the README's kill, not by being cut off.
    expect(jobs[0]!.logs().some((l) => l.event === 'stopped')).toBe(true);
    expect(jobs[1]!.logs().some((l) => l.event === 'shutdown')).toBe(true);
  });
});
