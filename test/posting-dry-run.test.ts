/**
 * A dry run is a preview (issue #16, item 2), and `post --json` always answers with JSON
 * (issue #12, item 7), on the real cloud and CLI binaries:
 * - with no Odoo configured, `ironledger post` journals the calls and every allocation stays
 *   approved; `post --dry-run` says and does the same; the same store, restarted with the Odoo
 *   double configured, then sends them with `ironledger post`;
 * - `post --json` prints one JSON document on stdout when Odoo refuses the API key and when
 *   Odoo is down, and nothing is posted or dead-lettered.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  AllocationsResponseSchema,
  DeadLettersResponseSchema,
  PostResponseSchema,
} from '@ironledger/contracts';
import { BIN, type OdooDouble, type SpawnedProcess, spawnNode, startOdooDouble } from '@ironledger/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type CloudHarness,
  cloudConfig,
  lastMonth,
  type OdooTarget,
  startCloud,
  TOKENS,
  workingDay,
  YARD,
} from '../packages/cli/test-support/cloud-harness.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const json = (s: string) => JSON.parse(s) as unknown;
const day = lastMonth().days[0] as string;

/** One working day of the excavator and the loader, consolidated and approved. */
async function approvedAllocations(cloud: CloudHarness): Promise<string[]> {
  for (const unitId of ['EXC-0042', 'LDR-0007']) {
    const { readings } = workingDay(unitId, day, { engineHours: 1000, idleHours: 200 }, YARD);
    await cloud.postBatch(`b-${unitId}`, readings);
  }
  expect((await cloud.cli(['consolidate'], { as: 'approver' })).code).toBe(0);
  expect((await cloud.cli(['allocations', 'approve', '--all', '--yes'], { as: 'approver' })).code).toBe(0);
  return approved(cloud);
}

async function approved(cloud: { cli: CloudHarness['cli'] }): Promise<string[]> {
  const r = await cloud.cli(['allocations', 'list', '--status', 'approved', '--json']);
  return AllocationsResponseSchema.parse(json(r.stdout))
    .allocations.map((a) => a.id)
    .sort();
}

/** Starts the cloud binary on an existing directory (store and journal kept) with `odoo`. */
async function cloudOn(
  dir: string,
  odoo?: OdooTarget,
): Promise<{ cli: CloudHarness['cli']; proc: SpawnedProcess }> {
  const cfg = cloudConfig(dir, odoo);
  const file = path.join(dir, 'cloud-again.json');
  fs.writeFileSync(file, JSON.stringify(cfg, null, 2));
  const proc = spawnNode(BIN.cloud, ['--config', file], {
    name: 'cloud',
    env: { IRONLEDGER_ADMIN_TOKEN: '' },
  });
  const ready = await proc.waitForEvent('ready', {}, 30_000);
  const env = {
    HOME: dir,
    XDG_CONFIG_HOME: path.join(dir, 'xdg'),
    IRONLEDGER_URL: `http://127.0.0.1:${ready.httpPort as number}`,
    NO_COLOR: '',
    FORCE_COLOR: '',
  };
  cleanups.push(async () => {
    await proc.stop();
  });
  return {
    proc,
    async cli(args, o = {}) {
      const p = spawnNode(BIN.cli, args, {
        name: 'cli',
        env: { ...env, IRONLEDGER_TOKEN: TOKENS[o.as ?? 'admin'], ...o.env },
      });
      const code = await p.exited;
      return { code, stdout: p.stdout(), stderr: p.stderr() };
    },
  };
}

async function odooWithProjects(): Promise<OdooDouble> {
  const odoo = await startOdooDouble();
  odoo.world.create('project.project', { name: 'Riverside Tower' });
  odoo.world.create('project.project', { name: 'Riverside basement' });
  cleanups.push(() => odoo.stop());
  return odoo;
}

describe('a dry run never consumes allocations', () => {
  it('journal target and --dry-run leave them approved; with Odoo configured, post sends them', async () => {
    const cloud = await startCloud();
    cleanups.push(() => cloud.stop());
    const ids = await approvedAllocations(cloud);
    expect(ids.length).toBe(2);

    const preview = await cloud.cli(['post', '--dry-run', '--json'], { as: 'approver' });
    expect(preview.code).toBe(0);
    const p = PostResponseSchema.parse(json(preview.stdout));
    expect(p).toMatchObject({ mode: 'dry-run', failed: [], held: [] });
    expect(p.posted.map((x) => x.id).sort()).toEqual(ids);
    const journal = path.join(cloud.dir, 'odoo-journal.jsonl');
    const journalled = fs.readFileSync(journal, 'utf8').trim().split('\n').length;
    expect(journalled).toBe(2);
    expect(await approved(cloud)).toEqual(ids);

    // The journal target (no Odoo configured), as npm start runs it: same words, same effect.
    const run = await cloud.cli(['post'], { as: 'approver' });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/dry run: .*nothing was sent to Odoo, and they stay approved/);
    expect(fs.readFileSync(journal, 'utf8').trim().split('\n').length).toBe(journalled);
    expect(await approved(cloud)).toEqual(ids);

    // The same store with Odoo configured: post sends every one of them.
    await cloud.proc.stop();
    const odoo = await odooWithProjects();
    const again = await cloudOn(cloud.dir, {
      url: odoo.url,
      db: odoo.db,
      login: odoo.login,
      apiKey: odoo.apiKey,
    });
    const real = await again.cli(['post', '--json'], { as: 'approver' });
    expect(real.code).toBe(0);
    const r = PostResponseSchema.parse(json(real.stdout));
    expect(r).toMatchObject({ mode: 'odoo', failed: [], held: [] });
    expect(r.posted.map((x) => x.id).sort()).toEqual(ids);
    expect(odoo.records('account.analytic.line').filter((l) => String(l.ref).startsWith('IL-'))).toHaveLength(
      2,
    );
    expect(await approved(again)).toEqual([]);
  }, 300_000);
});

describe('post --json when Odoo cannot be used', () => {
  it('prints a JSON result on stdout when Odoo refuses the key, and when Odoo is down', async () => {
    const odoo = await odooWithProjects();
    const cloud = await startCloud({
      odoo: { url: odoo.url, db: odoo.db, login: odoo.login, apiKey: 'a-key-odoo-never-issued' },
    });
    cleanups.push(() => cloud.stop());
    const ids = await approvedAllocations(cloud);

    const refused = await cloud.cli(['post', '--json'], { as: 'approver' });
    expect(refused.code).toBe(1);
    const body = json(refused.stdout) as {
      ok: boolean;
      error: { code: string; message: string };
      posted: unknown[];
    };
    expect(body).toMatchObject({ ok: false, error: { code: 'ODOO_AUTH' }, posted: [] });
    expect(body.error.message).toMatch(/nothing was sent/);
    expect(refused.stdout).not.toContain('a-key-odoo-never-issued');

    await odoo.stop();
    const down = await cloud.cli(['post', '--json'], { as: 'approver' });
    expect(down.code).toBe(1);
    expect(json(down.stdout)).toMatchObject({ ok: false, error: { code: expect.any(String) }, posted: [] });

    expect(await approved(cloud)).toEqual(ids);
    const dl = await cloud.cli(['deadletters', 'list', '--json']);
    expect(DeadLettersResponseSchema.parse(json(dl.stdout)).deadLetters).toEqual([]);
  }, 300_000);
});
