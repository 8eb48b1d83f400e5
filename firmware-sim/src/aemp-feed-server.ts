/**
 * `ironledger-sim --serve-aemp`: the simulated fleet as a maker's ISO 15143-3 (AEMP 2.0) feed,
 * in a chosen dialect, so AEMP-only machines can be run end to end against the truth file.
 *
 *   GET {base}/Fleet/{page}                                              snapshot: each machine's latest reading
 *   GET {base}/Fleet/Equipment/{id}                                      one machine
 *   GET {base}/Fleet/Equipment/{id}/{element}/{startUTC}/{endUTC}/{page} time series of one element
 *
 * A reading is on the feed once the sim clock has passed the instant the unit would have
 * sent it (`dueMs`), so a feed polled while the day runs shows it growing as a maker's does.
 * The quota is a maker's: at most `requests` per `perMs` per client, and one request per URL
 * per `urlIntervalMs`; past either the answer is 429 with Retry-After (whole seconds) and
 * X-RateLimit-Remaining. EquipmentID is the maker's (`M-` + serial number); SerialNumber and
 * PIN carry the serial number the cloud matches units by.
 */
import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  AEMP_ELEMENTS,
  type AempDialect,
  type AempElement,
  type AempHeader,
  type Reading,
  renderAempDocument,
  renderAempIndex,
} from '@ironledger/contracts';
import type { Logger } from '@ironledger/logger';
import { type FleetPlan, unitMessages } from './plan.js';

export interface AempServeOptions {
  plan: FleetPlan;
  dialect: AempDialect;
  host: string;
  port: number;
  /** Sim instant now (ms): readings due by then are on the feed. */
  simNow: () => number;
  quota: { requests: number; perMs: number; urlIntervalMs: number };
  /** Machines per fleet page, and instants per time-series page. */
  pageSize: number;
  seriesPageSize: number;
  /** `user:password` for HTTP Basic, or a Bearer token; none: open. */
  auth: { basic?: string | null; token?: string | null };
  logger: Logger;
  now?: () => number;
}

export interface AempFeedServer {
  url: string;
  port: number;
  /** Requests answered, and of those 429. */
  stats(): { requests: number; rateLimited: number };
  close(): Promise<void>;
}

interface Machine {
  unitId: string;
  header: AempHeader;
  /** Distinct readings by ts, each with the sim instant it is due. */
  readings: Array<{ dueMs: number; reading: Reading }>;
}

const BASE = '/aemp/2.0';
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

/** The feed's machines from the plan: every unit's readings as it would publish them. */
export function feedMachines(plan: FleetPlan): Machine[] {
  const canonical: FleetPlan = {
    ...plan,
    units: plan.units.map((u) => ({ ...u, format: 'canonical' as const })),
  };
  return canonical.units.map((u) => {
    const byTs = new Map<string, { dueMs: number; reading: Reading }>();
    for (const m of unitMessages(u, canonical)) {
      if (m.kind !== 'reading' || m.ts === null || byTs.has(m.ts)) continue;
      byTs.set(m.ts, { dueMs: m.dueMs, reading: JSON.parse(m.payload) as Reading });
    }
    const serial = u.unit.serialNo ?? u.unit.unitId;
    return {
      unitId: u.unit.unitId,
      header: {
        OEMName: u.profile.oem,
        Model: u.profile.model,
        EquipmentID: `M-${serial}`,
        SerialNumber: serial,
        PIN: serial,
      },
      readings: [...byTs.values()].sort((a, b) => cmp(a.reading.ts, b.reading.ts)),
    };
  });
}

