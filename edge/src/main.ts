#!/usr/bin/env node
/**
 * `ironledger-edge`: the only reader of argv and the environment; owns signals and exit codes.
 *   0 ok · 1 runtime failure · 64 usage error · 78 configuration error (EX_CONFIG)
 */
import { parseArgs } from 'node:util';
import { isIronLedgerError } from '@ironledger/errors';
import type { SqliteBuffer } from './buffer/sqlite-buffer.js';
import type { EdgeConfig } from './config.js';
import { VERSION } from './version.js';

// Modules are loaded by the subcommands that need them: `--version`, `--help` and
// `hash-secret` evaluate none of the agent (broker, MQTT, HTTP, SQLite, schemas), and a
// command that reads the buffer does not load the broker.

const EXIT_USAGE = 64;
const EXIT_CONFIG = 78;

const HELP = `ironledger-edge ${VERSION} — IronLedger site gateway agent

Usage:
  ironledger-edge [run] --config <file>         run the agent (embedded or external broker)
  ironledger-edge check-config --config <file>  validate the configuration and exit
  ironledger-edge status [--config <file> | --url <http://host:port>] [--json]
  ironledger-edge quarantine list --config <file> [--limit N] [--all] [--json]
  ironledger-edge replay --config <file> [--quarantine] [--parked] [--ids 1,2,3]
  ironledger-edge vacuum --config <file> [--full]
  ironledger-edge hash-secret <secret>          print the stored form of a unit secret
  ironledger-edge --help | --version

Configuration: YAML or JSON (see config.example.yaml). Environment overrides use the
prefix IRONLEDGER_EDGE and "__" between levels (IRONLEDGER_EDGE_CLOUD__URL); secrets from
files with IRONLEDGER_EDGE_CLOUD_TOKEN_FILE or IRONLEDGER_EDGE_MQTT_PASSWORD_FILE.
--config may also be given as IRONLEDGER_EDGE_CONFIG.
Exit codes: 0 ok, 1 failure, 64 usage, 78 bad configuration.`;

class UsageError extends Error {}

function parse(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      url: { type: 'string' },
      json: { type: 'boolean', default: false },
      limit: { type: 'string' },
      all: { type: 'boolean', default: false },
      quarantine: { type: 'boolean', default: false },
      parked: { type: 'boolean', default: false },
      ids: { type: 'string' },
      full: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
      version: { type: 'boolean', short: 'v', default: false },
    },
  });
  return { values, positionals };
}

async function config(file: string | undefined): Promise<Readonly<EdgeConfig>> {
  const { loadEdgeConfig } = await import('./config.js');
  return loadEdgeConfig(file ?? process.env.IRONLEDGER_EDGE_CONFIG, process.env);
}

async function openBuffer(file: string | undefined): Promise<SqliteBuffer> {
  const c = await config(file);
  const { SqliteBuffer } = await import('./buffer/sqlite-buffer.js');
  const buffer = new SqliteBuffer({
    path: c.buffer.path,
    gatewayId: c.gatewayId,
    diskBudgetBytes: c.buffer.diskBudgetMb * 1024 * 1024,
    synchronous: c.buffer.synchronous,
    quarantineMaxEntries: c.quarantine.maxEntries,
    quarantineMaxPayloadBytes: c.quarantine.maxPayloadBytes,
  });
  const { from, to } = buffer.schema;
  if (from !== 0 && from !== to)
    process.stderr.write(`ironledger-edge: buffer ${buffer.path} upgraded from schema ${from} to ${to}\n`);
  return buffer;
}

let agentRan = false;

