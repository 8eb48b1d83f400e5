/**
 * Versioned migrations for both stores, applied by `ironledger-cloud migrate` (the real
 * process) and by replicas starting together (an advisory lock: each migration runs once).
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  BIN,
  createTempPgDatabase,
  requirePg,
  spawnNode,
  type TempPgDatabase,
  tempDir,
} from '@ironledger/testkit';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { parseCloudConfig } from '../config.js';
import { migrateStore, storeSchemaVersion } from './migrate.js';
import { migratePostgres, PG_SCHEMA_VERSION } from './postgres/migrations.js';
import { createPgClient } from './postgres/pool.js';
import { MIGRATIONS } from './sqlite/migrations.js';

const pgOn = await requirePg();
const dbs: TempPgDatabase[] = [];
afterEach(async () => {
  while (dbs.length) await dbs.pop()!.drop();
});

async function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  const p = spawnNode(BIN.cloud, args, { env });
  const code = await p.exited;
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

describe('ironledger-cloud migrate (SQLite)', () => {
  // Each spawns the real binary several times: generous on a loaded machine.
  it('creates the schema at its latest version, then finds it current', { timeout: 120_000 }, async () => {
    const dir = tempDir();
    const file = path.join(dir, 'cloud.yaml');
    const dbPath = path.join(dir, 'var', 'cloud.db');
    fs.writeFileSync(file, YAML.stringify({ store: { path: dbPath } }));
    const first = await run(['migrate', '--config', file]);
    expect(first).toMatchObject({ code: 0 });
    expect(first.stdout).toContain(`schema 0 → ${MIGRATIONS.length}`);
    const db = new Database(dbPath, { readonly: true });
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    db.close();
    expect((await run(['migrate', '--config', file])).stdout).toContain(
      `schema ${MIGRATIONS.length} is current`,
    );
    expect((await run(['--help'])).stdout).toMatch(/migrate --config/);
  });
});

describe.skipIf(!pgOn)('PostgreSQL migrations', () => {
  it('ironledger-cloud migrate applies them once, with the URL from DATABASE_URL, and never prints the password', {
    timeout: 120_000,
  }, async () => {
    const db = await createTempPgDatabase();
    dbs.push(db);
    const dir = tempDir();
    const file = path.join(dir, 'cloud.yaml');
    fs.writeFileSync(file, YAML.stringify({}));
    const first = await run(['migrate', '--config', file], { DATABASE_URL: db.url });
    expect(first.stderr).toBe('');
    expect(first).toMatchObject({ code: 0 });
    expect(first.stdout).toContain(`store postgres`);
    expect(first.stdout).toContain(`schema 0 → ${PG_SCHEMA_VERSION}`);
    const password = new URL(db.url).password;
    if (password) expect(first.stdout).not.toContain(`:${password}@`);
    const again = await run(['migrate', '--config', file], { IRONLEDGER_CLOUD_STORE__URL: db.url });
    expect(again.stdout).toContain(`schema ${PG_SCHEMA_VERSION} is current`);
    const config = parseCloudConfig({ store: { url: db.url } });
    expect(await storeSchemaVersion(config.store)).toEqual({
      version: PG_SCHEMA_VERSION,
      latest: PG_SCHEMA_VERSION,
    });
  });

  it('replicas migrating at the same moment apply each migration exactly once', async () => {
    const db = await createTempPgDatabase();
    dbs.push(db);
    const clients = Array.from({ length: 4 }, () => createPgClient(db.url));
    await Promise.all(clients.map((c) => c.connect()));
    try {
      const reports = await Promise.all(clients.map((c) => migratePostgres(c)));
      // One of them applied everything; the others waited on the lock and found it done.
      expect(reports.filter((r) => r.applied.length > 0)).toHaveLength(1);
      expect(reports.every((r) => r.to === PG_SCHEMA_VERSION)).toBe(true);
      const rows = await clients[0]!.query('SELECT version FROM schema_migrations ORDER BY version');
      expect(rows.rows.map((r) => r.version)).toEqual(
        Array.from({ length: PG_SCHEMA_VERSION }, (_, i) => i + 1),
      );
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  });

  it('refuses the unit-lock migration while replicas of an older build are connected, and names them', {
    timeout: 60_000,
  }, async () => {
    const db = await createTempPgDatabase();
    dbs.push(db);
    const self = createPgClient(db.url);
    await self.connect();
    // A database as a build before schema 4 left it, with one of its replicas still connected
    // (such builds connect as plain `ironledger-cloud`), and a replica of this build waiting.
    expect((await migratePostgres(self, { upTo: 3 })).to).toBe(3);
    const older = new pg.Client({ connectionString: db.url, application_name: 'ironledger-cloud' });
    const peer = createPgClient(db.url);
    await Promise.all([older.connect(), peer.connect()]);
    try {
      const olderPid = (await older.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
      const refused = await migratePostgres(self).catch((e: Error) => e);
      expect(refused).toBeInstanceOf(Error);
      expect((refused as Error).message).toContain('migration 4');
      expect((refused as Error).message).toContain('stopped first');
      expect((refused as Error).message).toContain(`pids ${olderPid} `);
      // Nothing of it applied.
      const v = await self.query('SELECT max(version) AS v FROM schema_migrations');
      expect(v.rows[0].v).toBe(3);
      expect((await self.query("SELECT to_regclass('unit_locks') AS t")).rows[0].t).toBeNull();
      // The operator stops the older replica; the same command now goes through, although a
      // replica of this build is connected.
      await older.end();
      const report = await migratePostgres(self);
      expect(report).toMatchObject({ from: 3, to: PG_SCHEMA_VERSION });
      expect(report.applied.map((a) => a.version)).toContain(4);
    } finally {
      await Promise.all([self.end(), peer.end(), older.end().catch(() => {})]);
    }
  });

  it('parses BIGINT counts as numbers, not strings', async () => {
    const db = await createTempPgDatabase();
    dbs.push(db);
    const config = parseCloudConfig({ store: { url: db.url } });
    await migrateStore(config.store);
    const c = createPgClient(db.url);
    await c.connect();
    try {
      const r = await c.query('SELECT (SELECT count(*) FROM batches) AS n, 9007199254740991::bigint AS big');
      expect(r.rows[0]).toEqual({ n: 0, big: Number.MAX_SAFE_INTEGER });
    } finally {
      await c.end();
    }
    // The plain driver would have said '0'.
    const plain = new pg.Client({ connectionString: db.url });
    await plain.connect();
    expect((await plain.query('SELECT count(*) AS n FROM batches')).rows[0].n).toBe('0');
    await plain.end();
  });
});
