// (3) Cloud ingest over HTTP from 1, 4 and 16 gateways posting at once, with 1 and 3 replicas,
// on SQLite and PostgreSQL, each beside the raw insert ceiling of its database measured in the
// same run (cloud/bench/ingest-replicas.mjs does both).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { tmp } from '../../../edge/bench/common.mjs';
import { ROOT } from '../lib.mjs';

export const title = 'cloud ingest vs raw insert ceiling';

export async function measure(ctx) {
  const dir = tmp('bench-cloud-');
  const json = path.join(dir, 'rows.json');
  try {
    await new Promise((resolve, reject) =>
      execFile(
        process.execPath,
        [
          path.join(ROOT, 'cloud', 'bench', 'ingest-replicas.mjs'),
          '--readings',
          String(ctx.sizes.cloudReadings),
          '--senders',
          '1,4,16',
          '--stores',
          ctx.sizes.cloudStores,
          '--replicas',
          ctx.sizes.cloudReplicas,
          '--json',
          json,
        ],
        { maxBuffer: 64 * 1024 * 1024 },
        (err, _out, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve()),
      ),
    );
    const rows = JSON.parse(fs.readFileSync(json, 'utf8'));
    return rows.map((r) => ({
      figure: `cloud ingest, ${r.store}, ${r.replicas} replica(s), ${r.senders} gateway(s)`,
      value: r.rate,
      unit: 'readings/s',
      reference: `raw ${r.store} insert, same schema`,
      refValue: r.ceiling,
      note: [
        r.retries ? `${r.retries} 503 retries` : '',
        Number.isFinite(r.cpuUs) ? `cloud CPU ${r.cpuUs.toFixed(1)} µs/reading` : '',
        Number.isFinite(r.rawCpuUs) ? `raw ${r.rawCpuUs.toFixed(1)}` : '',
      ]
        .filter(Boolean)
        .join(', '),
    }));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
