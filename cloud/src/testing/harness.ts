/**
 * Starts a real cloud (HTTP on port 0, SQLite in a temp dir) for integration tests, with
 * gateways gw1/gw2 on site LDN (Europe/London), units EXC-1/EXC-2, a class rate, and tokens
 * for each role. Talks to it over HTTP with undici, gzip included.
 */
import { gzipSync } from 'node:zlib';
import { type Logger, silentLogger } from '@ironledger/logger';
import { createPgSchema, createTempPgDatabase, requirePg, tempDir } from '@ironledger/testkit';
import { request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { type RunningCloud, type StartCloudOptions, startCloud } from '../app.js';
import { type CloudConfigInput, parseCloudConfig } from '../config.js';
import { hashToken } from '../http/auth.js';

export const TOKENS = {
  gw1: 'gw1-secret',
  gw2: 'gw2-secret',
  viewer: 'viewer-secret',
  approver: 'approver-secret',
  admin: 'admin-secret',
} as const;

/**
 * A suite that runs these clouds on PostgreSQL sets the database here (null: SQLite files).
 * Each test directory then gets a schema of its own in that database, so clouds started on
 * the same `dir` share a store (replicas) and other tests start empty.
 */
let postgresUrl: string | null = null;
const schemas = new Map<string, string>();
export function useTestPostgres(url: string | null): void {
  postgresUrl = url;
}
/** Clouds `startTestCloud` has started, by the store they ran on. */
const started = { postgres: 0, sqlite: 0 };

/**
 * A test file's twin on PostgreSQL: one throwaway database for it, a schema per test's cloud,
 * and then `load()` imports the SQLite file's tests. Without a server (IRONLEDGER_TEST_PG_SKIP=1)
 * one test is reported skipped, never passed, and null is returned; else a count of the clouds
 * the loaded tests have started so far, by store, for the twin to check none ran on a file.
 */
export async function onTestPostgres(
  title: string,
  load: () => Promise<unknown>,
): Promise<(() => { postgres: number; sqlite: number }) | null> {
  const pgOn = await requirePg();
  if (!pgOn) {
    describe.skip(`${title} on postgres (IRONLEDGER_TEST_PG_SKIP=1)`, () => {
      it('runs on PostgreSQL', () => expect(pgOn).toBe(true));
    });
    return null;
  }
  const before = { ...started };
  const db = await createTempPgDatabase();
  useTestPostgres(db.url);
  afterAll(async () => {
    useTestPostgres(null);
    await db.drop();
  });
  await load();
  return () => ({ postgres: started.postgres - before.postgres, sqlite: started.sqlite - before.sqlite });
}

async function postgresStoreFor(dir: string): Promise<{ url: string } | null> {
  if (!postgresUrl) return null;
  let url = schemas.get(dir);
  if (!url) {
    url = await createPgSchema(postgresUrl, `cloud_${schemas.size}_${process.pid}`);
    schemas.set(dir, url);
  }
  return { url };
}

export function baseConfig(dir: string, extra: Partial<CloudConfigInput> = {}): CloudConfigInput {
  return {
    http: { port: 0 },
    store: { path: `${dir}/cloud.db` },
    gateways: [
      { gatewayId: 'gw1', tokenHash: hashToken(TOKENS.gw1), siteId: 'LDN' },
      { gatewayId: 'gw2', tokenHash: hashToken(TOKENS.gw2), siteId: 'LDN' },
    ],
    auth: {
      tokens: [
        { name: 'vera', role: 'viewer', tokenHash: hashToken(TOKENS.viewer) },
        { name: 'alex', role: 'approver', tokenHash: hashToken(TOKENS.approver) },
      ],
    },
    sites: [{ siteId: 'LDN', timeZone: 'Europe/London', defaultProjectId: 'P-LDN', geofences: [] }],
    projects: [{ projectId: 'P-LDN', name: 'London' }],
    units: [
      { unitId: 'EXC-1', equipmentClass: 'excavator', serialNo: 'SN-1' },
      { unitId: 'EXC-2', equipmentClass: 'excavator' },
    ],
    rates: [
      {
        rateId: 'R-EXC',
        equipmentClass: 'excavator',
        workingRateMinor: 10_000,
        idleRateMinor: 2_000,
        currency: 'EUR',
        effectiveFrom: '2020-01-01',
      },
    ],
    consolidation: { cron: '' },
    posting: { journalPath: `${dir}/journal.jsonl` },
    log: { level: 'silent' },
    ...extra,
  };
}

export interface TestCloud {
  cloud: RunningCloud;
  url: string;
  dir: string;
  postBatch(
    body: unknown,
    opts?: { token?: string; gzip?: boolean; headers?: Record<string, string> },
  ): Promise<Answer>;
  api(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown, token?: string): Promise<Answer>;
  stop(): Promise<void>;
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: any;
}

export async function startTestCloud(
  opts: {
    dir?: string;
    config?: Partial<CloudConfigInput>;
    now?: () => number;
    logger?: Logger;
    /** More options for startCloud (a replica id, a wrapped store). */
    cloud?: Partial<StartCloudOptions>;
  } = {},
): Promise<TestCloud> {
  const dir = opts.dir ?? tempDir('ironledger-cloud-');
  const pgStore = await postgresStoreFor(dir);
  const input = baseConfig(dir, opts.config);
  const config = parseCloudConfig(pgStore ? { ...input, store: { ...input.store, ...pgStore } } : input);
  started[config.store.url ? 'postgres' : 'sqlite']++;
  const cloud = await startCloud(config, {
    logger: opts.logger ?? silentLogger(),
    adminToken: TOKENS.admin,
    now: opts.now,
    ...opts.cloud,
  });
  const send = async (
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    payload: Buffer | undefined,
    headers: Record<string, string>,
  ): Promise<Answer> => {
    const res = await request(`${cloud.url}${path}`, { method, body: payload, headers });
    const text = await res.body.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = text;
    }
    return { status: res.statusCode, headers: res.headers, json };
  };
  return {
    cloud,
    url: cloud.url,
    dir,
    postBatch: (body, o = {}) => {
      const raw = Buffer.isBuffer(body)
        ? body
        : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
      const gzip = o.gzip ?? true;
      return send('POST', '/v1/batches', gzip ? gzipSync(raw) : raw, {
        authorization: `Bearer ${o.token ?? TOKENS.gw1}`,
        'content-type': 'application/json',
        ...(gzip ? { 'content-encoding': 'gzip' } : {}),
        ...o.headers,
      });
    },
    api: (method, path, body, token = TOKENS.admin) =>
      send(method, path, body === undefined ? undefined : Buffer.from(JSON.stringify(body)), {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      }),
    stop: () => cloud.stop(),
  };
}

let batchSeq = 0;
/** A Contract 2 batch of readings `[unitId, iso ts, engineHours, idleHours?]`. */
export function batch(
  readings: Array<[string, string, number, number?]>,
  opts: { gatewayId?: string; batchId?: string; extra?: Record<string, unknown> } = {},
) {
  return {
    gatewayId: opts.gatewayId ?? 'gw1',
    batchId: opts.batchId ?? `b-${process.pid}-${++batchSeq}`,
    readings: readings.map(([unitId, ts, engineHours, idleHours]) => ({
      v: 1,
      unitId,
      ts,
      engineHours,
      ...(idleHours === undefined ? {} : { idleHours }),
      receivedAt: ts,
      ...opts.extra,
    })),
  };
}
