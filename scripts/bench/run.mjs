#!/usr/bin/env node
// `npm run bench`: every figure of issue #17 beside a reference measured in the same run.
// Each scenario starts the real processes (edge agent, cloud, brokers, PostgreSQL databases),
// warms up, and is repeated; the table gives the median, the spread (min–max) and the ratio of
// the medians of each figure and its reference; the JSON file keeps every sample.
//
// Usage: node scripts/bench/run.mjs [--quick] [--only ingest,drain,cloud,latency,consolidation]
//        [--reps 3] [--out bench-results/bench-<time>.json]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fmt, markdownTable, median, ROOT } from './lib.mjs';

const SCENARIOS = ['ingest', 'drain', 'cloud', 'latency', 'consolidation'];
const USAGE = `Usage: npm run bench -- [options]

Benchmarks of the whole pipeline, each figure beside a reference measured in the same run.

Options:
  --quick          small sizes and one repetition (about 2 minutes): for trying it out
  --only <list>    comma-separated scenarios: ${SCENARIOS.join(', ')}
  --reps <n>       repetitions per scenario (default 3; --quick: 1)
  --out <file>     JSON results (default bench-results/bench-<time>.json)
  --help           this text
`;

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string', default: SCENARIOS.join(',') },
    reps: { type: 'string' },
    out: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const only = values.only
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
for (const s of only)
  if (!SCENARIOS.includes(s)) {
    process.stderr.write(`unknown scenario ${s}\n${USAGE}`);
    process.exit(2);
  }
const quick = values.quick;
const reps = Number(values.reps ?? (quick ? 1 : 3));
if (!Number.isInteger(reps) || reps < 1 || reps > 20) {
  process.stderr.write('--reps must be an integer 1..20\n');
  process.exit(2);
}

const sizes = quick
  ? {
      warmS: 1,
      measureS: 2,
      backlog: 50_000,
      drainCapS: 120,
      latencyS: 4,
      cloudReadings: 10_000,
      cloudStores: 'sqlite',
      cloudReplicas: '1',
      consUnits: 20,
      consDays: 3,
    }
  : {
      warmS: 2,
      measureS: 5,
      backlog: 1_000_000,
      drainCapS: 600,
      latencyS: 10,
      cloudReadings: 100_000,
      cloudStores: 'sqlite,postgres',
      cloudReplicas: '1,3',
      consUnits: 200,
      consDays: 30,
    };

function version(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
      .trim()
      .split('\n')[0];
  } catch {
    return null;
  }
}
const pkg = (p) => JSON.parse(fs.readFileSync(path.join(ROOT, p), 'utf8')).version;
const env = {
  startedAt: new Date().toISOString(),
  node: process.version,
  cores: os.cpus().length,
  cpu: os.cpus()[0]?.model,
  loadavg: os.loadavg(),
  memTotalMb: Math.round(os.totalmem() / 1048576),
  versions: {
    ironledger: pkg('package.json'),
    betterSqlite3: pkg('node_modules/better-sqlite3/package.json'),
    aedes: pkg('node_modules/aedes/package.json'),
    mosquitto: version('mosquitto', ['-h']),
    postgres: version('psql', ['--version']),
    git: version('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']),
  },
  quick,
  reps,
};

const shared = {};
const results = [];
const failures = [];
const t0 = performance.now();
for (const name of only) {
  const scenario = await import(`./scenarios/${name}.mjs`);
  process.stderr.write(`\n[bench] ${name}: ${scenario.title} (${reps} repetition(s))\n`);
  const samples = new Map();
  const ts = performance.now();
  // A scenario that fails (a server that did not start, a database refused) is reported and
  // the run goes on: the other scenarios' figures and its own repetitions so far are kept.
  try {
    for (let r = 0; r < reps; r++) {
      const figures = await scenario.measure({ sizes, shared, quick, rep: r, reps });
      for (const f of figures) {
        const s = samples.get(f.figure) ?? { ...f, values: [], refValues: [], notes: [] };
        s.values.push(f.value);
        if (f.refValue !== null && f.refValue !== undefined) s.refValues.push(f.refValue);
        if (f.note) s.notes.push(f.note);
        samples.set(f.figure, s);
        process.stderr.write(
          `[bench]   ${f.figure}: ${fmt(f.value)} ${f.unit} (reference ${fmt(f.refValue)})\n`,
        );
      }
    }
  } catch (e) {
    failures.push({ scenario: name, error: String(e?.message ?? e).split('\n')[0] });
    process.stderr.write(`[bench] ${name} FAILED: ${e?.stack ?? e}\n`);
  }
  for (const s of samples.values()) {
    const med = median(s.values);
    const refMed = s.refValues.length ? median(s.refValues) : null;
    results.push({
      scenario: name,
      figure: s.figure,
      unit: s.unit,
      median: med,
      min: Math.min(...s.values),
      max: Math.max(...s.values),
      values: s.values,
      reference: s.reference,
      referenceMedian: refMed,
      referenceValues: s.refValues,
      ratio: refMed ? med / refMed : null,
      notes: s.notes,
    });
  }
  process.stderr.write(`[bench] ${name} took ${((performance.now() - ts) / 1000).toFixed(0)} s\n`);
}
const totalS = (performance.now() - t0) / 1000;

const table = markdownTable(
  [
    'scenario',
    'figure',
    'median',
    'spread (min–max)',
    'unit',
    'reference (same run)',
    'reference median',
    'ratio',
    'note',
  ],
  results.map((r) => [
    r.scenario,
    r.figure,
    fmt(r.median),
    r.values.length > 1 ? `${fmt(r.min)}–${fmt(r.max)}` : '–',
    r.unit,
    r.reference,
    fmt(r.referenceMedian),
    r.ratio === null ? '–' : r.ratio.toFixed(2),
    r.notes.at(-1) ?? '',
  ]),
);
const out =
  values.out ?? path.join(ROOT, 'bench-results', `bench-${env.startedAt.replace(/[:.]/g, '-')}.json`);
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, `${JSON.stringify({ env: { ...env, totalS }, results, failures }, null, 2)}\n`);
console.log(
  `\nIronLedger bench${quick ? ' (--quick)' : ''}: node ${env.node}, ${env.cores} cores, load average ${env.loadavg.map((l) => l.toFixed(1)).join(' ')}, ${reps} repetition(s), ${totalS.toFixed(0)} s\n`,
);
console.log(table);
for (const f of failures) console.log(`\nFAILED: ${f.scenario}: ${f.error}`);
console.log(`\nJSON: ${path.relative(process.cwd(), out)}`);
if (failures.length) process.exitCode = 1;
