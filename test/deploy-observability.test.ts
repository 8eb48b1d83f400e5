/**
 * deploy/'s operator files against the real parts: the Prometheus alert rules pass
 * `promtool check rules` and their unit tests (`promtool test rules`), and every metric the
 * Grafana dashboard's panels and the alert rules query is one the edge's or the cloud's
 * /metrics really exports (both started as real processes).
 *
 * promtool comes from Debian's `prometheus` package, which .ci/run installs; without it the
 * promtool checks are skipped with a message (the metric checks still run).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { type Pipeline, REPO_ROOT, removeDir, startPipeline, tempDir, waitFor } from '@ironledger/testkit';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';

const run = promisify(execFile);
const PROM_DIR = path.join(REPO_ROOT, 'deploy', 'prometheus');
const RULES = path.join(PROM_DIR, 'ironledger-alerts.yml');
const DASHBOARD = path.join(REPO_ROOT, 'deploy', 'grafana', 'ironledger-dashboard.json');

const promtool = ['/usr/bin/promtool', '/usr/local/bin/promtool'].find((p) => fs.existsSync(p));
if (!promtool)
  process.stderr.write('promtool not found (Debian package prometheus): skipping promtool checks\n');

interface Panel {
  type: string;
  title: string;
  targets?: Array<{ expr: string }>;
}

/** The IronLedger metric names an expression reads. */
const metricsIn = (expr: string) => [...expr.matchAll(/\bironledger_[a-z0-9_]+/g)].map((m) => m[0]);

/** Names declared in a Prometheus exposition (`# TYPE name kind`), with a histogram's series names. */
function exported(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(m[1]!);
    if (m[2] === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(`${m[1]}${s}`);
  }
  return names;
}

describe.skipIf(!promtool)('Prometheus alert rules (promtool)', () => {
  it('pass promtool check rules', async () => {
    const { stdout } = await run(promtool!, ['check', 'rules', RULES]);
    expect(stdout).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('fire as their unit tests expect (promtool test rules)', async () => {
    const { stdout } = await run(promtool!, ['test', 'rules', 'ironledger-alerts.test.yml'], {
      cwd: PROM_DIR,
    });
    expect(stdout).toContain('SUCCESS');
  });
});

describe('dashboard and alert rules against the real /metrics', () => {
  let dir: string;
  let pl: Pipeline;
  let names: Set<string>;
  let cloudText: string;

  const scrape = async (url: string) => (await request(`${url}/metrics`)).body.text();

  beforeAll(async () => {
    dir = tempDir('ironledger-deploy-');
    pl = await startPipeline({ dir, units: 2, seed: 3 });
    // The gateway's first heartbeat gives the cloud its per-gateway series.
    cloudText = await waitFor(
      async () => {
        const t = await scrape(pl.cloudUrl);
        return t.includes('ironledger_cloud_gateway_queued_readings{gateway="gw-local"}') ? t : null;
      },
      { what: 'the per-gateway series after the first heartbeat' },
    );
    names = new Set([...exported(cloudText), ...exported(await scrape(pl.edgeHttpUrl))]);
  });
  afterAll(async () => {
    await pl?.stop();
    removeDir(dir);
  });

  it('every dashboard panel queries metrics that the edge or the cloud exports', () => {
    const dashboard = JSON.parse(fs.readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[] };
    const panels = dashboard.panels.filter((p) => p.type !== 'row');
    expect(panels.length).toBeGreaterThan(15);
    for (const p of panels) {
      const used = (p.targets ?? []).flatMap((t) => metricsIn(t.expr));
      expect(used.length, `panel "${p.title}" queries no IronLedger metric`).toBeGreaterThan(0);
      for (const m of used) expect(names.has(m), `panel "${p.title}": ${m} is not in /metrics`).toBe(true);
    }
  });

  it('every alert rule queries metrics that the edge or the cloud exports', () => {
    const rules = YAML.parse(fs.readFileSync(RULES, 'utf8')) as {
      groups: Array<{ rules: Array<{ alert: string; expr: string }> }>;
    };
    const all = rules.groups.flatMap((g) => g.rules);
    expect(all.length).toBeGreaterThan(10);
    for (const r of all) {
      const used = metricsIn(r.expr);
      expect(used.length, `${r.alert} queries no IronLedger metric`).toBeGreaterThan(0);
      for (const m of used) expect(names.has(m), `${r.alert}: ${m} is not in /metrics`).toBe(true);
    }
  });

  it("the cloud's operator gauges carry the status figures", () => {
    const value = (series: string) => {
      const line = cloudText.split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? undefined : Number(line.slice(series.length + 1));
    };
    // Nothing published yet: both units are silent, nothing is dead-lettered or parked.
    expect(value('ironledger_cloud_silent_units')).toBe(2);
    expect(value('ironledger_cloud_dead_letters')).toBe(0);
    expect(value('ironledger_cloud_gateways_stale')).toBe(0);
    expect(value('ironledger_cloud_gateway_parked_batches{gateway="gw-local"}')).toBe(0);
    expect(value('ironledger_cloud_gateway_disk_budget_exceeded{gateway="gw-local"}')).toBe(0);
    expect(value('ironledger_cloud_gateway_last_seen_age_seconds{gateway="gw-local"}')).toBeLessThan(60);
  });
});