async function run(file: string | undefined): Promise<number> {
  const c = await config(file);
  agentRan = true;
  const [{ createLogger }, { startAgent }] = await Promise.all([
    import('@ironledger/logger'),
    import('./agent.js'),
  ]);
  const log = createLogger({
    service: 'ironledger-edge',
    version: VERSION,
    level: c.log.level,
    base: { gatewayId: c.gatewayId },
  });
  const agent = await startAgent(c, { logger: log, defaultMetrics: true });
  return new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals) => {
      if (++signals > 1) {
        log.warn(
          { event: 'shutdown.forced', signal: sig },
          'second signal: exiting now (committed readings are safe)',
        );
        process.exit(130);
      }
      log.info({ event: 'shutdown.signal', signal: sig });
      agent.stop().then(
        () => resolve(0),
        (e: unknown) => {
          log.error({ event: 'shutdown.failed', err: e });
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

/** Why the forwarder's thread is not running, if it is not. */
function threadNote(f: Record<string, unknown> | undefined): string {
  if (f?.threadRunning !== false) return '';
  return f.threadEndedIdle ? ', not running: nothing to send' : ', not running: being started again';
}

async function status(file: string | undefined, url: string | undefined, json: boolean): Promise<number> {
  let base = url;
  if (!base) {
    const c = await config(file);
    const host = c.http.host === '0.0.0.0' || c.http.host === '::' ? '127.0.0.1' : c.http.host;
    base = `http://${host.includes(':') ? `[${host}]` : host}:${c.http.port}`;
  }
  const res = await fetch(new URL('/v1/status', base)).catch((e: unknown) => {
    throw new Error(`cannot reach the agent at ${base}: ${(e as Error).message}`);
  });
  if (!res.ok) throw new Error(`agent at ${base} answered ${res.status}`);
  const s = (await res.json()) as Record<string, unknown> & { forwarder?: Record<string, unknown> };
  if (json) {
    process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
    return 0;
  }
  const rows: Array<[string, unknown]> = [
    ['gateway', s.gatewayId],
    ['version', s.version],
    ['queued readings', s.queuedReadings],
    ['oldest unsent (s)', s.oldestUnsentAgeS === null ? '-' : Math.round(s.oldestUnsentAgeS as number)],
    ['quarantined', s.quarantined],
    ['parked batches', s.parkedBatches],
    ['held readings', s.heldReadings],
    ['disk budget exceeded', s.diskBudgetExceeded ? 'YES' : 'no'],
    ['broker clients', s.brokerClients],
    ['forwarder', `${s.forwarder?.state} (${s.forwarder?.thread} thread${threadNote(s.forwarder)})`],
    ['last forward', s.lastForwardAt ?? '-'],
    ['last error', s.forwarder?.lastError ?? '-'],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  process.stdout.write(`${rows.map(([k, v]) => `${k.padEnd(w)}  ${String(v)}`).join('\n')}\n`);
  return 0;
}

async function quarantineList(
  file: string | undefined,
  limit: number,
  all: boolean,
  json: boolean,
): Promise<number> {
  const buffer = await openBuffer(file);
  try {
    const entries = buffer.listQuarantine({ limit, includeReplayed: all });
    if (json) {
      const out = entries.map((e) => ({ ...e, payload: e.payload.toString('utf8') }));
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    } else if (entries.length === 0) process.stdout.write('quarantine is empty\n');
    else {
      process.stdout.write(`${'id'.padEnd(8)}${'received'.padEnd(26)}${'topic'.padEnd(48)}reason\n`);
      for (const e of entries) {
        process.stdout.write(
          `${String(e.id).padEnd(8)}${e.receivedAt.padEnd(26)}${e.topic.slice(0, 46).padEnd(48)}${e.reason} [${e.size} B${e.size > e.payload.length ? `, first ${e.payload.length} kept` : ''}]${e.replayedAt ? ' (replayed)' : ''}\n`,
        );
      }
    }
    return 0;
  } finally {
    buffer.close();
  }
}

async function replay(
  file: string | undefined,
  quarantine: boolean,
  parked: boolean,
  ids: string | undefined,
): Promise<number> {
  const both = !quarantine && !parked;
  const buffer = await openBuffer(file);
  const { decodeMessage } = await import('./sources/decoders/index.js');
  try {
    if (quarantine || both) {
      const list = ids
        ? ids
            .split(',')
            .map((x) => Number(x.trim()))
            .filter((n) => Number.isInteger(n))
        : undefined;
      const s = buffer.replayQuarantine((topic, payload, at) => decodeMessage(topic, payload, at), list);
      process.stdout.write(
        `quarantine: ${s.considered} considered, ${s.stored} stored, ${s.duplicates} duplicates, ${s.conflicts} conflicts, ${s.stillInvalid} still invalid\n`,
      );
    }
    if (parked || both) {
      const n = buffer.unpark();
      process.stdout.write(`parked batches re-queued: ${n}\n`);
    }
    return 0;
  } finally {
    buffer.close();
  }
}

async function vacuum(file: string | undefined, full: boolean): Promise<number> {
  const buffer = await openBuffer(file);
  try {
    const before = buffer.usedBytes();
    buffer.vacuum({ full });
    process.stdout.write(`vacuum done: live bytes ${before} → ${buffer.usedBytes()}\n`);
    return 0;
  } finally {
    buffer.close();
  }
}

async function main(argv: string[]): Promise<number> {
  const { values: v, positionals: p } = parse(argv);
  if (v.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (v.version) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const [cmd = 'run', ...rest] = p;
  switch (cmd) {
    case 'run':
      return run(v.config);
    case 'check-config': {
      const c = await config(v.config);
      process.stdout.write(
        `configuration ok: gateway ${c.gatewayId}, mqtt ${c.mqtt.mode} ${c.mqtt.mode === 'embedded' ? `${c.mqtt.host}:${c.mqtt.port}` : (c.mqtt.url ?? `${c.mqtt.host}:${c.mqtt.port}`)}, auth ${c.auth.mode} (${c.auth.units.length} units), buffer ${c.buffer.path}, cloud ${c.cloud.url}\n`,
      );
      return 0;
    }
    case 'status':
      return status(v.config, v.url, v.json);
    case 'quarantine':
      if (rest[0] !== 'list') throw new UsageError('usage: ironledger-edge quarantine list --config <file>');
      return quarantineList(v.config, v.limit ? Number(v.limit) : 100, v.all, v.json);
    case 'replay':
      return replay(v.config, v.quarantine, v.parked, v.ids);
    case 'vacuum':
      return vacuum(v.config, v.full);
    case 'hash-secret': {
      const secret = rest[0];
      if (!secret) throw new UsageError('usage: ironledger-edge hash-secret <secret>');
      const { hashSecret } = await import('./secrets.js');
      process.stdout.write(`${hashSecret(secret)}\n`);
      return 0;
    }
    default:
      throw new UsageError(`unknown command "${cmd}"; see ironledger-edge --help`);
  }
}

const argv = process.argv.slice(2);
main(argv).then(
  (code) => {
    process.exitCode = code;
    // The agent has stopped in order; do not wait on idle keep-alive sockets or timers.
    if (agentRan) process.exit(code);
  },
  (e: unknown) => {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`ironledger-edge: ${(e as Error).message}\n`);
      process.exitCode = EXIT_USAGE;
    } else if (isIronLedgerError(e, 'CONFIG_INVALID') || isIronLedgerError(e, 'CONFIG_FILE_UNREADABLE')) {
      process.stderr.write(`ironledger-edge: ${e.message}\n`);
      process.exitCode = EXIT_CONFIG;
    } else {
      process.stderr.write(`ironledger-edge: ${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = 1;
    }
  },
);
