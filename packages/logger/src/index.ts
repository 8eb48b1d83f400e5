/**
 * pino JSON logs with base fields {service, version, ...}, a child logger per component and
 * redaction of secrets. Every log line that concerns a reading or batch carries a stable
 * `event` field and the correlation fields (`unitId`, `ts`, `batchId`, `allocationKey`).
 */
import { randomUUID } from 'node:crypto';
import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/** Paths never written to logs. */
export const REDACT_PATHS = [
  'password',
  'token',
  'secret',
  'apiKey',
  'authorization',
  'Authorization',
  '*.password',
  '*.token',
  '*.secret',
  '*.apiKey',
  '*.authorization',
  '*.Authorization',
  'headers.authorization',
  'req.headers.authorization',
  '*.*.password',
  '*.*.token',
  '*.*.secret',
  '*.*.apiKey',
];

export interface CreateLoggerOptions {
  service: string;
  version?: string;
  level?: string;
  /** Extra base fields, e.g. { gatewayId }. */
  base?: Record<string, unknown>;
  destination?: DestinationStream;
}

export function createLogger(opts: CreateLoggerOptions): Logger {
  const options: LoggerOptions = {
    level: opts.level ?? process.env.LOG_LEVEL ?? 'info',
    base: { service: opts.service, version: opts.version ?? '0.0.0', ...opts.base },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}

/** A child logger for one component: every line carries `component`. */
export function componentLogger(
  parent: Logger,
  component: string,
  fields: Record<string, unknown> = {},
): Logger {
  return parent.child({ component, ...fields });
}

/** A fresh correlation id for work that has no natural key (a CLI run, a posting run). */
export function newCorrelationId(prefix = 'run'): string {
  return `${prefix}-${randomUUID()}`;
}

/** A logger that writes nothing, for pure code paths and unit tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

export {
  REFUSAL_LIMIT_DEFAULTS,
  type RefusalLimits,
  RefusalLog,
  type RefusalLogOptions,
} from './refusals.js';
