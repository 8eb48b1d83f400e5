import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CloudConfigSchema, loadCloudConfig } from './config.js';

const example = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'config.example.yaml');

describe('cloud config', () => {
  it('parses the example config', () => {
    const c = loadCloudConfig(example, {});
    expect(c.http.port).toBe(8080);
    expect(c.gateways[0]?.siteId).toBe('riverside');
    expect(c.sites[0]?.geofences).toHaveLength(2);
    expect(c.consolidation.cron).toBe('*/5 * * * *');
    expect(c.aemp.feeds[0]).toMatchObject({ feedId: 'feed-cat', dialect: 'iso', pollIntervalS: 900 });
    expect(c.aemp.feeds[0]?.auth.kind).toBe('oauth2');
  });

  it('has defaults for everything', () => {
    const c = CloudConfigSchema.parse({});
    expect(c.store.path).toBe('./var/cloud.db');
    expect(c.http.host).toBe('127.0.0.1');
  });

  it('applies environment overrides, including ODOO_* and *_FILE', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'il-cfg-'));
    fs.writeFileSync(path.join(dir, 'key'), 'secret-key\n');
    const c = loadCloudConfig(example, {
      IRONLEDGER_CLOUD_HTTP__PORT: '9090',
      IRONLEDGER_CLOUD_HTTP__MAX_CONCURRENT_INGESTS: '3',
      ODOO_URL: 'https://odoo.test',
      ODOO_DB: 'prod',
      ODOO_LOGIN: 'bot@example.com',
      ODOO_API_KEY_FILE: path.join(dir, 'key'),
    });
    expect(c.http.port).toBe(9090);
    expect(c.http.maxConcurrentIngests).toBe(3);
    expect(c.posting.odoo).toMatchObject({
      url: 'https://odoo.test',
      db: 'prod',
      login: 'bot@example.com',
      apiKey: 'secret-key',
    });
    // An incomplete Odoo connection names the missing key.
    expect(() => loadCloudConfig(example, { ODOO_URL: 'https://odoo.test' })).toThrow(/posting\.odoo\.db/);
  });

  it('names the key of every problem', () => {
    expect(() => loadCloudConfig(example, { IRONLEDGER_CLOUD_HTTP__PORT: 'eighty' })).toThrow(/http\.port/);
    expect(() => CloudConfigSchema.parse({ gateways: [{ gatewayId: 'g', tokenHash: 'x' }] })).toThrow(
      /sha256/,
    );
    const r = CloudConfigSchema.safeParse({
      gateways: [{ gatewayId: 'g', tokenHash: `sha256:${'a'.repeat(64)}`, siteId: 'nowhere' }],
    });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toContain('unknown site nowhere');
    expect(CloudConfigSchema.safeParse({ htp: {} }).success).toBe(false);
  });
});
