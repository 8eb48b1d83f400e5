// (2) + (5) Drain and memory: the cloud is down while 1000 units publish a backlog one reading
// per unit at a time (window 1, so each batch the edge forwards carries ~batchSize different
// units, as real traffic does); then the real cloud (SQLite) starts and the edge drains.
// RSS of the edge is sampled idle, filling at full rate, holding the backlog, and draining.
import fs from 'node:fs';
import { freePort } from '@ironledger/testkit';
import Database from 'better-sqlite3';
import { cpuS, fleet, metric, rssMb, rssSplitMb, startEdge, tmp } from '../../../edge/bench/common.mjs';
import { GATEWAY_TOKEN, sleep, startCloud, unitIds } from '../lib.mjs';

export const title = 'drain of a backlog shaped like real traffic; edge RSS';

const UNITS = 1000;

export async function measure(ctx) {
  const backlog = ctx.sizes.backlog;
  const dir = tmp('bench-drain-');
  const port = await freePort();
  const edge = await startEdge(dir, {
    buffer: { synchronous: 'FULL' },
    cloud: {
      url: `http://127.0.0.1:${port}`,
      token: GATEWAY_TOKEN,
      heartbeatIntervalMs: 3_600_000,
      backoff: { baseMs: 100, capMs: 500 },
    },
  });
  let cloud = null;
  let f = null;
  try {
    await sleep(2000);
    const idleRss = rssMb(edge.pid);
    const idleSplit = rssSplitMb(edge.pid);
    // With nothing to send, the forwarder's thread is not running (cloud.forwarderThreadIdleMs).
    const idleThread = /^ironledger_edge_forwarder_thread_running (\d)$/m.exec(await edge.metrics())?.[1];
    f = fleet({ port: edge.ready.mqttPort, units: UNITS, window: 1, perUnit: Math.ceil(backlog / UNITS) });
    while (f.stats().connected < UNITS) await sleep(50);
    f.go();
    let fillRss = 0;
    const tf = performance.now();
    while (f.stats().done < UNITS) {
      fillRss = Math.max(fillRss, rssMb(edge.pid));
      await sleep(250);
    }
    const fillRate = (f.stats().acked * 1000) / (performance.now() - tf);
    f.stop();
    await sleep(2000);
    const depth0 = metric(await edge.metrics(), 'ironledger_edge_queue_depth');
    const holdRss = rssMb(edge.pid);
    const fileBytes = ['edge.db', 'edge.db-wal']
      .map((n) => `${dir}/${n}`)
      .filter((p) => fs.existsSync(p))
      .reduce((sum, p) => sum + fs.statSync(p).size, 0);
    cloud = await startCloud(dir, { units: unitIds(UNITS), port });
    const t0 = performance.now();
    // The drain is timed by the readings the cloud has stored (the highest row id of its fresh
    // database, read by a connection of this process), from its first stored batch to the
    // last: the edge's gauge is refreshed once a second, too coarse for a clock.
    const stored = new Database(cloud.dbPath, { readonly: true, fileMustExist: true });
    const count = stored.prepare('SELECT coalesce(max(id), 0) FROM readings').pluck();
    // CPU seconds of edge and cloud over the same span: what one reading costs each side.
    const cpuOf = () => ({ edge: cpuS(edge.pid), cloud: cpuS(cloud.pid) });
    let first = null;
    let last = null;
    let lastCpu = null;
    let drainRss = 0;
    let drainSplit = null;
    let cloudRss = 0;
    // The clock is read every 20 ms; memory and the edge's metrics every 100 ms (each scrape
    // costs the edge a render).
    for (let tick = 0; ; tick++) {
      const n = Number(count.get());
      const now = performance.now();
      if (n > 0 && first === null) first = { n, at: now, cpu: cpuOf() };
      if (n >= depth0 && last === null) {
        last = now;
        lastCpu = cpuOf();
      }
      if (tick % 5 === 0 || last !== null) {
        const split = rssSplitMb(edge.pid);
        const text = await edge.metrics();
        if (split.total > drainRss) {
          drainRss = split.total;
          // What the anonymous part holds: V8's heap (reserved) and memory outside it.
          const mb = (name) => metric(text, `ironledger_edge_nodejs_${name}`) / 2 ** 20;
          drainSplit = {
            ...split,
            heap: mb('heap_size_total_bytes'),
            external: mb('external_memory_bytes'),
          };
        }
        cloudRss = Math.max(cloudRss, rssMb(cloud.pid));
        if (last !== null && metric(text, 'ironledger_edge_queue_depth') === 0) break;
      }
      if (performance.now() - t0 > ctx.sizes.drainCapS * 1000) throw new Error('drain did not finish');
      await sleep(last === null ? 20 : 100);
    }
    stored.close();
    // A backlog stored within one poll has no span of its own: then from the cloud's start.
    // Per reading of the timed span; none when the whole backlog was stored within one poll.
    const perReadingUs = (s) => (depth0 > first.n ? ((s * 1e6) / (depth0 - first.n)).toFixed(1) : '–');
    const rate =
      last > first.at ? ((depth0 - first.n) * 1000) / (last - first.at) : (depth0 * 1000) / (last - t0);
    return [
      {
        figure: `drain of ${depth0.toLocaleString('en-US')} readings (1000 units, one at a time)`,
        value: rate,
        unit: 'readings/s',
        reference: 'target 50k/s (30 M in 10 min)',
        refValue: 50_000,
        note: `30 M would take ${(30e6 / rate / 60).toFixed(1)} min; CPU per reading: edge ${perReadingUs(lastCpu.edge - first.cpu.edge)} µs, cloud ${perReadingUs(lastCpu.cloud - first.cpu.cloud)} µs`,
      },
      {
        figure: 'edge RSS idle',
        value: idleRss,
        unit: 'MB',
        reference: 'target ≤ 80 MB',
        refValue: 80,
        note: `${idleThread === '0' ? 'forwarder thread not running; ' : idleThread === '1' ? 'forwarder thread running; ' : ''}anonymous ${idleSplit.anon.toFixed(1)} MB, file-backed ${idleSplit.file.toFixed(1)} MB (the Node binary and addons)`,
      },
      {
        figure: 'edge RSS filling the backlog at full rate (peak)',
        value: fillRss,
        unit: 'MB',
        reference: 'target ≤ 150 MB',
        refValue: 150,
        note: `filled at ${Math.round(fillRate).toLocaleString('en-US')} readings/s`,
      },
      {
        figure: `edge RSS holding the backlog`,
        value: holdRss,
        unit: 'MB',
        reference: 'target ≤ 150 MB',
        refValue: 150,
      },
      {
        figure: 'edge RSS draining (peak)',
        value: drainRss,
        unit: 'MB',
        reference: 'target ≤ 150 MB',
        refValue: 150,
        note: drainSplit
          ? `anonymous ${drainSplit.anon.toFixed(1)} MB (V8 heap ${drainSplit.heap.toFixed(1)}, external ${drainSplit.external.toFixed(1)}), file-backed ${drainSplit.file.toFixed(1)}, shared ${drainSplit.shmem.toFixed(1)} MB`
          : '',
      },
      {
        figure: 'buffer bytes per reading (file + WAL ÷ backlog)',
        value: fileBytes / depth0,
        unit: 'bytes',
        reference: 'target ≤ 140',
        refValue: 140,
      },
      {
        figure: 'cloud RSS during the drain (peak)',
        value: cloudRss,
        unit: 'MB',
        reference: '–',
        refValue: null,
      },
    ];
  } finally {
    f?.stop();
    edge.child.kill('SIGTERM');
    await new Promise((r) => edge.child.once('exit', r));
    await cloud?.proc.stop(10_000).catch(() => cloud.proc.kill9());
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
