import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { EdgeConfigSchema, loadEdgeConfig } from './config.js';

const example = path.join(import.meta.dirname, '..', 'config.example.yaml');

describe('config', () => {
  it('parses config.example.yaml, whose values are the defaults', () => {
    const c = loadEdgeConfig(example, {});
    expect(c.gatewayId).toBe('gw-riverside');
    const defaults = EdgeConfigSchema.parse({ gatewayId: 'gw-riverside', cloud: { token: 'change-me' } });
    expect(c).toEqual(defaults);
    expect(Object.isFrozen(c.cloud)).toBe(true);
  });

  it('lists every key of the schema in the example', () => {
    const text = fs.readFileSync(example, 'utf8');
    for (const key of ['url', 'clientId', 'username', 'password', 'tls', 'certFile', 'keyFile', 'caFile'])
      expect(text).toContain(`${key}:`);
    const doc = YAML.parse(text) as Record<string, Record<string, unknown>>;
    const shape = EdgeConfigSchema.parse({ gatewayId: 'g', cloud: { token: 't' } });
    for (const [section, value] of Object.entries(shape)) {
      expect(doc).toHaveProperty(section);
      if (value && typeof value === 'object' && !Array.isArray(value)) {
        for (const k of Object.keys(value)) expect(doc[section], `${section}.${k}`).toHaveProperty(k);
      }
    }
  });

  it('environment overrides the file; secrets come from *_FILE', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edge-cfg-'));
    const tokenFile = path.join(dir, 'token');
    fs.writeFileSync(tokenFile, 's3cret\n');
    const c = loadEdgeConfig(example, {
      IRONLEDGER_EDGE_CLOUD__BATCH_SIZE: '1000',
      IRONLEDGER_EDGE_MQTT__MODE: 'external',
      IRONLEDGER_EDGE_CLOUD_TOKEN_FILE: tokenFile,
    });
    expect(c.cloud.batchSize).toBe(1000);
    expect(c.mqtt.mode).toBe('external');
    expect(c.cloud.token).toBe('s3cret');
    const d = loadEdgeConfig(example, { IRONLEDGER_EDGE_CLOUD__TOKEN_FILE: tokenFile });
    expect(d.cloud.token).toBe('s3cret');
  });

  it('names every bad key', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edge-cfg-'));
    const file = path.join(dir, 'bad.yaml');
    fs.writeFileSync(
      file,
      'gatewayId: "no spaces"\nbuffer: { diskBudgetMb: 0, colour: red }\ncloud: { token: x, batchSize: 20000 }\n',
    );
    expect(() => loadEdgeConfig(file, {})).toThrow(
      /gatewayId[\s\S]*buffer\.diskBudgetMb[\s\S]*buffer\.colour: unknown key[\s\S]*cloud\.batchSize/,
    );
  });
});
