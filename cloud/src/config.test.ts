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

  it('checks the AEMP feeds: http(s) URLs, known dialects, ids apart from gateways', () => {
    const feed = { feedId: 'feed-a', url: 'https://oem.example/aemp' };
    expect(CloudConfigSchema.safeParse({ aemp: { feeds: [feed] } }).success).toBe(true);
    const problems = (input: unknown) =>
      JSON.stringify(CloudConfigSchema.safeParse(input).error?.issues ?? []);
    expect(problems({ aemp: { feeds: [{ ...feed, url: 'file:///etc/passwd' }] } })).toContain(
      'http:// or https://',
    );
    expect(problems({ aemp: { feeds: [{ ...feed, dialect: 'klingon' }] } })).toContain('dialect');
    expect(
      problems({
        gateways: [{ gatewayId: 'feed-a', tokenHash: `sha256:${'a'.repeat(64)}` }],
        aemp: { feeds: [feed] },
      }),
    ).toContain("feed feed-a has a configured gateway's id");
    expect(problems({ aemp: { feeds: [{ ...feed, elements: ['Location'] }] } })).toContain(
      'must include CumulativeOperatingHours',
    );
  });
});

describe('the example config, posting section', () => {
  it('parses with its commented posting keys switched on, internal rental included', () => {
    const text = fs.readFileSync(example, 'utf8');
    const start = text.indexOf('\nposting:\n');
    const end = text.indexOf('\n# Contract 3', start);
    // Uncomment `  # key: value` lines (not prose) of the posting section only.
    const posting = text
      .slice(start, end)
      .replace(
        /^( {2,})# ( *)([a-zA-Z]+:)/gm,
        (_m, indent: string, more: string, key: string) => `${indent}${more}${key}`,
      );
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'il-cfg-'));
    const file = path.join(dir, 'c.yaml');
    fs.writeFileSync(file, `${text.slice(0, start)}${posting}${text.slice(end)}`);
    const c = loadCloudConfig(file, {});
    expect(c.posting.accounts).toEqual({
      expenseAccountId: 32,
      recoveryAccountId: 14,
      journalId: 3,
      equipmentRevenueAccountId: 26,
    });
    expect(c.posting.equipmentPlanField).toBe('x_plan2_id');
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
