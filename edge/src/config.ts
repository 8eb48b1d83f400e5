/**
 * The agent's configuration: one `.strict()` zod schema with defaults carrying units,
 * validated once at start-up (every problem listed by key), then frozen. Precedence:
 * defaults < file (YAML or JSON) < environment (`IRONLEDGER_EDGE_A__B`, secrets via
 * `IRONLEDGER_EDGE_CLOUD__TOKEN_FILE` or the short `IRONLEDGER_EDGE_CLOUD_TOKEN_FILE`).
 * Every key appears in `edge/config.example.yaml` with its default.
 */
import { deepMerge, envOverrides, formatIssues, readConfigFile } from '@ironledger/config';
import { GatewayIdSchema, MAX_READINGS_PER_BATCH, UnitIdSchema } from '@ironledger/contracts';
import { IronLedgerError } from '@ironledger/errors';
import cron from 'node-cron';
import { z } from 'zod';

export const SECRET_HASH_PATTERN = /^scrypt\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/;

const cronExpr = z.string().refine((s) => cron.validate(s), 'a cron expression, e.g. "15 3 * * *"');

const TlsSchema = z
  .object({
    certFile: z.string().min(1),
    keyFile: z.string().min(1),
    caFile: z.string().min(1).optional(),
    /** TLS listener port of the embedded broker; 0 picks a free one. */
    port: z.number().int().min(0).max(65535).default(8883),
  })
  .strict();

const MqttSchema = z
  .object({
    mode: z.enum(['embedded', 'external']).default('embedded'),
    /** Embedded: address the broker binds; external: the broker's host when `url` is absent. */
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(1883),
    tls: TlsSchema.optional(),
    /** External mode: broker URL (mqtt:// or mqtts://); default mqtt://{host}:{port}. */
    url: z.string().url().optional(),
    /** External mode: fixed client id so the persistent session survives restarts. */
    clientId: z.string().min(1).optional(),
    username: z.string().optional(),
    password: z.string().optional(),
    /** External mode: keep-alive towards the broker, seconds. */
    keepaliveS: z.number().int().min(0).default(30),
    /** External mode: pause between reconnect attempts, ms. */
    reconnectPeriodMs: z.number().int().min(100).default(1000),
    /**
     * Embedded: largest MQTT packet accepted, bytes. A bigger one is refused as soon as its
     * fixed header announces it (connection closed), before its body is read.
     */
    maxPacketBytes: z
      .number()
      .int()
      .min(1024)
      .max(256 * 1024 * 1024)
      .default(128 * 1024), // 128 KiB
  })
  .strict();

const UnitAuthSchema = z
  .object({
    unitId: UnitIdSchema,
    secretHash: z.string().regex(SECRET_HASH_PATTERN, 'the output of `ironledger-edge hash-secret <secret>`'),
  })
  .strict();

const AuthSchema = z
  .object({
    /** units: username = unitId + per-unit secret, ACL per unit. open: anyone may publish (open sites). */
    mode: z.enum(['units', 'open']).default('units'),
    units: z.array(UnitAuthSchema).default([]),
  })
  .strict()
  .superRefine((a, ctx) => {
    const seen = new Set<string>();
    a.units.forEach((u, i) => {
      if (seen.has(u.unitId))
        ctx.addIssue({ code: 'custom', path: ['units', i, 'unitId'], message: `duplicate unit ${u.unitId}` });
      seen.add(u.unitId);
    });
  });

const BufferSchema = z
  .object({
    path: z.string().min(1).default('./var/edge.db'),
    /** Largest the buffer may grow (live pages), MiB; beyond it new QoS 1 publishes are refused. */
    diskBudgetMb: z.number().positive().default(1024),
    /** SQLite synchronous level; FULL makes every acknowledged reading survive power loss. */
    synchronous: z.enum(['FULL', 'EXTRA', 'NORMAL']).default('FULL'),
    /** Most readings committed in one transaction (group commit). */
    groupCommitMax: z.number().int().min(1).max(50_000).default(2000),
    /**
     * SQLite page cache of each connection to the file (the agent's and the forwarder thread's),
     * MiB. Pages beyond it are read again from the OS's file cache.
     */
    cacheMb: z.number().min(0.5).max(1024).default(2),
  })
  .strict();

const QuarantineSchema = z
  .object({
    /** Most quarantined messages kept; beyond it the oldest are evicted (counted). */
    maxEntries: z.number().int().min(1).max(1_000_000).default(10_000),
    /** Bytes of each quarantined payload kept; its full size and sha256 are kept too. */
    maxPayloadBytes: z
      .number()
      .int()
      .min(0)
      .max(64 * 1024)
      .default(4096), // 4 KiB
  })
  .strict();

const BackoffSchema = z
  .object({
    baseMs: z.number().int().min(1).default(500),
    capMs: z
      .number()
      .int()
      .min(1)
      .default(5 * 60 * 1000),
    /** Longest Retry-After the edge will honour, ms (a bigger one is clamped). */
    maxRetryAfterMs: z
      .number()
      .int()
      .min(0)
      .default(60 * 60 * 1000),
  })
  .strict();

