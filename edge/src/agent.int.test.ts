/** The agent's start-up log: an upgrade of an older buffer file is visible. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '@ironledger/logger';
import Database from 'better-sqlite3';
import { expect, it } from 'vitest';
import { startAgent } from './agent.js';
import { migrate, SCHEMA_VERSION } from './buffer/migrations.js';

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { lines, logger: createLogger({ service: 'test', level: 'info', destination }) };
}

async function startOn(file: string, forwarderThread: 'worker' | 'main' = 'worker') {
  const { lines, logger } = capture();
  const agent = await startAgent(
    {
      gatewayId: 'gw-log',
      mqtt: { port: 0 },
      auth: { mode: 'open' },
      buffer: { path: file },
      cloud: {
        url: 'http://127.0.0.1:9',
        token: 't',
        heartbeatIntervalMs: 60_000,
        backoff: { baseMs: 60_000, capMs: 60_000 },
        forwarderThread,
      },
      http: { port: 0 },
    },
    { logger },
  );
  // Where the forwarder runs is visible in the status (the main thread when asked to).
  expect(agent.status().forwarder.thread).toBe(forwarderThread);
  await agent.stop();
  return lines.filter((l) => String(l.event).startsWith('buffer.'));
}

it('logs buffer.migrated {from, to} when it upgrades an older file, buffer.created for a new one', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edge-agent-'));
  const old = path.join(dir, 'old.db');
  const db = new Database(old);
  migrate(db, 1);
  db.close();
  expect(await startOn(old)).toMatchObject([{ event: 'buffer.migrated', from: 1, to: SCHEMA_VERSION }]);
  // Opened again: already current, nothing to say.
  expect(await startOn(old, 'main')).toEqual([]);
  expect(await startOn(path.join(dir, 'new.db'))).toMatchObject([
    { event: 'buffer.created', schemaVersion: SCHEMA_VERSION },
  ]);
});
