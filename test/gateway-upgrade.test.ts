/**
 * An upgrade in the field keeps the buffer: the gateway executable, started on a buffer file
 * written by the first schema version (as an older agent left it when it was stopped for the
 * upgrade, with a batch in flight and a backlog behind it), migrates the file in place and
 * forwards the whole backlog to the cloud, the in-flight batch under its original batchId,
 * and nothing the cloud had already acknowledged.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { type ForwardedReading, readingContent } from '@ironledger/contracts';
import { freePort, removeDir, tempDir } from '@ironledger/testkit';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Cloud,
  ensureGatewayExecutable,
  gatewayConfig,
  gatewayEnv,
  installGateway,
  runGateway,
  startCloud,
  startGateway,
  telemetry,
  waitForForwarded,
} from './gateway-harness.js';

const GATEWAY_ID = 'gw-upgrade-test';
const UNITS = ['EXC-8001', 'DOZ-8002'];
const LEGACY_BATCH = `${GATEWAY_ID}:legacy-inflight`;
const SENT_BATCH = `${GATEWAY_ID}:legacy-acked`;

/** Schema version 1 of the buffer, exactly as the first release created it. */
const V1_SCHEMA = `
  CREATE TABLE readings (
    id           INTEGER PRIMARY KEY,
    unit_id      TEXT    NOT NULL,
    ts           TEXT    NOT NULL,
    content_hash TEXT    NOT NULL,
    body         TEXT    NOT NULL,
    received_at  INTEGER NOT NULL,
    held         INTEGER NOT NULL DEFAULT 0,
    batch_id     TEXT
  );
  CREATE UNIQUE INDEX readings_identity ON readings(unit_id, ts);
  CREATE INDEX readings_unbatched ON readings(id) WHERE batch_id IS NULL;
  CREATE INDEX readings_batch ON readings(batch_id) WHERE batch_id IS NOT NULL;
  CREATE INDEX readings_held ON readings(id) WHERE held = 1;

  CREATE TABLE batches (
    batch_id    TEXT PRIMARY KEY,
    state       TEXT    NOT NULL CHECK (state IN ('pending', 'sent', 'parked', 'split')),
    readings    INTEGER NOT NULL,
    oldest_received_at INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    parked_at   INTEGER,
    sent_at     INTEGER
  );
  CREATE INDEX batches_state ON batches(state, created_at, batch_id);

  CREATE TABLE quarantine (
    id          INTEGER PRIMARY KEY,
    received_at INTEGER NOT NULL,
    topic       TEXT    NOT NULL,
    client_id   TEXT,
    reason      TEXT    NOT NULL,
    payload     BLOB    NOT NULL
  );
`;

interface LegacyFile {
  /** Readings the cloud has not acknowledged: what must arrive after the upgrade. */
  backlog: number;
  acked: number;
}