export async function startAempFeedServer(o: AempServeOptions): Promise<AempFeedServer> {
  const now = o.now ?? Date.now;
  const machines = feedMachines(o.plan).sort((a, b) => cmp(a.header.EquipmentID!, b.header.EquipmentID!));
  const byId = new Map(machines.map((m) => [m.header.EquipmentID!, m]));
  const d = o.dialect;
  const bucket = { tokens: o.quota.requests, atMs: now() };
  const lastByUrl = new Map<string, number>();
  let requests = 0;
  let rateLimited = 0;

  const available = (m: Machine) => {
    const t = o.simNow();
    return m.readings.filter((r) => r.dueMs <= t).map((r) => r.reading);
  };

  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    requests++;
    const url = req.url ?? '/';
    const fail = (status: number, message: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers }).end(`${message}\n`);
    };
    if (req.method !== 'GET') return fail(405, 'GET only', { allow: 'GET' });
    if (!authorised(req.headers.authorization, o.auth))
      return fail(401, 'unauthorised', {
        'www-authenticate': o.auth.basic ? 'Basic realm="aemp"' : 'Bearer',
      });
    // The quota: a per-client bucket, then one request per URL per interval.
    const t = now();
    bucket.tokens = Math.min(
      o.quota.requests,
      bucket.tokens + ((t - bucket.atMs) * o.quota.requests) / o.quota.perMs,
    );
    bucket.atMs = t;
    const last = lastByUrl.get(url);
    let waitMs = 0;
    if (bucket.tokens < 1) waitMs = ((1 - bucket.tokens) * o.quota.perMs) / o.quota.requests;
    if (last !== undefined && t - last < o.quota.urlIntervalMs)
      waitMs = Math.max(waitMs, o.quota.urlIntervalMs - (t - last));
    if (waitMs > 0) {
      rateLimited++;
      return fail(429, 'quota exceeded', {
        'retry-after': String(Math.max(1, Math.ceil(waitMs / 1000))),
        'x-ratelimit-remaining': '0',
      });
    }
    bucket.tokens -= 1;
    lastByUrl.set(url, t);
    const headers = {
      'content-type':
        d.format === 'json' ? 'application/json; charset=utf-8' : 'application/xml; charset=utf-8',
      'x-ratelimit-limit': String(o.quota.requests),
      'x-ratelimit-remaining': String(Math.floor(bucket.tokens)),
    };
    const base = `http://${req.headers.host ?? `${o.host}`}${BASE}`;
    const snapshotTime = new Date(Math.min(o.simNow(), o.plan.endMs)).toISOString();
    const path = url.split('?')[0] ?? '';

    const fleet = /^\/aemp\/2\.0\/Fleet\/(\d{1,9})$/.exec(path);
    if (fleet) {
      const page = Number(fleet[1]);
      const dataFirst = d.indexPage ? 1 : d.firstPage;
      const pages = Math.max(1, Math.ceil(machines.length / o.pageSize));
      const lastPage = dataFirst + pages - 1;
      if (d.indexPage && page === 0)
        return res.writeHead(200, headers).end(
          renderAempIndex(
            {
              snapshotTime,
              links: {
                self: `${base}/Fleet/0`,
                next: `${base}/Fleet/1`,
                last: `${base}/Fleet/${lastPage}`,
              },
              pages,
            },
            d,
          ),
        );
      if (page < dataFirst || page > lastPage) return fail(404, `no page ${page}`);
      const slice = machines.slice((page - dataFirst) * o.pageSize, (page - dataFirst + 1) * o.pageSize);
      const links: Record<string, string> = {
        self: `${base}/Fleet/${page}`,
        last: `${base}/Fleet/${lastPage}`,
      };
      if (page > dataFirst) links.prev = `${base}/Fleet/${page - 1}`;
      if (page < lastPage) links.next = `${base}/Fleet/${page + 1}`;
      return res.writeHead(200, headers).end(
        renderAempDocument(
          {
            snapshotTime,
            links,
            equipment: slice.map((m) => ({ header: m.header, readings: available(m).slice(-1) })),
          },
          d,
        ),
      );
    }
    const one = /^\/aemp\/2\.0\/Fleet\/Equipment\/([^/]+)$/.exec(path);
    if (one) {
      const m = byId.get(decodeURIComponent(one[1]!));
      if (!m) return fail(404, 'no such equipment');
      return res
        .writeHead(200, headers)
        .end(
          renderAempDocument(
            { snapshotTime, links: {}, equipment: [{ header: m.header, readings: available(m).slice(-1) }] },
            d,
          ),
        );
    }
    const series = /^\/aemp\/2\.0\/Fleet\/Equipment\/([^/]+)\/([A-Za-z]+)\/([^/]+)\/([^/]+)\/(\d{1,9})$/.exec(
      path,
    );
    if (series) {
      const [, id, element, start, end, pageS] = series as unknown as [
        string,
        string,
        string,
        string,
        string,
        string,
      ];
      const m = byId.get(decodeURIComponent(id));
      if (!m) return fail(404, 'no such equipment');
      if (!(AEMP_ELEMENTS as readonly string[]).includes(element)) return fail(400, 'unknown element');
      const s = decodeURIComponent(start);
      const e = decodeURIComponent(end);
      if (!INSTANT.test(s) || !INSTANT.test(e)) return fail(400, 'startUTC and endUTC are ISO 8601 instants');
      const fromMs = Date.parse(s);
      const toMs = Date.parse(e);
      const list = available(m).filter((r) => {
        const ms = Date.parse(r.ts);
        return ms >= fromMs && ms <= toMs;
      });
      const page = Number(pageS);
      const i = page - d.firstPage;
      if (i < 0) return fail(404, `no page ${page}`);
      const links: Record<string, string> = {
        self: `${base}/Fleet/Equipment/${id}/${element}/${start}/${end}/${page}`,
      };
      if ((i + 1) * o.seriesPageSize < list.length)
        links.next = `${base}/Fleet/Equipment/${id}/${element}/${start}/${end}/${page + 1}`;
      if (i > 0) links.prev = `${base}/Fleet/Equipment/${id}/${element}/${start}/${end}/${page - 1}`;
      return res.writeHead(200, headers).end(
        renderAempDocument(
          {
            snapshotTime,
            links,
            equipment: [
              {
                header: m.header,
                readings: list.slice(i * o.seriesPageSize, (i + 1) * o.seriesPageSize),
                elements: [element as AempElement],
              },
            ],
          },
          d,
        ),
      );
    }
    return fail(404, 'no such route');
  };

  const server = http.createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${o.host}:${port}${BASE}`;
  o.logger.info(
    { event: 'aemp.serving', url, machines: machines.length },
    'serving the fleet as an AEMP feed',
  );
  return {
    url,
    port,
    stats: () => ({ requests, rateLimited }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function authorised(header: string | undefined, auth: AempServeOptions['auth']): boolean {
  if (!auth.basic && !auth.token) return true;
  if (!header) return false;
  if (auth.basic && header.startsWith('Basic '))
    return same(Buffer.from(header.slice(6).trim(), 'base64').toString('utf8'), auth.basic);
  if (auth.token && header.startsWith('Bearer ')) return same(header.slice(7).trim(), auth.token);
  return false;
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The `--serve-aemp` run: plans the fleet as for MQTT, writes the truth file first, serves
 * until `signal` aborts. The sim clock starts at the window's start when serving begins and
 * runs at `speed` (as fast as possible: the whole window is on the feed at once). Writes one
 * `{"event":"aemp.ready","url"}` line to stdout when listening.
 */
export async function runAempFeed(o: {
  plan: FleetPlan;
  truthFile: string | null;
  writeTruth: (file: string, plan: FleetPlan) => void;
  flags: import('./aemp-options.js').AempServeFlags;
  speed: number | null;
  logger: Logger;
  signal: AbortSignal;
}): Promise<number> {
  if (o.truthFile) o.writeTruth(o.truthFile, o.plan);
  const realStart = Date.now();
  const simNow = () =>
    o.speed === null
      ? o.plan.endMs
      : Math.min(o.plan.endMs, o.plan.startMs + (Date.now() - realStart) * o.speed);
  const server = await startAempFeedServer({
    plan: o.plan,
    dialect: o.flags.dialect,
    host: o.flags.host,
    port: o.flags.port,
    simNow,
    quota: o.flags.quota,
    pageSize: o.flags.pageSize,
    seriesPageSize: o.flags.seriesPageSize,
    auth: { basic: o.flags.basic, token: o.flags.token },
    logger: o.logger,
  });
  process.stdout.write(
    `${JSON.stringify({ event: 'aemp.ready', url: server.url, port: server.port, dialect: o.flags.dialectName, start: new Date(o.plan.startMs).toISOString(), end: new Date(o.plan.endMs).toISOString() })}\n`,
  );
  if (!o.signal.aborted)
    await new Promise<void>((resolve) => o.signal.addEventListener('abort', () => resolve(), { once: true }));
  await server.close();
  process.stdout.write(`${JSON.stringify({ event: 'aemp.summary', ...server.stats() })}\n`);
  return 0;
}
