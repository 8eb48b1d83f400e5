/**
 * Command-line options of `ironledger-sim`: parsed once, every problem named, then frozen.
 * Bad usage is a `UsageError` (exit 2, one line plus the usage text).
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { type World, WorldSchema } from '@ironledger/contracts';
import { AEMP_STRING_FLAGS, AEMP_USAGE, type AempServeFlags, parseAempFlags } from './aemp-options.js';
import { DEFAULT_FAULT_OPTIONS, FAULT_KINDS, type FaultKind, type FaultOptions } from './faults.js';
import type { Pace } from './fleet.js';
import type { Format } from './plan.js';
import { dayStart } from './time.js';
import { defaultWorld, loadWorld } from './world.js';

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export const USAGE = `Usage: ironledger-sim [options]

Simulated construction fleet: telematics units publishing engine hours over MQTT.

Connection
  --broker <url>              MQTT broker (default mqtt://127.0.0.1:1883)
  --credentials <file>        JSON {"<unitId>": "<secret>"}; default: secrets derived from --seed
  --write-credentials <file>  write the seed's secrets for every unit, then exit
  --qos <0|1>                 QoS of readings (default 1)
  --give-up-after <dur>       stop when no PUBACK arrives for this long (default: never)

Fleet and time
  --units <n>                 units in the built-in world (default 5)
  --world <file>              load a world (sites, projects, units) instead
  --print-world               write the world as JSON to stdout, then exit
  --seed <s>                  seed of every random choice (default 1)
  --start <instant|day>       ISO instant, or YYYY-MM-DD for local midnight of the first
                              site (default 2026-11-02)
  --days <d>                  days to simulate (default 1)
  --interval <dur>            reading interval: 30s, 5m, 1h (default 5m)
  --format <f>                canonical | aemp | mixed (default canonical)

Pace (one of)
  --speed <x>                 sim seconds per real second (default 60)
  --as-fast-as-possible       publish as fast as PUBACKs come back
  --rate <r>                  load mode: r readings per second across the fleet

Output
  --truth <file>              ground truth JSON (deterministic for seed and options)
  --acked <file>              one line {"unitId","ts"} per acknowledged reading
  --log-level <level>         pino level for stderr logs (default info)

Faults (all off by default; each seeded)
  --faults <list>             comma list of: ${FAULT_KINDS.join(', ')}
  --duplicate-rate <p>        per reading (default ${DEFAULT_FAULT_OPTIONS.duplicateRate})
  --redelivery-rate <p>       per reading (default ${DEFAULT_FAULT_OPTIONS.redeliveryRate})
  --reorder-rate <p>          per reading (default ${DEFAULT_FAULT_OPTIONS.reorderRate})
  --reorder-burst <n>         readings per reversed burst (default ${DEFAULT_FAULT_OPTIONS.reorderBurst})
  --gap-units <share>         share of units going offline (default ${DEFAULT_FAULT_OPTIONS.gapUnits})
  --gap-hours <h>             length of the offline stretch (default ${DEFAULT_FAULT_OPTIONS.gapHours})
  --clock1970-units <share>   (default ${DEFAULT_FAULT_OPTIONS.clock1970Units})
  --clock1970-readings <n>    readings before the GPS fix (default ${DEFAULT_FAULT_OPTIONS.clock1970Readings})
  --skew-units <share>        (default ${DEFAULT_FAULT_OPTIONS.skewUnits})
  --skew-seconds <s>          clock offset, sign seeded (default ${DEFAULT_FAULT_OPTIONS.skewSeconds})
  --reset-units <share>       units whose ECU is swapped (default ${DEFAULT_FAULT_OPTIONS.resetUnits})
  --reset-at <instant>        when (default: a seeded weekday late morning)
  --jump-units <share>        (default ${DEFAULT_FAULT_OPTIONS.jumpUnits})
  --jump-hours <h>            (default ${DEFAULT_FAULT_OPTIONS.jumpHours})
  --malformed-rate <p>        per reading (default ${DEFAULT_FAULT_OPTIONS.malformedRate})
  --impersonate-rate <p>      per reading (default ${DEFAULT_FAULT_OPTIONS.impersonateRate})

${AEMP_USAGE}
  --help                      this text
  --version                   the version

Exit codes: 0 all readings acknowledged; 1 failure; 2 bad usage; 3 gave up with readings
unacknowledged; 130/143 interrupted.
`;

export interface SimOptions {
  help: boolean;
  version: boolean;
  printWorld: boolean;
  writeCredentials: string | null;
  brokerUrl: string;
  units: number;
  seed: string;
  startMs: number;
  days: number;
  intervalMs: number;
  pace: Pace;
  format: Format;
  credentialsFile: string | null;
  truthFile: string | null;
  ackedFile: string | null;
  world: World;
  worldFile: string | null;
  faults: FaultOptions;
  qos: 0 | 1;
  giveUpAfterMs: number | null;
  logLevel: string;
  /** --serve-aemp: serve the fleet as an AEMP feed instead of publishing over MQTT. */
  aemp: AempServeFlags | null;
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `30s`, `5m`, `1h`, `250ms`, `2d`; a bare number is `bareUnit`. */
export function parseDuration(flag: string, value: string, bareUnit: keyof typeof UNIT_MS = 'ms'): number {
  const m = DURATION.exec(value.trim());
  if (!m) throw new UsageError(`--${flag}: "${value}" is not a duration (e.g. 30s, 5m, 1h)`);
  return Math.round(Number(m[1]) * (UNIT_MS[m[2] ?? bareUnit] as number));
}

