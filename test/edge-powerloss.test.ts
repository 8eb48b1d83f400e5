/**
 * Power loss, at the level of system calls. A power cut loses what the kernel has not yet
 * written to the device; what survives is what was fsynced. So the first invariant holds on
 * power loss if, for every PUBACK the agent writes to a unit's socket, the WAL frames of the
 * commit that reading is in were fdatasync'ed *before* the PUBACK left. This test runs the real
 * edge under strace, publishes readings one by one, and checks that order in the trace: after
 * the last write to `edge.db-wal` before each PUBACK, a sync of `edge.db-wal` comes before it.
 * With `synchronous = NORMAL` (the control) SQLite does not sync the WAL at commit, and the
 * same check finds PUBACKs resting on unsynced writes — so the check can fail.
 *
 * Why not a real power-cut harness: the kernel here has no device-mapper (no dm-flakey or
 * dm-log-writes to drop unsynced writes) and LazyFS is not available from the npm registry;
 * see edge/README.md, "Power loss".
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BIN, removeDir, spawnCommand, tempDir } from '@ironledger/testkit';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { makeCredentials, reading } from '../edge/test/harness.js';

const strace = (() => {
  try {
    execFileSync('strace', ['-V'], { stdio: 'pipe' });
    return fs.existsSync(BIN.edge);
  } catch {
    return false;
  }
})();

interface Verdict {
  pubacks: number;
  unsynced: number;
  walWrites: number;
  walSyncs: number;
  /** What a failure shows: the first writes to sockets, or the trace's first lines if none. */
  sample: string[];
}

/**
 * A PUBACK: fixed header 0x40 ('@'), remaining length 2 [MQTT-3.4]. The broker writes it as one
 * buffer or as iovecs of header, length and packet id. The socket is told by what is written on
 * it, not by how strace names it: without the kernel's socket diagnostics `-yy` shows
 * `socket:[inode]` instead of `TCP:[address]`.
 */
const H = String.raw`(?:@|\\x40|\\100)`; // 0x40 as strace may print it
const L = String.raw`(?:\\2|\\x02|\\002)`; // 0x02
const PUBACK_DATA = new RegExp(
  String.raw`^(?:"${H}${L}|\[\{iov_base="${H}${L}|\[\{iov_base="${H}", iov_len=1\}, \{iov_base="${L}"|\{msg_name=.*?iov_base="${H}(?:${L}|", iov_len=1\}, \{iov_base="${L}"))`,
);
const WRITE = /^(?:\[pid\s+)?\d+\]?\s+(write|writev|pwrite64|sendmsg|sendto)\(\d+(<.*?>)?, (.*)$/;

/** Walks the trace in order: is every PUBACK preceded by a sync of the WAL after its last write? */
function judge(trace: string): Verdict {
  let dirty = false;
  const v: Verdict = { pubacks: 0, unsynced: 0, walWrites: 0, walSyncs: 0, sample: [] };
  const lines = trace.split('\n');
  for (const line of lines) {
    if (/(fdatasync|fsync)\(\d+<[^>]*edge\.db-wal>/.test(line)) {
      v.walSyncs++;
      dirty = false;
      continue;
    }
    const w = WRITE.exec(line);
    if (!w) continue;
    const fd = w[2] ?? '';
    if (fd.endsWith('edge.db-wal>')) {
      v.walWrites++;
      dirty = true;
      continue;
    }
    if (fd.startsWith('</') || /^<(?:pipe|anon_inode|UNIX)/.test(fd)) continue;
    if (v.sample.length < 12) v.sample.push(line.slice(0, 160));
    if (PUBACK_DATA.test(w[3]!)) {
      v.pubacks++;
      if (dirty) v.unsynced++;
    }
  }
  if (v.sample.length === 0)
    v.sample = [
      'no write to a socket in the trace; its first lines:',
      ...lines.slice(0, 12).map((l) => l.slice(0, 160)),
    ];
  return v;
}

describe.skipIf(!strace)('power loss: no PUBACK before its reading is synced to the device', () => {
  const dir = tempDir('edge-power-');
  afterAll(() => removeDir(dir));

  async function run(synchronous: 'FULL' | 'NORMAL'): Promise<Verdict> {
    const creds = makeCredentials(['PWR-1']);
    const cfgPath = path.join(dir, `edge-${synchronous}.json`);
    fs.mkdirSync(path.join(dir, synchronous), { recursive: true });
    fs.writeFileSync(
      cfgPath,
      JSON.stringify({
        gatewayId: 'gw-power',
        mqtt: { mode: 'embedded', port: 0 },
        auth: { units: creds.hashes },
        buffer: { path: path.join(dir, synchronous, 'edge.db'), synchronous },
        cloud: { url: 'http://127.0.0.1:9', token: 't', backoff: { baseMs: 60_000, capMs: 60_000 } },
        http: { port: 0 },
      }),
    );
    const out = path.join(dir, `strace-${synchronous}.txt`);
    const proc = spawnCommand(
      'strace',
      [
        '-f',
        '-qq',
        '-yy', // paths of files, and protocol and addresses of sockets
        '-s',
        '8',
        '-e',
        'trace=write,writev,pwrite64,sendmsg,sendto,fsync,fdatasync',
        '-o',
        out,
        process.execPath,
        BIN.edge,
        '--config',
        cfgPath,
      ],
      { name: `edge-${synchronous}` },
    );
    const ready = await proc.waitForEvent('ready', {}, 60_000);
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${ready.mqttPort as number}`, {
      clientId: 'PWR-1',
      username: 'PWR-1',
      password: creds.secrets['PWR-1'],
      reconnectPeriod: 0,
    });
    // One at a time: each PUBACK closes its own group commit.
    for (let i = 0; i < 20; i++)
      await c.publishAsync('ironledger/v1/units/PWR-1/telemetry', JSON.stringify(reading('PWR-1', i)), {
        qos: 1,
      });
    await c.endAsync();
    // The traced agent is strace's child; a SIGTERM to strace would only detach it.
    const sp = proc.child.pid!;
    const edgePid = Number(fs.readFileSync(`/proc/${sp}/task/${sp}/children`, 'utf8').trim().split(' ')[0]);
    process.kill(edgePid, 'SIGTERM');
    await proc.exited;
    return judge(fs.readFileSync(out, 'utf8'));
  }

  it('synchronous = FULL: every PUBACK follows a sync of the WAL frames it rests on', async () => {
    const v = await run('FULL');
    expect(v.pubacks, v.sample.join('\n')).toBeGreaterThanOrEqual(20);
    expect(v.walWrites).toBeGreaterThan(0);
    expect(v.walSyncs).toBeGreaterThanOrEqual(20);
    expect(v.unsynced).toBe(0);
  });

  it('control, synchronous = NORMAL: the same check finds PUBACKs resting on unsynced writes', async () => {
    const v = await run('NORMAL');
    expect(v.pubacks, v.sample.join('\n')).toBeGreaterThanOrEqual(20);
    expect(v.unsynced).toBeGreaterThanOrEqual(19);
  });
});
