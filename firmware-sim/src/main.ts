#!/usr/bin/env node
/**
 * `ironledger-sim`: the only reader of argv and the only place that exits. Logs (pino JSON)
 * go to stderr; stdout carries data only: the world (`--print-world`), the load-mode table
 * and the final one-line `sim.summary` JSON.
 */
import fs from 'node:fs';
import { createLogger } from '@ironledger/logger';
import { runAempFeed } from './aemp-feed-server.js';
import { deterministicSecrets, loadCredentials } from './credentials.js';
import { computeTruth, planFleet, runSimulation, serializeTruth, VERSION } from './index.js';
import { parseOptions, USAGE, UsageError } from './options.js';
import { formatSummaryTable } from './report.js';

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (argv.includes('--version')) {
    process.stdout.write(`ironledger-sim ${VERSION}\n`);
    return 0;
  }
  let o: ReturnType<typeof parseOptions>;
  try {
    o = parseOptions(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`ironledger-sim: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    throw e;
  }
  if (o.printWorld) {
    process.stdout.write(`${JSON.stringify(o.world, null, 2)}\n`);
    return 0;
  }
  if (o.writeCredentials) {
    fs.writeFileSync(
      o.writeCredentials,
      `${JSON.stringify(deterministicSecrets(o.world, o.seed), null, 2)}\n`,
      { mode: 0o600 },
    );
    return 0;
  }
  const logger = createLogger({
    service: 'ironledger-sim',
    version: VERSION,
    level: o.logLevel,
    destination: process.stderr,
  });
  const secrets = o.credentialsFile
    ? loadCredentials(o.credentialsFile)
    : deterministicSecrets(o.world, o.seed);

  const abort = new AbortController();
  let signalCode = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signalCode = sig === 'SIGINT' ? 130 : 143;
    logger.warn({ event: 'sim.interrupted', signal: sig }, 'stopping');
    abort.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  if (o.aemp) {
    const plan = planFleet({
      seed: o.seed,
      units: o.units,
      startMs: o.startMs,
      days: o.days,
      intervalMs: o.intervalMs,
      format: 'canonical',
      faults: o.faults,
      world: o.world,
    });
    const code = await runAempFeed({
      plan,
      truthFile: o.truthFile,
      writeTruth: (file, p) => fs.writeFileSync(file, serializeTruth(computeTruth(p))),
      flags: o.aemp,
      speed: o.pace.mode === 'speed' ? o.pace.speed : null,
      logger,
      signal: abort.signal,
    });
    return signalCode && code === 0 ? 0 : code;
  }
  const summary = await runSimulation({
    seed: o.seed,
    units: o.units,
    world: o.world,
    worldFile: o.worldFile,
    startMs: o.startMs,
    days: o.days,
    intervalMs: o.intervalMs,
    format: o.format,
    faults: o.faults,
    brokerUrl: o.brokerUrl,
    pace: o.pace,
    qos: o.qos,
    secrets,
    truthFile: o.truthFile,
    ackedFile: o.ackedFile,
    giveUpAfterMs: o.giveUpAfterMs,
    logger,
    signal: abort.signal,
  });
  if (o.pace.mode === 'rate') process.stdout.write(formatSummaryTable(summary));
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  if (signalCode) return signalCode;
  if (summary.gaveUp || summary.failed > 0) return 3;
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`ironledger-sim: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
