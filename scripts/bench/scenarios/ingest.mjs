// (1) Edge durable ingest (SQLite synchronous=FULL: PUBACK after the commit is fsynced) against
// the reference broker (Mosquitto, nothing stored) through the same load generator: 1 and 50
// publishers, each keeping 10 QoS 1 PUBLISHes in flight.
import fs from 'node:fs';
import { cpuS, fleet, rssMb, startEdge, startReference, tmp } from '../../../edge/bench/common.mjs';
import { sleep } from '../lib.mjs';

export const title = 'edge durable ingest vs reference broker';

async function once(target, publishers, { warmS, measureS }) {
  const dir = tmp('bench-ingest-');
  const broker =
    target === 'edge' ? await startEdge(dir, { buffer: { synchronous: 'FULL' } }) : await startReference(dir);
  const f = fleet({ port: broker.ready.mqttPort, units: publishers, window: 10, perUnit: 1e9 });
  try {
    while (f.stats().connected < publishers) await sleep(50);
    f.go();
    await sleep(warmS * 1000);
    const a0 = f.stats().acked;
    const c0 = cpuS(broker.pid);
    const t0 = performance.now();
    let peakRss = 0;
    while (performance.now() < t0 + measureS * 1000) {
      peakRss = Math.max(peakRss, rssMb(broker.pid));
      await sleep(250);
    }
    // The fleet reports every 250 ms: wait for a report after the window closes.
    await sleep(300);
    const t1 = performance.now();
    const a1 = f.stats().acked;
    const cpu = ((cpuS(broker.pid) - c0) * 1e5) / (t1 - t0);
    return { rate: ((a1 - a0) * 1000) / (t1 - t0), cpu, peakRss, name: broker.name ?? 'edge' };
  } finally {
    f.stop();
    broker.child.kill('SIGTERM');
    await new Promise((r) => broker.child.once('exit', r));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function measure(ctx) {
  const out = [];
  for (const publishers of [1, 50]) {
    const edge = await once('edge', publishers, ctx.sizes);
    const ref = await once('reference', publishers, ctx.sizes);
    out.push({
      figure: `edge durable ingest, ${publishers} publisher(s)`,
      value: edge.rate,
      unit: 'readings/s',
      reference: `${ref.name}, same generator`,
      refValue: ref.rate,
      note: `edge CPU ${Math.round(edge.cpu)} %, reference CPU ${Math.round(ref.cpu)} %`,
    });
    out.push({
      figure: `edge RSS at full rate, ${publishers} publisher(s) (peak)`,
      value: edge.peakRss,
      unit: 'MB',
      reference: 'target ≤ 150 MB',
      refValue: 150,
    });
  }
  ctx.shared.edgeMaxRates ??= [];
  ctx.shared.edgeMaxRates.push(out[2].value); // 50 publishers: the edge's maximum
  return out;
}
