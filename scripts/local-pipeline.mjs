#!/usr/bin/env node
// `npm start`: the whole pipeline on one machine with embedded defaults — cloud (SQLite,
// dry-run posting), edge (embedded MQTT broker, SQLite outbox), a simulated fleet — then the
// fleet manager's steps with the `ironledger` CLI. State lives in ./.ironledger/ (delete it
// to start over). Stays up afterwards so the CLI can be tried; Ctrl-C stops everything.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startPipeline } from '@ironledger/testkit';

const { values } = parseArgs({
  options: {
    units: { type: 'string', default: '8' },
    days: { type: 'string', default: '1' },
    seed: { type: 'string', default: '1' },
    dir: { type: 'string', default: '.ironledger' },
    'exit-when-done': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log(`usage: npm start -- [--units N] [--days D] [--seed S] [--dir .ironledger] [--exit-when-done]`);
  process.exit(0);
}

const bold = process.stdout.isTTY && !process.env.NO_COLOR ? (s) => `\x1b[1m${s}\x1b[0m` : (s) => s;
const say = (s) => process.stdout.write(`\n${bold(`▶ ${s}`)}\n`);
const dir = path.resolve(values.dir);
say(`starting cloud and edge (state in ${dir})`);
const pl = await startPipeline({ dir, units: Number(values.units), seed: Number(values.seed) });
console.log(`cloud  ${pl.cloudUrl}\nbroker ${pl.mqttUrl}\nedge   ${pl.edgeHttpUrl} (/healthz, /metrics)`);

const show = async (args) => {
  const r = await pl.cli(args);
  process.stdout.write(r.stdout);
  if (r.code !== 0) process.stderr.write(r.stderr);
  return r;
};
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  say('stopping');
  await pl.stop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

say(`simulating ${values.days} day(s) of ${values.units} units`);
const sim = await pl.runSim([
  '--days',
  String(values.days),
  '--start',
  '2026-11-02',
  '--as-fast-as-possible',
  '--truth',
  pl.paths.truth,
  '--acked',
  pl.paths.acked,
]);
process.stdout.write(
  sim.stdout
    .split('\n')
    .filter((l) => !l.startsWith('{'))
    .join('\n'),
);
const summary = sim.stdout.split('\n').find((l) => l.includes('sim.summary'));
if (summary) {
  const s = JSON.parse(summary);
  console.log(`published ${s.published}, acknowledged ${s.acknowledged}, failed ${s.failed}`);
}
const acked = new Set(
  (await import('node:fs'))
    .readFileSync(pl.paths.acked, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const r = JSON.parse(l);
      return `${r.unitId}@${r.ts}`;
    }),
).size;
await pl.waitForDrain(acked);

say('ironledger status');
await show(['status']);
say('ironledger consolidate');
await show(['consolidate']);
say('ironledger usage');
await show(['usage']);
say('ironledger allocations approve --all --yes');
await show(['allocations', 'approve', '--all', '--yes']);
say('ironledger post   (dry run: no Odoo configured)');
await show(['post']);

if (values['exit-when-done']) await stop();
say('pipeline is up — try the CLI in another terminal:');
console.log(`  export IRONLEDGER_URL=${pl.cloudUrl} IRONLEDGER_TOKEN=${pl.adminToken}`);
console.log('  npx ironledger status\n  npx ironledger allocations list\n\nCtrl-C stops everything.');
