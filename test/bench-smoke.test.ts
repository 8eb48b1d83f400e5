/**
 * `npm run bench` is a benchmark, not a test: nothing here judges a figure. This only checks
 * that the cheapest scenario, in --quick mode, runs the real processes to the end and prints a
 * well-formed table and JSON file (each figure with its reference and ratio).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { BIN, REPO_ROOT, tempDir } from '@ironledger/testkit';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const BENCH = path.join(REPO_ROOT, 'scripts', 'bench', 'run.mjs');
const built = fs.existsSync(BIN.cloud) && fs.existsSync(BIN.edge);

describe.skipIf(!built)('npm run bench (smoke)', () => {
  it('--help describes every option; an unknown scenario is refused with status 2', async () => {
    const help = await run(process.execPath, [BENCH, '--help']);
    for (const opt of ['--quick', '--only', '--reps', '--out', '--help']) expect(help.stdout).toContain(opt);
    const bad = await run(process.execPath, [BENCH, '--only', 'nonsense']).catch((e) => e);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown scenario nonsense/);
  });

  it('every benchmark script answers --help with its usage and refuses an unknown option with status 2', async () => {
    const scripts = ['cloud/bench', 'edge/bench']
      .flatMap((d) => fs.readdirSync(path.join(REPO_ROOT, d)).map((f) => path.join(REPO_ROOT, d, f)))
      .filter((f) => f.endsWith('.mjs') && fs.readFileSync(f, 'utf8').startsWith('#!'));
    expect(scripts.length).toBeGreaterThanOrEqual(9);
    for (const script of scripts) {
      const name = path.relative(REPO_ROOT, script);
      const help = await run(process.execPath, [script, '--help']);
      expect(help.stdout, name).toMatch(/Usage: /);
      expect(help.stdout, name).toContain(name);
      const bad = await run(process.execPath, [script, '--no-such-option']).catch((e) => e);
      expect(bad.code, name).toBe(2);
      expect(bad.stderr, name).toMatch(/--no-such-option/);
    }
  });

  it('--quick --only consolidation prints a markdown table and writes JSON with references and ratios', async () => {
    const out = path.join(tempDir('bench-smoke-'), 'bench.json');
    const r = await run(process.execPath, [BENCH, '--quick', '--only', 'consolidation', '--out', out], {
      maxBuffer: 16 * 1024 * 1024,
    });
    const lines = r.stdout.split('\n').filter((l) => l.startsWith('|'));
    expect(lines[0]).toMatch(
      /^\| scenario \| figure \| median \|.*\| reference \(same run\) \|.*\| ratio \|/,
    );
    expect(lines[1]).toMatch(/^\|( --- \|)+$/);
    const rows = lines.slice(2);
    expect(rows.length).toBe(3);
    const cols = lines[0]!.split('|').length;
    for (const row of rows) expect(row.split('|').length).toBe(cols);

    const json = JSON.parse(fs.readFileSync(out, 'utf8'));
    expect(json.env.cores).toBeGreaterThan(0);
    expect(json.env.node).toBe(process.version);
    expect(json.env.reps).toBe(1);
    expect(json.results).toHaveLength(3);
    for (const f of json.results) {
      expect(f.scenario).toBe('consolidation');
      expect(Number.isFinite(f.median)).toBe(true);
      expect(f.values).toHaveLength(1);
      expect(Number.isFinite(f.referenceMedian)).toBe(true);
      expect(f.ratio).toBeCloseTo(f.median / f.referenceMedian, 9);
    }
  }, 300_000);
});
