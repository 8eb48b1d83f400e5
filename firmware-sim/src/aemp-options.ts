/** `--serve-aemp` and its options (see aemp-feed-server.ts); parsed with the others in options.ts. */
import {
  AEMP_DIALECT_NAMES,
  type AempDialect,
  type AempDialectName,
  aempDialect,
} from '@ironledger/contracts';

export const AEMP_STRING_FLAGS = [
  'dialect',
  'aemp-host',
  'aemp-port',
  'aemp-quota',
  'aemp-url-interval',
  'aemp-page-size',
  'aemp-series-page-size',
  'aemp-basic',
  'aemp-token',
] as const;

export const AEMP_USAGE = `AEMP feed (instead of MQTT)
  --serve-aemp                serve the fleet as an ISO 15143-3 (AEMP 2.0) feed until stopped
  --dialect <d>               ${AEMP_DIALECT_NAMES.join(' | ')} (default iso)
  --aemp-host <h>             address to bind (default 127.0.0.1)
  --aemp-port <p>             port (default 0: a free one; the aemp.ready line says which)
  --aemp-quota <n>/<dur>      requests per client per window, e.g. 50/1s (default 50/1s)
  --aemp-url-interval <dur>   one request per URL per this long (default 15m)
  --aemp-page-size <n>        machines per fleet page (default 100)
  --aemp-series-page-size <n> instants per time-series page (default 100)
  --aemp-basic <user:pass>    require HTTP Basic with these credentials
  --aemp-token <t>            require this Bearer token
`;

export interface AempServeFlags {
  dialect: AempDialect;
  dialectName: AempDialectName;
  host: string;
  port: number;
  quota: { requests: number; perMs: number; urlIntervalMs: number };
  pageSize: number;
  seriesPageSize: number;
  basic: string | null;
  token: string | null;
}

/**
 * The AEMP options, or null without --serve-aemp. `fail` raises the caller's usage error;
 * `duration` parses 30s/5m/1h like every other duration flag.
 */
export function parseAempFlags(
  serve: boolean,
  s: (flag: (typeof AEMP_STRING_FLAGS)[number]) => string | undefined,
  duration: (flag: string, value: string) => number,
  fail: (message: string) => never,
): AempServeFlags | null {
  if (!serve) {
    for (const f of AEMP_STRING_FLAGS) if (s(f) !== undefined) fail(`--${f}: only with --serve-aemp`);
    return null;
  }
  const name = (s('dialect') ?? 'iso') as AempDialectName;
  if (!AEMP_DIALECT_NAMES.includes(name))
    fail(`--dialect: "${name}" is not one of ${AEMP_DIALECT_NAMES.join(', ')}`);
  const port = Number(s('aemp-port') ?? '0');
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    fail(`--aemp-port: "${s('aemp-port')}" is not a port`);
  const q = /^(\d+)\/(.+)$/.exec(s('aemp-quota') ?? '50/1s');
  const requests = q ? Number(q[1]) : 0;
  if (!q || requests < 1) fail(`--aemp-quota: "${s('aemp-quota')}" is not <requests>/<duration>, e.g. 50/1s`);
  const perMs = duration('aemp-quota', (q as RegExpExecArray)[2] as string);
  if (perMs <= 0) fail('--aemp-quota: the window must be positive');
  const pageSize = Number(s('aemp-page-size') ?? '100');
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 10_000)
    fail(`--aemp-page-size: "${s('aemp-page-size')}" is not a whole number from 1 to 10000`);
  const seriesPageSize = Number(s('aemp-series-page-size') ?? '100');
  if (!Number.isInteger(seriesPageSize) || seriesPageSize < 1 || seriesPageSize > 10_000)
    fail(`--aemp-series-page-size: "${s('aemp-series-page-size')}" is not a whole number from 1 to 10000`);
  const basic = s('aemp-basic') ?? null;
  if (basic !== null && !/^[^:]+:.+$/.test(basic)) fail('--aemp-basic: give user:password');
  return {
    dialect: aempDialect(name),
    dialectName: name,
    host: s('aemp-host') ?? '127.0.0.1',
    port,
    quota: { requests, perMs, urlIntervalMs: duration('aemp-url-interval', s('aemp-url-interval') ?? '15m') },
    pageSize,
    seriesPageSize,
    basic,
    token: s('aemp-token') ?? null,
  };
}
