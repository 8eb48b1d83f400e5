// Shared by the benchmark scenarios: statistics, the markdown table, and the real cloud process.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { spawnCommand, spawnNode } from '@ironledger/testkit';
import { request } from 'undici';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
// CLOUD_DIST: another build of the cloud (an A/B comparison on the same machine).
export const CLOUD_BIN = path.join(process.env.CLOUD_DIST ?? path.join(ROOT, 'cloud', 'dist'), 'main.js');
export const GATEWAY_TOKEN = 'bench-gateway-token';
export const ADMIN_TOKEN = 'bench-admin-token';
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Percentile (0..100) by nearest rank. */
export function percentile(xs, p) {
  if (xs.length === 0) return Number.NaN;
  const s = Float64Array.from(xs).sort();
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

export function fmt(n, digits) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '–';
  if (digits !== undefined) return n.toFixed(digits);
  if (Math.abs(n) >= 100) return Math.round(n).toLocaleString('en-US');
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

export function markdownTable(header, rows) {
  const out = [`| ${header.join(' | ')} |`, `|${header.map(() => ' --- ').join('|')}|`];
  for (const r of rows) out.push(`| ${r.join(' | ')} |`);
  return out.join('\n');
}

/** `ironledger-cloud hash-token`, from the built cloud. */
export async function hashToken(token) {
  const { hashToken: h } = await import(path.join(ROOT, 'cloud', 'dist', 'http', 'auth.js'));
  return h(token);
}

export function unitIds(n, prefix = 'U') {
  return Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(5, '0')}`);
}

/**
 * Starts the real cloud (SQLite unless `store` says otherwise) with gateway `gw-bench`, the given
 * units on one site, no scheduled consolidation, and an approver token for POST /v1/consolidate.
 */
export async function startCloud(dir, { units, port = 0, timeZone = 'UTC', store } = {}) {
  const config = {
    http: { port, host: '127.0.0.1', maxConcurrentIngests: 16 },
    store: store ?? { path: path.join(dir, 'cloud.db') },
    gateways: [{ gatewayId: 'gw-bench', tokenHash: await hashToken(GATEWAY_TOKEN), siteId: 'S' }],
    auth: { tokens: [{ name: 'bench', role: 'admin', tokenHash: await hashToken(ADMIN_TOKEN) }] },
    sites: [{ siteId: 'S', timeZone, defaultProjectId: 'P', geofences: [] }],
    projects: [{ projectId: 'P', name: 'Bench' }],
    units: units.map((unitId) => ({ unitId, equipmentClass: 'excavator' })),
    consolidation: { cron: '' },
    posting: { journalPath: path.join(dir, 'journal.jsonl') },
    log: { level: 'info' },
  };
  const file = path.join(dir, 'cloud.json');
  fs.writeFileSync(file, JSON.stringify(config));
  const m = spawnNode(CLOUD_BIN, ['migrate', '--config', file]);
  if ((await m.exited) !== 0) throw new Error(`cloud migrate failed: ${m.stderr()}`);
  // CLOUD_NODE_ARGS: node flags for the cloud process, e.g. "--cpu-prof --cpu-prof-dir=/tmp/p".
  const nodeArgs = (process.env.CLOUD_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const proc = spawnCommand(process.execPath, [...nodeArgs, CLOUD_BIN, '--config', file], { name: 'cloud' });
  const ready = await proc.waitForEvent('ready', {}, 60_000);
  return { proc, url: ready.url, pid: proc.child.pid, dbPath: config.store.path };
}

export async function postBatch(url, batch) {
  for (;;) {
    const res = await request(`${url}/v1/batches`, {
      method: 'POST',
      body: gzipSync(JSON.stringify(batch)),
      headers: {
        authorization: `Bearer ${GATEWAY_TOKEN}`,
        'content-encoding': 'gzip',
        'content-type': 'application/json',
      },
    });
    const text = await res.body.text();
    if (res.statusCode === 200) return;
    if (res.statusCode === 503 || res.statusCode === 429) {
      await sleep(20);
      continue;
    }
    throw new Error(`batch ${batch.batchId}: ${res.statusCode} ${text.slice(0, 300)}`);
  }
}

export async function api(url, method, p, body) {
  const res = await request(`${url}${p}`, {
    method,
    body: body === undefined ? undefined : JSON.stringify(body),
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
  });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`${method} ${p}: ${res.statusCode} ${text.slice(0, 300)}`);
  return JSON.parse(text);
}
