import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadCloudConfig } from '../config.js';
import { PostingConfigSchema } from './config.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'il-postcfg-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('Odoo connection values that look like numbers', () => {
  it('takes ODOO_DB, ODOO_LOGIN and an all-digit ODOO_API_KEY as the strings they are', () => {
    const key = '0123456789012345678901234567890123456789'; // 40 digits, a leading zero
    const c = loadCloudConfig(undefined, {
      ODOO_URL: 'https://odoo.test',
      ODOO_DB: '2024',
      ODOO_LOGIN: '1042',
      ODOO_API_KEY: key,
    });
    expect(c.posting.odoo).toMatchObject({ db: '2024', login: '1042', apiKey: key });
  });

  it('takes the same from a key file and from the generic prefix', () => {
    writeFileSync(path.join(dir, 'key'), '9999999999\n');
    const c = loadCloudConfig(undefined, {
      ODOO_URL: 'https://odoo.test',
      IRONLEDGER_CLOUD_POSTING__ODOO__DB: '2024',
      ODOO_LOGIN: '1042',
      ODOO_API_KEY_FILE: path.join(dir, 'key'),
    });
    expect(c.posting.odoo).toMatchObject({ db: '2024', login: '1042', apiKey: '9999999999' });
  });

  it('accepts an unquoted whole number in a config file and names a value it cannot keep', () => {
    const file = path.join(dir, 'c.yaml');
    writeFileSync(
      file,
      'posting:\n  odoo:\n    url: https://odoo.test\n    db: 2024\n    login: 1042\n    apiKey: k\n',
    );
    expect(loadCloudConfig(file, {}).posting.odoo).toMatchObject({ db: '2024', login: '1042' });
    const r = PostingConfigSchema.safeParse({
      odoo: { url: 'https://odoo.test', db: 'd', login: 'l', apiKey: 1.5e40 },
    });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toMatch(/quote an all-digit value/);
  });
});
