// (6) Consolidation of 30 days × 200 units of 5-minute readings (1.73 M) in the real cloud
// (SQLite, site zone Europe/Berlin), loaded once over HTTP: a full run (every unit reopened,
// POST /v1/consolidate {all:true}) and an incremental run after one batch per unit (one more
// hour of readings, 12 per unit). While the full run works, one small batch is posted: its
// round trip beside the same POST on the idle cloud says whether consolidation stalls ingest.
import fs from 'node:fs';
import { tmp } from '../../../edge/bench/common.mjs';
import { api, postBatch, startCloud, unitIds } from '../lib.mjs';

export const title = 'consolidation, full and incremental';

const STEP_MS = 5 * 60_000;
const BATCH = 1000;

function reading(unitId, i, t0) {
  const tsMs = t0 + i * STEP_MS;
  const hour = new Date(tsMs).getUTCHours();
  const engineOn = hour >= 6 && hour < 16; // a working day, 08:00–18:00 in Berlin
  // Engine hours rise only while on: count the on-steps before this one (10 h per day).
  const day = Math.floor(i / 288);
  const stepOfDay = i % 288;
  const onSteps = day * 120 + Math.max(0, Math.min(120, stepOfDay - 72));
  const ts = new Date(tsMs).toISOString();
  return {
    v: 1,
    unitId,
    seq: i,
    ts,
    engineHours: 1000 + (onSteps * 5) / 60,
    idleHours: 100 + (onSteps * 1) / 60,
    engineOn,
    receivedAt: ts,
  };
}

async function load(url, units, fromStep, toStep, t0, tag) {
  const all = [];
  for (let i = fromStep; i < toStep; i++) for (const u of units) all.push(reading(u, i, t0));
  const batches = [];
  for (let k = 0; k < all.length; k += BATCH)
    batches.push({
      gatewayId: 'gw-bench',
      batchId: `${tag}-${k / BATCH}`,
      readings: all.slice(k, k + BATCH),
    });
  let next = 0;
  const send = async () => {
    for (let i = next++; i < batches.length; i = next++) await postBatch(url, batches[i]);
  };
  await Promise.all(Array.from({ length: 4 }, send));
  return all.length;
}

async function timedPost(url, unitId, t0, i, tag) {
  const t = performance.now();
  await postBatch(url, { gatewayId: 'gw-bench', batchId: tag, readings: [reading(unitId, i, t0)] });
  return performance.now() - t;
}

export async function measure(ctx) {
  let s = ctx.shared.consolidation;
  if (!s) {
    const dir = tmp('bench-consolidation-');
    const units = unitIds(ctx.sizes.consUnits, 'C');
    const cloud = await startCloud(dir, { units, timeZone: 'Europe/Berlin' });
    const days = ctx.sizes.consDays;
    // The last day ends two hours ago, leaving room for the incremental hours.
    const t0 = Math.floor((Date.now() - days * 86_400_000) / 86_400_000) * 86_400_000 - 86_400_000;
    const tl = performance.now();
    const n = await load(cloud.url, units, 0, days * 288, t0, 'load');
    const loadRate = (n * 1000) / (performance.now() - tl);
    s = { dir, units, cloud, t0, step: days * 288, n, loadRate, extra: 0 };
    ctx.shared.consolidation = s;
    await api(cloud.url, 'POST', '/v1/consolidate', {}); // the first run after the load
  }
  const { cloud, units, t0 } = s;
  try {
    // A one-reading batch on the idle cloud: the reference for the POST during the full run.
    const idlePost = await timedPost(cloud.url, units[0], t0, s.step + s.extra++, `idle-${ctx.rep}`);
    await api(cloud.url, 'POST', '/v1/consolidate', {});
    const tf = performance.now();
    const full = api(cloud.url, 'POST', '/v1/consolidate', { all: true });
    const duringPost = await timedPost(
      cloud.url,
      units[1 % units.length],
      t0,
      s.step + s.extra++,
      `busy-${ctx.rep}`,
    );
    await full;
    const fullS = (performance.now() - tf) / 1000;
    // One batch per unit: the next hour (12 readings) of every unit.
    const from = s.step + s.extra + 1;
    s.extra += 13;
    await load(cloud.url, units, from, from + 12, t0, `inc-${ctx.rep}`);
    const ti = performance.now();
    await api(cloud.url, 'POST', '/v1/consolidate', {});
    const incS = (performance.now() - ti) / 1000;
    return [
      {
        figure: `full consolidation, ${units.length} units × ${ctx.sizes.consDays} days (${s.n.toLocaleString('en-US')} readings)`,
        value: fullS,
        unit: 's',
        reference: 'target < 60 s',
        refValue: 60,
        note: `${Math.round(s.n / fullS).toLocaleString('en-US')} readings/s; loaded over HTTP at ${Math.round(s.loadRate).toLocaleString('en-US')}/s`,
      },
      {
        figure: `incremental consolidation after one batch per unit (${units.length * 12} readings)`,
        value: incS,
        unit: 's',
        reference: 'target < 1 s',
        refValue: 1,
      },
      {
        figure: 'one-reading batch POST during the full run',
        value: duringPost,
        unit: 'ms',
        reference: 'same POST, idle cloud',
        refValue: idlePost,
      },
    ];
  } finally {
    if (ctx.rep === ctx.reps - 1) {
      await cloud.proc.stop(10_000).catch(() => cloud.proc.kill9());
      fs.rmSync(s.dir, { recursive: true, force: true });
      ctx.shared.consolidation = undefined;
    }
  }
}