/** Writes a v1 buffer: 5 acknowledged readings, 8 in a pending batch, 16 not yet batched. */
function writeV1Buffer(file: string): LegacyFile {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec(V1_SCHEMA);
  const startMs = Date.parse('2026-10-30T07:00:00.000Z');
  const insert = db.prepare(
    'INSERT INTO readings(unit_id, ts, content_hash, body, received_at, held, batch_id) VALUES (?, ?, ?, ?, ?, 0, ?)',
  );
  const batch = db.prepare(
    'INSERT INTO batches(batch_id, state, readings, oldest_received_at, created_at, attempts, last_error, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const plan: Array<[batchId: string | null, count: number]> = [
    [SENT_BATCH, 5],
    [LEGACY_BATCH, 8],
    [null, 16],
  ];
  let i = 0;
  db.transaction(() => {
    for (const [batchId, count] of plan) {
      const firstReceived = startMs + i * 5 * 60 * 1000 + 1500;
      for (let k = 0; k < count; k++, i++) {
        const unitId = UNITS[i % UNITS.length]!;
        const t = telemetry(unitId, i, startMs);
        const receivedAtMs = Date.parse(t.ts) + 1500;
        const forwarded: ForwardedReading = {
          ...t,
          receivedAt: new Date(receivedAtMs).toISOString(),
          source: 'telemetry',
        };
        const hash = createHash('sha256').update(readingContent(forwarded)).digest('base64url').slice(0, 22);
        insert.run(unitId, t.ts, hash, JSON.stringify(forwarded), receivedAtMs, batchId);
      }
      if (batchId === SENT_BATCH)
        batch.run(batchId, 'sent', count, firstReceived, firstReceived + 1000, 1, null, firstReceived + 2000);
      if (batchId === LEGACY_BATCH) {
        batch.run(
          batchId,
          'pending',
          count,
          firstReceived,
          firstReceived + 1000,
          3,
          'connect ECONNREFUSED',
          null,
        );
      }
    }
    db.prepare(
      'INSERT INTO quarantine(received_at, topic, client_id, reason, payload) VALUES (?, ?, ?, ?, ?)',
    ).run(
      startMs,
      `ironledger/v1/units/${UNITS[0]}/telemetry`,
      UNITS[0],
      'invalid_json',
      Buffer.from('{not json'),
    );
  })();
  db.pragma('user_version = 1');
  db.close();
  return { backlog: 8 + 16, acked: 5 };
}

describe('gateway executable upgrade: a buffer from schema version 1', () => {
  let dir: string;
  let exe: string;
  let cloud: Cloud | undefined;

  beforeAll(async () => {
    const built = await ensureGatewayExecutable('linux-x64');
    dir = tempDir('ironledger-gateway-upgrade-');
    exe = installGateway(dir, built);
    cloud = await startCloud(dir, { gatewayId: GATEWAY_ID, unitIds: UNITS });
  }, 600_000);

  afterAll(async () => {
    await cloud?.stop();
    if (dir) removeDir(dir);
  });

  it('migrates the file in place and forwards its backlog, the in-flight batch under its own id', async () => {
    const bufferPath = path.join(dir, 'var', 'edge.db');
    fs.mkdirSync(path.dirname(bufferPath));
    const legacy = writeV1Buffer(bufferPath);
    const env = gatewayEnv(dir, { IRONLEDGER_EDGE_CLOUD_TOKEN: cloud!.gatewayToken });
    const configPath = path.join(dir, 'edge.json');
    const cfg = gatewayConfig({
      gatewayId: GATEWAY_ID,
      cloud: cloud!,
      mqttPort: await freePort(),
      bufferPath,
      units: [],
    });
    fs.writeFileSync(configPath, JSON.stringify(cfg, null, 2));

    const gw = await startGateway([exe], configPath, { cwd: dir, env });
    try {
      await waitForForwarded(cloud!, gw.httpUrl, legacy.backlog);
      // Acknowledged before the upgrade: never sent again.
      expect(await cloud!.readings()).toBe(legacy.backlog);
    } finally {
      await gw.proc.stop();
    }

    // The quarantine came through the upgrade too.
    const quarantine = await runGateway([exe], ['quarantine', 'list', '--config', configPath], {
      cwd: dir,
      env,
    });
    expect(quarantine.code, quarantine.stderr).toBe(0);
    expect(quarantine.stdout).toContain('invalid_json');

    const db = new Database(bufferPath, { readonly: true });
    try {
      expect(db.pragma('user_version', { simple: true }) as number).toBeGreaterThan(1);
      const inflight = db.prepare('SELECT state FROM batches WHERE batch_id = ?').get(LEGACY_BATCH) as {
        state: string;
      };
      expect(inflight.state).toBe('sent');
      const unsent = db
        .prepare(
          `SELECT count(*) FROM readings r LEFT JOIN batches b USING (batch_id) WHERE b.state IS NOT 'sent'`,
        )
        .pluck()
        .get();
      expect(unsent).toBe(0);
      expect(db.prepare(`SELECT value FROM meta WHERE key = 'gatewayId'`).pluck().get()).toBe(GATEWAY_ID);
    } finally {
      db.close();
    }
  });
});
