#!/usr/bin/env node
/**
 * `ironledger-cloud`: the only reader of argv and the environment. Exit codes: 0 ok,
 * 1 runtime failure, 2 usage error, 78 bad configuration (EX_CONFIG).
 */
import { parseArgs } from 'node:util';
import { isIronLedgerError } from '@ironledger/errors';
import { createLogger } from '@ironledger/logger';
import { startCloud } from './app.js';
import { loadCloudConfig } from './config.js';
import { hashToken } from './http/auth.js';
import { migrateStore, storeBackend, storeLocation } from './store/migrate.js';
import { VERSION } from './version.js';

const EXIT_USAGE = 2;
const EXIT_CONFIG = 78;

const HELP = `ironledger-cloud ${VERSION}: the IronLedger cloud ingestor

Usage:
  ironledger-cloud [serve] --config <file>   run the ingestor (HTTP API, consolidation, posting)
  ironledger-cloud check-config --config <file>
                                            validate the configuration and exit
  ironledger-cloud migrate --config <file>  bring the store's schema (SQLite or PostgreSQL) up to
                                            this version and exit (serve also does it at start-up
                                            unless store.migrateOnStart is false)
  ironledger-cloud hash-token <token>       print the sha256:<hex> form to put in the config
  ironledger-cloud --help | --version

Options:
  -c, --config <file>   YAML or JSON configuration (see config.example.yaml)

Environment:
  IRONLEDGER_CLOUD_<KEY>__<SUB>   overrides a config key, e.g. IRONLEDGER_CLOUD_HTTP__PORT=9090
  ODOO_URL, ODOO_DB, ODOO_LOGIN, ODOO_API_KEY (or ODOO_API_KEY_FILE)  → posting.odoo.*
  DATABASE_URL (or DATABASE_URL_FILE)   → store.url: postgres://… runs on PostgreSQL
  IRONLEDGER_ADMIN_TOKEN          a bootstrap admin token (only its hash is kept)
`;

async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (e) {
    process.stderr.write(`ironledger-cloud: ${(e as Error).message}\n\n${HELP}`);
    return EXIT_USAGE;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const command = positionals[0] ?? 'serve';
  if (command === 'hash-token') {
    const token = positionals[1];
    if (!token) {
      process.stderr.write('ironledger-cloud hash-token <token>: a token is required\n');
      return EXIT_USAGE;
    }
    process.stdout.write(`${hashToken(token)}\n`);
    return 0;
  }
  if (command !== 'serve' && command !== 'check-config' && command !== 'migrate') {
    process.stderr.write(`ironledger-cloud: unknown command "${command}"\n\n${HELP}`);
    return EXIT_USAGE;
  }

  let config: ReturnType<typeof loadCloudConfig>;
  try {
    config = loadCloudConfig(values.config, process.env);
  } catch (e) {
    if (isIronLedgerError(e)) {
      process.stderr.write(`ironledger-cloud: ${e.message}\n`);
      return EXIT_CONFIG;
    }
    throw e;
  }
  if (command === 'check-config') {
    process.stdout.write(
      `configuration ok: ${config.gateways.length} gateway(s), ${config.sites.length} site(s), ${config.units.length} unit(s), store ${storeBackend(config.store)} ${storeLocation(config.store)}\n`,
    );
    return 0;
  }
  if (command === 'migrate') {
    try {
      const r = await migrateStore(config.store);
      process.stdout.write(
        r.from === r.to
          ? `store ${r.backend} ${r.location}: schema ${r.to} is current\n`
          : `store ${r.backend} ${r.location}: schema ${r.from} → ${r.to}\n`,
      );
      return 0;
    } catch (e) {
      process.stderr.write(`ironledger-cloud migrate: ${(e as Error).message}\n`);
      return 1;
    }
  }

  const logger = createLogger({ service: 'ironledger-cloud', version: VERSION, level: config.log.level });
  let cloud: Awaited<ReturnType<typeof startCloud>>;
  try {
    cloud = await startCloud(config, { logger, adminToken: process.env.IRONLEDGER_ADMIN_TOKEN || undefined });
  } catch (e) {
    logger.fatal({ event: 'start_failed', err: e }, 'cloud failed to start');
    process.stderr.write(`ironledger-cloud: ${(e as Error).message}\n`);
    return isIronLedgerError(e, 'CONFIG_INVALID') ? EXIT_CONFIG : 1;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ event: 'shutdown', signal }, 'shutting down');
      cloud.stop().then(
        () => resolve(0),
        (e) => {
          logger.error({ event: 'shutdown_failed', err: e }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`ironledger-cloud: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exitCode = 1;
  },
);