const CloudSchema = z
  .object({
    url: z.string().url().default('http://127.0.0.1:8080'),
    token: z.string().min(1, 'the gateway token the cloud issued (IRONLEDGER_EDGE_CLOUD_TOKEN_FILE)'),
    batchSize: z.number().int().min(1).max(MAX_READINGS_PER_BATCH).default(1000),
    /** A reading waits at most this long for its batch to fill (ms); the latency bound of a quiet site. */
    maxBatchAgeMs: z.number().int().min(0).default(1000),
    /**
     * Requests in flight to the cloud at once (parts of one buffer batch). Keep it within the
     * cloud's `http.maxIngestsPerGateway` (default 4), or the extra requests are answered 503.
     */
    maxInFlight: z.number().int().min(1).max(16).default(4),
    timeoutMs: z.number().int().min(100).default(30_000),
    /**
     * Where the forwarder runs: `worker`, a thread of its own with its own connection to the
     * buffer (ingest and forwarding each use a core), or `main`, the thread that ingests (one
     * core, ~12 MB less memory). A thread that cannot start falls back to `main`.
     */
    forwarderThread: z.enum(['worker', 'main']).default('worker'),
    /**
     * The forwarder's thread ends after this long with nothing to send (~11 MB of memory back)
     * and starts again with the next reading; 0 keeps it running. `worker` only.
     */
    forwarderThreadIdleMs: z.number().int().min(0).default(30_000),
    heartbeatIntervalMs: z.number().int().min(100).default(60_000),
    /** PEM CA bundle that issued the cloud's certificate (https:// URL), beside the system CAs. */
    caFile: z.string().min(1).optional(),
    backoff: BackoffSchema.default(BackoffSchema.parse({})),
  })
  .strict();

const HttpSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(9464),
  })
  .strict();

const HousekeepingSchema = z
  .object({
    /** When sent rows, old quarantine and free pages are cleaned up. */
    schedule: cronExpr.default('*/15 * * * *'),
    /** Sent readings are kept this long (dedupe window for late resends), hours. */
    sentRetentionHours: z.number().min(0).default(72),
    quarantineRetentionDays: z.number().min(0).default(30),
    /** Incremental vacuum + WAL checkpoint (TRUNCATE). */
    vacuumSchedule: cronExpr.default('30 3 * * *'),
  })
  .strict();

export const EdgeConfigSchema = z
  .object({
    gatewayId: GatewayIdSchema,
    mqtt: MqttSchema.default(MqttSchema.parse({})),
    auth: AuthSchema.default(AuthSchema.parse({})),
    buffer: BufferSchema.default(BufferSchema.parse({})),
    quarantine: QuarantineSchema.default(QuarantineSchema.parse({})),
    cloud: CloudSchema,
    http: HttpSchema.default(HttpSchema.parse({})),
    housekeeping: HousekeepingSchema.default(HousekeepingSchema.parse({})),
    log: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      })
      .strict()
      .default({ level: 'info' }),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.mqtt.mode === 'external' && c.mqtt.tls) {
      ctx.addIssue({
        code: 'custom',
        path: ['mqtt', 'tls'],
        message: 'tls listener is for the embedded broker; use an mqtts:// url',
      });
    }
  });

export type EdgeConfig = z.output<typeof EdgeConfigSchema>;
export type EdgeConfigInput = z.input<typeof EdgeConfigSchema>;

export const ENV_PREFIX = 'IRONLEDGER_EDGE';

/** Short secret variables (`IRONLEDGER_EDGE_CLOUD_TOKEN_FILE`) beside the generic prefix rule. */
export const ENV_MAP: Record<string, string> = {
  IRONLEDGER_EDGE_CLOUD_TOKEN: 'cloud.token',
  IRONLEDGER_EDGE_MQTT_PASSWORD: 'mqtt.password',
};

export function loadEdgeConfig(file: string | undefined, env: NodeJS.ProcessEnv): Readonly<EdgeConfig> {
  // The short names (`IRONLEDGER_EDGE_CLOUD_TOKEN_FILE`) share the prefix but are not
  // prefix-rule names: keep them out of the generic pass so they never read as unknown keys.
  const generic: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) {
    const base = k.endsWith('_FILE') ? k.slice(0, -5) : k;
    if (!(base in ENV_MAP)) generic[k] = v;
  }
  const fromFile = file ? readConfigFile(file) : {};
  const merged = deepMerge(
    deepMerge(fromFile, envOverrides(generic, ENV_PREFIX)),
    envOverrides(env, undefined, ENV_MAP),
  );
  const result = EdgeConfigSchema.safeParse(merged);
  if (!result.success) {
    const lines = formatIssues(result.error.issues);
    throw new IronLedgerError(
      'CONFIG_INVALID',
      `invalid configuration${file ? ` (${file})` : ''}:\n  ${lines.join('\n  ')}`,
      {
        details: { problems: lines },
      },
    );
  }
  return deepFreeze(result.data);
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as Record<string, unknown>)) deepFreeze(v);
  }
  return o;
}

/** Validates an in-memory config (programmatic start, tests) with the same schema. */
export function parseEdgeConfig(input: EdgeConfigInput): EdgeConfig {
  return EdgeConfigSchema.parse(input);
}