function num(
  flag: string,
  value: string | undefined,
  def: number,
  check: (n: number) => boolean,
  what: string,
): number {
  if (value === undefined) return def;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || !check(n))
    throw new UsageError(`--${flag}: "${value}" is not ${what}`);
  return n;
}

const share = (n: number) => n >= 0 && n <= 1;

const STRING_FLAGS = [
  'broker',
  'units',
  'seed',
  'start',
  'days',
  'speed',
  'interval',
  'format',
  'credentials',
  'write-credentials',
  'truth',
  'acked',
  'world',
  'faults',
  'rate',
  'qos',
  'give-up-after',
  'log-level',
  'duplicate-rate',
  'redelivery-rate',
  'reorder-rate',
  'reorder-burst',
  'gap-units',
  'gap-hours',
  'clock1970-units',
  'clock1970-readings',
  'skew-units',
  'skew-seconds',
  'reset-units',
  'reset-at',
  'jump-units',
  'jump-hours',
  'malformed-rate',
  'impersonate-rate',
  ...AEMP_STRING_FLAGS,
] as const;

function parseInstant(flag: string, value: string, timeZone: string): number {
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) {
    const ms = dayStart(value, timeZone);
    if (Number.isNaN(ms)) throw new UsageError(`--${flag}: "${value}" is not a calendar day`);
    return ms;
  }
  const ok = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(value);
  const ms = Date.parse(value);
  if (!ok || Number.isNaN(ms))
    throw new UsageError(
      `--${flag}: "${value}" is not an ISO instant with a zone (2026-11-02T06:00:00Z) or a day (2026-11-02)`,
    );
  return ms;
}

