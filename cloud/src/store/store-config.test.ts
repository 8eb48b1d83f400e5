import { describe, expect, it } from 'vitest';
import { CloudConfigSchema, loadCloudConfig } from '../config.js';
import { redactPgUrl, storeBackend, storeLocation } from './migrate.js';

describe('store config', () => {
  it('defaults to SQLite and chooses PostgreSQL by store.url, DATABASE_URL or the prefixed variable', () => {
    const d = CloudConfigSchema.parse({});
    expect(storeBackend(d.store)).toBe('sqlite');
    expect(d.store).toMatchObject({
      url: '',
      poolMax: 10,
      migrateOnStart: true,
      statementTimeoutMs: 60_000,
      consolidationLeaseMs: 120_000,
      postingLeaseMs: 600_000,
    });
    const url = 'postgres://app:s3cret@db.internal:5432/ironledger';
    const viaEnv = loadCloudConfig(undefined, { DATABASE_URL: url });
    expect(storeBackend(viaEnv.store)).toBe('postgres');
    expect(loadCloudConfig(undefined, { IRONLEDGER_CLOUD_STORE__URL: url }).store.url).toBe(url);
    expect(storeLocation(viaEnv.store)).toBe('postgres://app:***@db.internal:5432/ironledger');
    expect(redactPgUrl('not a url')).not.toContain('not a url');
  });

  it('names store.url when it is not a PostgreSQL URL', () => {
    expect(() => loadCloudConfig(undefined, { IRONLEDGER_CLOUD_STORE__URL: 'mysql://x' })).toThrow(
      /store\.url/,
    );
    expect(() => loadCloudConfig(undefined, { IRONLEDGER_CLOUD_STORE__POOL_MAX: '0' })).toThrow(
      /store\.poolMax/,
    );
  });
});
