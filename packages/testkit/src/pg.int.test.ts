import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTempPgDatabase, redactUrl, requirePg, testPgUrl, withDatabase } from './pg.js';

const enabled = await requirePg();

describe.skipIf(!enabled)('createTempPgDatabase', () => {
  const admin = new pg.Client({ connectionString: testPgUrl() });
  beforeAll(() => admin.connect());
  afterAll(() => admin.end());

  const exists = async (name: string) =>
    (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1;

  it('creates an empty database of its own and drops it, even with a connection still open', async () => {
    const a = await createTempPgDatabase();
    const b = await createTempPgDatabase();
    expect(a.name).not.toBe(b.name);
    expect(await exists(a.name)).toBe(true);
    const c = new pg.Client({ connectionString: a.url });
    await c.connect();
    c.on('error', () => {}); // the forced drop ends this session
    await c.query('CREATE TABLE t (x int)');
    const tables = await c.query("SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'");
    expect(tables.rows[0].n).toBe(1);
    await a.drop();
    await a.drop(); // idempotent
    await b.drop();
    expect(await exists(a.name)).toBe(false);
    expect(await exists(b.name)).toBe(false);
    await c.end().catch(() => {});
  });
});

describe('pg url helpers', () => {
  it('swaps the database and hides the password', () => {
    const u = withDatabase('postgres://u:secret@127.0.0.1:5432/postgres?sslmode=disable', 'x_1');
    expect(u).toBe('postgres://u:secret@127.0.0.1:5432/x_1?sslmode=disable');
    expect(redactUrl(u)).not.toContain('secret');
  });

  it('refuses to pass when the server is absent unless the skip is explicit', async () => {
    const env = { IRONLEDGER_TEST_PG_URL: 'postgres://x:y@127.0.0.1:1/none' };
    await expect(requirePg(env)).rejects.toThrow(/not reachable/);
    await expect(requirePg({ ...env, IRONLEDGER_TEST_PG_SKIP: '1' })).resolves.toBe(false);
  });
});