export function parseOptions(argv: string[]): SimOptions {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        ...Object.fromEntries(STRING_FLAGS.map((f) => [f, { type: 'string' as const }])),
        'as-fast-as-possible': { type: 'boolean' },
        'print-world': { type: 'boolean' },
        'serve-aemp': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message.split('\n')[0] ?? 'bad arguments');
  }
  const v = parsed.values as Record<string, string | boolean | undefined>;
  const s = (k: (typeof STRING_FLAGS)[number]) => v[k] as string | undefined;

  const help = v.help === true;
  const version = v.version === true;

  const units = num(
    'units',
    s('units'),
    5,
    (n) => Number.isInteger(n) && n >= 1 && n <= 100_000,
    'a whole number from 1 to 100000',
  );
  const seed = s('seed') ?? '1';
  if (seed.length === 0) throw new UsageError('--seed: must not be empty');

  let world: World;
  const worldFile = s('world') ?? null;
  if (worldFile) {
    try {
      world = loadWorld(worldFile);
    } catch (e) {
      throw new UsageError(`--world: ${(e as Error).message}`);
    }
    if (s('units') !== undefined) world = WorldSchema.parse({ ...world, units: world.units.slice(0, units) });
  } else {
    world = defaultWorld(seed, units);
  }
  const firstTz = world.sites[0]?.timeZone ?? 'UTC';

  const startMs = parseInstant('start', s('start') ?? '2026-11-02', firstTz);
  const days = num('days', s('days'), 1, (n) => n > 0 && n <= 3660, 'a positive number of days');
  const intervalMs = parseDuration('interval', s('interval') ?? '5m', 's');
  if (intervalMs < 1000 || intervalMs % 1000 !== 0 || intervalMs > 86_400_000) {
    throw new UsageError(`--interval: "${s('interval')}" must be whole seconds between 1s and 24h`);
  }

  const afap = v['as-fast-as-possible'] === true;
  const rateRaw = s('rate');
  const speedRaw = s('speed');
  if ([afap, rateRaw !== undefined, speedRaw !== undefined].filter(Boolean).length > 1) {
    throw new UsageError('--speed, --as-fast-as-possible and --rate are alternatives: give one');
  }
  let pace: Pace;
  if (afap) pace = { mode: 'afap' };
  else if (rateRaw !== undefined)
    pace = {
      mode: 'rate',
      rate: num('rate', rateRaw, 0, (n) => n > 0, 'a positive rate (readings per second)'),
    };
  else
    pace = {
      mode: 'speed',
      speed: num('speed', speedRaw, 60, (n) => n > 0, 'a positive speed (sim seconds per real second)'),
    };

  const format = (s('format') ?? 'canonical') as Format;
  if (!['canonical', 'aemp', 'mixed'].includes(format))
    throw new UsageError(`--format: "${format}" is not one of canonical, aemp, mixed`);

  const qosRaw = s('qos') ?? '1';
  if (qosRaw !== '0' && qosRaw !== '1') throw new UsageError(`--qos: "${qosRaw}" is not 0 or 1`);

  const enabled: FaultKind[] = [];
  for (const k of (s('faults') ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)) {
    if (k === 'none') continue;
    if (!(FAULT_KINDS as readonly string[]).includes(k))
      throw new UsageError(`--faults: "${k}" is not one of ${FAULT_KINDS.join(', ')}`);
    if (!enabled.includes(k as FaultKind)) enabled.push(k as FaultKind);
  }
  const d = DEFAULT_FAULT_OPTIONS;
  const rate = (flag: (typeof STRING_FLAGS)[number], def: number) =>
    num(flag, s(flag), def, share, 'a probability between 0 and 1');
  const count = (flag: (typeof STRING_FLAGS)[number], def: number) =>
    num(flag, s(flag), def, (n) => Number.isInteger(n) && n >= 1, 'a whole number of at least 1');
  const positive = (flag: (typeof STRING_FLAGS)[number], def: number) =>
    num(flag, s(flag), def, (n) => n > 0, 'a positive number');
  const faults: FaultOptions = {
    enabled,
    duplicateRate: rate('duplicate-rate', d.duplicateRate),
    redeliveryRate: rate('redelivery-rate', d.redeliveryRate),
    reorderRate: rate('reorder-rate', d.reorderRate),
    reorderBurst: count('reorder-burst', d.reorderBurst),
    gapUnits: rate('gap-units', d.gapUnits),
    gapHours: positive('gap-hours', d.gapHours),
    clock1970Units: rate('clock1970-units', d.clock1970Units),
    clock1970Readings: count('clock1970-readings', d.clock1970Readings),
    skewUnits: rate('skew-units', d.skewUnits),
    skewSeconds: num(
      'skew-seconds',
      s('skew-seconds'),
      d.skewSeconds,
      (n) => Number.isInteger(n) && n !== 0,
      'a non-zero whole number of seconds',
    ),
    resetUnits: rate('reset-units', d.resetUnits),
    resetAtMs:
      s('reset-at') !== undefined ? parseInstant('reset-at', s('reset-at') as string, firstTz) : null,
    jumpUnits: rate('jump-units', d.jumpUnits),
    jumpHours: positive('jump-hours', d.jumpHours),
    malformedRate: rate('malformed-rate', d.malformedRate),
    impersonateRate: rate('impersonate-rate', d.impersonateRate),
  };
  if (
    faults.resetAtMs !== null &&
    (faults.resetAtMs <= startMs || faults.resetAtMs >= startMs + days * 86_400_000)
  ) {
    throw new UsageError('--reset-at: must fall inside the simulated window');
  }

  const brokerUrl = s('broker') ?? 'mqtt://127.0.0.1:1883';
  if (!/^(mqtts?|tcp|tls|wss?):\/\/[^\s]+$/.test(brokerUrl))
    throw new UsageError(`--broker: "${brokerUrl}" is not an mqtt:// URL`);
  const giveUp = s('give-up-after');

  const credentialsFile = s('credentials') ?? null;
  if (credentialsFile && !fs.existsSync(credentialsFile))
    throw new UsageError(`--credentials: ${credentialsFile} does not exist`);

  return Object.freeze({
    help,
    version,
    printWorld: v['print-world'] === true,
    writeCredentials: s('write-credentials') ?? null,
    brokerUrl,
    units,
    seed,
    startMs,
    days,
    intervalMs,
    pace,
    format,
    credentialsFile,
    truthFile: s('truth') ?? null,
    ackedFile: s('acked') ?? null,
    world,
    worldFile,
    faults,
    qos: qosRaw === '1' ? 1 : 0,
    giveUpAfterMs: giveUp !== undefined ? parseDuration('give-up-after', giveUp, 'ms') : null,
    logLevel: s('log-level') ?? 'info',
    aemp: parseAempFlags(
      v['serve-aemp'] === true,
      s,
      (flag, value) => parseDuration(flag, value, 's'),
      (m) => {
        throw new UsageError(m);
      },
    ),
  });
}
