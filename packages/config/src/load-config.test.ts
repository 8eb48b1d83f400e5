import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadConfig } from './index.js';

const Schema = z
  .object({
    port: z.number().int().min(0).max(65535).default(8080),
    forward: z
      .object({ batchSize: z.number().int().positive().default(500), url: z.string().url() })
      .strict(),
    token: z.string().optional(),
  })
  .strict();

function file(text: string, ext = 'yaml'): string {
  const p = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-')), `c.${ext}`);
  fs.writeFileSync(p, text);
  return p;
}

describe('loadConfig', () => {
  it('layers defaults < file < environment and freezes the result', () => {
    const f = file('port: 1000\nforward:\n  url: http://a.example\n  batchSize: 10\n');
    const c = loadConfig(Schema, {
      file: f,
      env: { APP_FORWARD__BATCH_SIZE: '20', APP_PORT: '2000' },
      envPrefix: 'APP',
    });
    expect(c).toEqual({ port: 2000, forward: { url: 'http://a.example', batchSize: 20 } });
    expect(Object.isFrozen(c.forward)).toBe(true);
  });

  it('lists every problem by its key', () => {
    const f = file('port: -1\nforward:\n  url: not-a-url\n  batchSise: 3\n');
    expect(() => loadConfig(Schema, { file: f, env: {} })).toThrowError(
      /port:[\s\S]*forward\.url:[\s\S]*batchSise: unknown key/,
    );
  });

  it('reads secrets from *_FILE', () => {
    const secret = file('s3cret\n', 'txt');
    const c = loadConfig(Schema, {
      env: { TOKEN_FILE: secret, APP_FORWARD__URL: 'http://x.example' },
      envPrefix: 'APP',
      envMap: { TOKEN: 'token' },
    });
    expect(c.token).toBe('s3cret');
  });

  it('names an unreadable file', () => {
    expect(() => loadConfig(Schema, { file: '/nonexistent/c.yaml' })).toThrowError(/\/nonexistent\/c\.yaml/);
  });
});
