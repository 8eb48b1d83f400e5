#!/usr/bin/env node
/**
 * `npm run chaos -- --minutes N --seed S [--broker embedded|mosquitto]`
 *
 * The product's promise under everything at once, on the real processes: the simulated fleet
 * (ironledger-sim, ground truth, every simulator fault) publishes to the edge (embedded aedes,
 * or Mosquitto with the edge subscribed), which forwards through a fault-injecting proxy to
 * the cloud (SQLite). At seeded random moments the run kills the edge (at any moment, and
 * while a batch is in flight), kills the cloud (also mid-ingest), takes the cloud away for a
 * while, answers 500 / 503 + Retry-After / nothing at all, swallows answers the cloud already
 * committed, slows the link, flaps it, fills the edge's disk budget, and restarts the edge
 * under a reconnect storm. Units' clock faults and meter jumps come from the simulator.
 *
 * At the end everything is healed, the backlog drained, and the invariants checked against
 * the truth: every reading a unit saw acknowledged is stored (lost = 0), no identity stored
 * twice with the same content, and engine hours per unit-day equal the truth (within 0.01 h)
 * for every unit whose meter and clock are sound (units with meter resets, jumps, clock
 * faults or offline gaps are reported, not judged: their hours are held or flagged by design).
 * One table is printed; the exit code is 1 with the first discrepancy when an invariant broke.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BIN, FaultProxy, freePort, runCommand, spawnCommand, spawnNode, waitFor } from '@ironledger/testkit';
import Database from 'better-sqlite3';

const USAGE = `usage: npm run chaos -- [options]

  --minutes <n>        length of the fault phase, minutes (default 10; fractions allowed)
  --seed <s>           seed of the fleet and of every fault's moment (default 1)
  --broker <b>         embedded | mosquitto (default embedded)
  --units <n>          simulated units (default 12)
  --days <d>           simulated days the fleet reports during the run (default 2)
  --dir <path>         working directory (default: a new temporary one, removed on success)
  --keep               keep the working directory
  --echo               echo every process's output
  --help               this text

Exit codes: 0 every invariant held; 1 an invariant broke (the first discrepancy is printed);
2 bad usage or the run could not be set up.`;

let args;
try {
  args = parseArgs({
    options: {
      minutes: { type: 'string', default: '10' },
      seed: { type: 'string', default: '1' },
      broker: { type: 'string', default: 'embedded' },
      units: { type: 'string', default: '12' },
      days: { type: 'string', default: '2' },
      dir: { type: 'string' },
      keep: { type: 'boolean', default: false },
      echo: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }).values;
} catch (e) {
  process.stderr.write(`${e.message}\n\n${USAGE}\n`);
  process.exit(2);
}
if (args.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const minutes = Number(args.minutes);
const units = Number(args.units);
const days = Number(args.days);
const seed = String(args.seed);
if (!(minutes > 0) || !(units >= 1) || !(days >= 1) || !['embedded', 'mosquitto'].includes(args.broker)) {
  process.stderr.write(`bad --minutes, --units, --days or --broker\n\n${USAGE}\n`);
  process.exit(2);
}

// ---- seeded randomness (mulberry32 over a hash of the seed) --------------------------------
let rngState = createHash('sha256').update(`chaos:${seed}`).digest().readUInt32LE(0);
function random() {
  rngState = (rngState + 0x6d2b79f5) | 0;
  let t = rngState;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const between = (a, b) => a + (b - a) * random();
const sleep = (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
const say = (s) => process.stderr.write(`[chaos ${new Date().toISOString().slice(11, 19)}] ${s}\n`);
const sha256 = (s) => `sha256:${createHash('sha256').update(s).digest('hex')}`;

// ---- set-up ----------------------------------------------------------------------------------
const dir = path.resolve(args.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'ironledger-chaos-')));
fs.mkdirSync(dir, { recursive: true });
const P = {
  world: path.join(dir, 'world.json'),
  creds: path.join(dir, 'credentials.json'),
  truth: path.join(dir, 'truth.json'),
  acked: path.join(dir, 'acked.jsonl'),
  cloudDb: path.join(dir, 'cloud.db'),
  edgeDb: path.join(dir, 'edge.db'),
  cloudCfg: path.join(dir, 'cloud.config.json'),
  edgeCfg: path.join(dir, 'edge.config.json'),
};
const procs = { cloud: null, edge: null, sim: null, mosquitto: null };
let proxy = null;

async function main() {
  const worldOut = await runCommand(BIN.sim, ['--print-world', '--units', String(units), '--seed', seed]);
  if (worldOut.code !== 0) throw new Error(`ironledger-sim --print-world: ${worldOut.stderr}`);
  const world = JSON.parse(worldOut.stdout);
  fs.writeFileSync(P.world, JSON.stringify(world));
  const secrets = Object.fromEntries(
    world.units.map((u) => [
      u.unitId,
      createHash('sha256').update(`${seed}:${u.unitId}`).digest('hex').slice(0, 24),
    ]),
  );
  fs.writeFileSync(P.creds, JSON.stringify(secrets));
  const unitAuth = await Promise.all(
    world.units.map(async (u) => {
      const r = await runCommand(BIN.edge, ['hash-secret', secrets[u.unitId]]);
      if (r.code !== 0) throw new Error(`hash-secret: ${r.stderr}`);
      return { unitId: u.unitId, secretHash: r.stdout.trim() };
    }),
  );
  const gatewayId = 'gw-chaos';
  const tokens = {
    gateway: `gw-${sha256(`g${seed}`).slice(7, 40)}`,
    admin: `adm-${sha256(`a${seed}`).slice(7, 40)}`,
  };
  const cloudPort = await freePort();
  const classes = [...new Set(world.units.map((u) => u.equipmentClass))];
  fs.writeFileSync(
    P.cloudCfg,
    JSON.stringify({
      http: { host: '127.0.0.1', port: cloudPort, retryAfterS: 1 },
      store: { path: P.cloudDb },
      gateways: [{ gatewayId, tokenHash: sha256(tokens.gateway), siteId: world.sites[0].siteId }],
      auth: { tokens: [{ name: 'chaos-admin', role: 'admin', tokenHash: sha256(tokens.admin) }] },
      sites: world.sites,
      projects: world.projects,
      units: world.units,
      rates: classes.map((c) => ({
        rateId: `rate-${c}`,
        equipmentClass: c,
        workingRateMinor: 5000,
        idleRateMinor: 1500,
        currency: 'USD',
        effectiveFrom: '2020-01-01',
      })),
      posting: { journalPath: path.join(dir, 'journal.jsonl') },
      log: { level: 'info' }, // `ready` is an info line
    }),
  );
  const startCloud = async () => {
    procs.cloud = spawnNode(BIN.cloud, ['--config', P.cloudCfg], { name: 'cloud', echo: args.echo });
    await procs.cloud.waitForEvent('ready', {}, 30_000);
  };
  await startCloud();
  proxy = await FaultProxy.start({ targetHost: '127.0.0.1', targetPort: cloudPort });

  const mqttPort = await freePort();
  let mqttCfg = { mode: 'embedded', host: '127.0.0.1', port: mqttPort };
  if (args.broker === 'mosquitto') {
    const edgeUser = { username: 'ironledger-edge', password: `edge-${seed}` };
    await startMosquitto(mqttPort, secrets, edgeUser);
    mqttCfg = { mode: 'external', url: `mqtt://127.0.0.1:${mqttPort}`, ...edgeUser };
  }
  const edgeConfig = {
    gatewayId,
    mqtt: mqttCfg,
    auth: { mode: 'units', units: unitAuth },
    buffer: { path: P.edgeDb, diskBudgetMb: 256 },
    cloud: {
      url: proxy.url,
      token: tokens.gateway,
      batchSize: 200,
      maxBatchAgeMs: 200,
      timeoutMs: 2000,
      heartbeatIntervalMs: 5000,
      backoff: { baseMs: 100, capMs: 2000, maxRetryAfterMs: 5000 },
    },
    http: { host: '127.0.0.1', port: 0 },
    log: { level: 'info' },
  };
  fs.writeFileSync(P.edgeCfg, JSON.stringify(edgeConfig));
  let edgeHttpPort = 0;
  const startEdge = async (env = {}) => {
    procs.edge = spawnNode(BIN.edge, ['--config', P.edgeCfg], {
      name: 'edge',
      echo: args.echo,
      env,
    });
    const ready = await procs.edge.waitForEvent('ready', {}, 30_000);
    edgeHttpPort = ready.httpPort;
  };
  await startEdge();
  const edgeStatus = async () => {
    const r = await fetch(`http://127.0.0.1:${edgeHttpPort}/v1/status`);
    return r.json();
  };

  // ---- the fleet ------------------------------------------------------------------------
  const faultPhaseMs = minutes * 60_000;
  // The fleet's days are spread over the fault phase (95 % of it: kills and outages slow the
  // fleet down a little), so faults hit live traffic to the end.
  const speed = Math.max(1, Math.round((days * 86_400) / ((faultPhaseMs * 0.95) / 1000)));
  const simArgs = [
    '--broker',
    `mqtt://127.0.0.1:${mqttPort}`,
    '--units',
    String(units),
    '--seed',
    seed,
    '--credentials',
    P.creds,
    '--days',
    String(days),
    '--start',
    '2026-11-02',
    '--interval',
    '5m',
    '--speed',
    String(speed),
    '--faults',
    'duplicate,redelivery,reorder,gap,clock1970,skew,reset,jump,malformed,impersonate',
    '--truth',
    P.truth,
    '--acked',
    P.acked,
    '--log-level',
    'warn',
  ];
  say(`dir ${dir}; ${units} units × ${days} days at ${speed}× over ~${minutes} min; broker ${args.broker}`);
  procs.sim = spawnNode(BIN.sim, simArgs, { name: 'sim', echo: args.echo });
  const simDone = procs.sim.exited;

  // ---- faults ---------------------------------------------------------------------------
  const injected = {};
  const count = (k) => {
    injected[k] = (injected[k] ?? 0) + 1;
  };
  const killEdge = async () => {
    await procs.edge.kill9();
  };
  const killCloud = async () => {
    await procs.cloud.kill9();
  };
  const proxyFor = async (mode, ms, o = {}) => {
    proxy.setMode(mode, o);
    await sleep(ms);
    proxy.setMode('pass');
  };
  const nextRequest = (timeoutMs) =>
    new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      proxy.once('request', () => {
        clearTimeout(t);
        resolve(true);
      });
    });
  const scale = Math.min(1, minutes / 10); // outages are shorter in short runs
  const FAULTS = {
    // At a random moment under load: almost always in the middle of a group commit.
    edge_sigkill: async () => {
      await killEdge();
      await sleep(between(100, 2000));
      await startEdge();
    },
    edge_sigkill_mid_forward: async () => {
      if (!(await nextRequest(5000))) return false;
      await killEdge();
      await sleep(between(100, 1000));
      await startEdge();
    },
    cloud_sigkill: async () => {
      await killCloud();
      await sleep(between(100, 2000));
      await startCloud();
    },
    cloud_sigkill_mid_ingest: async () => {
      if (!(await nextRequest(5000))) return false;
      await sleep(between(0, 20));
      await killCloud();
      await sleep(between(100, 1000));
      await startCloud();
    },
    cloud_outage: async () => {
      await killCloud();
      await sleep(between(5000, 30_000) * scale);
      await startCloud();
    },
    http_500: () => proxyFor('status500', between(1000, 5000)),
    http_503_retry_after: () => proxyFor('status503', between(1000, 5000), { retryAfterS: 1 }),
    answer_hangs: () => proxyFor('hang', between(2500, 6000)),
    answer_lost_after_commit: () => proxyFor('drop_answer', between(2500, 6000)),
    slow_link: () => proxyFor('delay', between(2000, 6000), { delayMs: Math.round(between(200, 1500)) }),
    tcp_cut: async () => {
      proxy.cutAll();
    },
    flapping_uplink: async () => {
      const until = Date.now() + between(4000, 10_000);
      while (Date.now() < until) {
        proxy.setMode(random() < 0.5 ? 'reset' : 'pass');
        await sleep(between(200, 1500));
      }
      proxy.setMode('pass');
    },
    disk_budget_reached: async () => {
      // The uplink is down and the buffer's budget is tiny: publishes are refused (no PUBACK)
      // until the edge gets its room back.
      proxy.setMode('reset');
      await procs.edge.stop();
      await startEdge({ IRONLEDGER_EDGE_BUFFER__DISK_BUDGET_MB: '0.01' });
      await sleep(between(2000, 6000));
      await procs.edge.stop();
      await startEdge();
      proxy.setMode('pass');
    },
    reconnect_storm: async () => {
      // Every unit loses its connection at once and comes back with its unacknowledged
      // QoS 1 messages (DUP) — through a graceful restart, which closes every session.
      await procs.edge.stop();
      await startEdge();
    },
  };
  const kinds = Object.keys(FAULTS);
  const started = Date.now();
  let lastFaultEnd = started;
  let simExited = false;
  simDone.then(() => {
    simExited = true;
  });
  // Quiet time between faults: exponential, mean 1.5–3 s (the faults themselves last seconds).
  const meanGapMs = Math.max(1500, Math.min(3000, faultPhaseMs / 100));
  while (Date.now() - started < faultPhaseMs && !simExited) {
    await Promise.race([sleep(-Math.log(1 - random()) * meanGapMs), simDone]);
    if (simExited || Date.now() - started >= faultPhaseMs) break;
    const kind = kinds[Math.floor(random() * kinds.length)];
    say(`fault ${kind}`);
    const r = await FAULTS[kind]();
    if (r !== false) count(kind);
    lastFaultEnd = Date.now();
  }

  // ---- heal, let the fleet finish, drain ------------------------------------------------
  proxy.setMode('pass');
  say('faults over; waiting for the fleet to finish');
  const simCode = await Promise.race([simDone, sleep(15 * 60_000).then(() => 'timeout')]);
  const simSummary = (() => {
    const line = procs.sim.stdout().trim().split('\n').pop();
    try {
      return JSON.parse(line);
    } catch {
      return {};
    }
  })();
  if (simCode !== 0)
    throw new Discrepancy(`the simulator ended with ${simCode}: ${procs.sim.stderr().slice(-2000)}`);
  await waitFor(
    async () => {
      const s = await edgeStatus();
      return s.queuedReadings === 0;
    },
    { timeoutMs: 5 * 60_000, intervalMs: 100, what: 'the edge backlog to drain' },
  );
  const drainedAt = Date.now();
  const edgeFinal = await edgeStatus();

  // ---- invariants -----------------------------------------------------------------------
  const acked = new Set();
  for (const line of fs.readFileSync(P.acked, 'utf8').split('\n'))
    if (line.trim()) {
      const r = JSON.parse(line);
      acked.add(`${r.unitId}@${r.ts}`);
    }
  const db = new Database(P.cloudDb, { readonly: true });
  db.pragma('busy_timeout = 5000');
  const rows = db.prepare('SELECT unit_id, ts, content FROM readings').all();
  db.close();
  const stored = new Set(rows.map((r) => `${r.unit_id}@${r.ts}`));
  const versions = new Map();
  for (const r of rows) {
    const k = `${r.unit_id}@${r.ts}\u0000${r.content}`;
    versions.set(k, (versions.get(k) ?? 0) + 1);
  }
  const storedTwice = [...versions].filter(([, n]) => n > 1).map(([k]) => k.split('\u0000')[0]);
  const lost = [...acked].filter((k) => !stored.has(k));
  const neverAcked = [...stored].filter((k) => !acked.has(k)).length;

  const cli = (a) =>
    runCommand(BIN.cli, a, {
      IRONLEDGER_URL: `http://127.0.0.1:${cloudPort}`,
      IRONLEDGER_TOKEN: tokens.admin,
      NO_COLOR: '1',
    });
  const cons = await cli(['consolidate']);
  if (cons.code !== 0) throw new Error(`ironledger consolidate: ${cons.stderr}`);
  const usage = JSON.parse((await cli(['usage', '--json'])).stdout).rows;
  const truth = JSON.parse(fs.readFileSync(P.truth, 'utf8'));
  const JUDGED_OUT = new Set(['reset', 'jump', 'clock1970', 'skew', 'gap']);
  const unsound = new Set(truth.faults.filter((f) => JUDGED_OUT.has(f.kind)).map((f) => f.unitId));
  const perDay = (list) => {
    const m = new Map();
    for (const r of list) m.set(`${r.unitId}|${r.day}`, (m.get(`${r.unitId}|${r.day}`) ?? 0) + r.engineHours);
    return m;
  };
  const want = perDay(truth.usage);
  const got = perDay(usage);
  let maxErr = 0;
  let over = 0;
  let maxErrSound = 0;
  let firstHoursBreak = null;
  for (const k of new Set([...want.keys(), ...got.keys()])) {
    const err = Math.abs((got.get(k) ?? 0) - (want.get(k) ?? 0));
    maxErr = Math.max(maxErr, err);
    if (err > 0.01) over++;
    if (!unsound.has(k.split('|')[0])) {
      maxErrSound = Math.max(maxErrSound, err);
      if (err > 0.01 && !firstHoursBreak)
        firstHoursBreak = `${k}: ${(got.get(k) ?? 0).toFixed(4)} h stored, truth ${(want.get(k) ?? 0).toFixed(4)} h`;
    }
  }
  const simFaults = {};
  for (const f of truth.faults) simFaults[`sim_${f.kind}`] = (simFaults[`sim_${f.kind}`] ?? 0) + 1;

  // ---- the table ------------------------------------------------------------------------
  const table = [
    ['seed', seed],
    ['broker', args.broker],
    ['units × days', `${units} × ${days}`],
    ['fault phase', `${((lastFaultEnd - started) / 60_000).toFixed(1)} min`],
    ...Object.entries({ ...injected })
      .sort()
      .map(([k, n]) => [`fault: ${k}`, n]),
    ...Object.entries(simFaults)
      .sort()
      .map(([k, n]) => [`fault: ${k}`, n]),
    ['published (distinct readings)', truth.readings.distinct],
    ['published (messages, with resends)', simSummary.published ?? '?'],
    ['acknowledged', acked.size],
    ['stored by the cloud', stored.size],
    ['stored, never acknowledged', neverAcked],
    ['lost', lost.length],
    ['stored twice', storedTwice.length],
    ['parked at the edge', edgeFinal.parkedBatches],
    ['hours error per unit-day, max (all units)', `${maxErr.toFixed(4)} h`],
    ['unit-days with error > 0.01 h (all units)', over],
    ['hours error per unit-day, max (sound units)', `${maxErrSound.toFixed(4)} h`],
    ['last fault → backlog empty', `${((drainedAt - lastFaultEnd) / 1000).toFixed(1)} s`],
  ];
  const w = Math.max(...table.map(([k]) => k.length));
  process.stdout.write(
    `\n${table.map(([k, v]) => `| ${k.padEnd(w)} | ${String(v).padStart(12)} |`).join('\n')}\n`,
  );

  if (lost.length > 0)
    throw new Discrepancy(
      `lost: ${lost[0]} was acknowledged and is not in the cloud (${lost.length} in all)`,
    );
  if (storedTwice.length > 0)
    throw new Discrepancy(`stored twice: ${storedTwice[0]} (${storedTwice.length} in all)`);
  if (edgeFinal.parkedBatches > 0)
    throw new Discrepancy(`${edgeFinal.parkedBatches} batch(es) parked at the edge`);
  if (firstHoursBreak) throw new Discrepancy(`hours not conserved: ${firstHoursBreak}`);
}

class Discrepancy extends Error {}

async function startMosquitto(port, secrets, edgeUser) {
  const bin = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto', '/usr/local/sbin/mosquitto'].find((p) =>
    fs.existsSync(p),
  );
  const passwd = ['/usr/bin/mosquitto_passwd', '/usr/local/bin/mosquitto_passwd'].find((p) =>
    fs.existsSync(p),
  );
  if (!bin || !passwd)
    throw new Error('--broker mosquitto: mosquitto and mosquitto_passwd are not installed');
  fs.chmodSync(dir, 0o755);
  const pw = path.join(dir, 'mosquitto.passwd');
  fs.writeFileSync(pw, '');
  for (const [u, s] of [...Object.entries(secrets), [edgeUser.username, edgeUser.password]]) {
    const r = spawnSync(passwd, ['-b', pw, u, s]);
    if (r.status !== 0) throw new Error(`mosquitto_passwd: ${r.stderr}`);
  }
  const acl = path.join(dir, 'mosquitto.acl');
  fs.writeFileSync(
    acl,
    [
      `user ${edgeUser.username}`,
      'topic read ironledger/v1/units/+/telemetry',
      'topic read ironledger/v1/units/+/aemp',
      '',
      'pattern write ironledger/v1/units/%u/telemetry',
      'pattern write ironledger/v1/units/%u/aemp',
      'pattern readwrite ironledger/v1/units/%u/status',
      'pattern read ironledger/v1/units/%u/cmd',
      '',
    ].join('\n'),
  );
  const conf = path.join(dir, 'mosquitto.conf');
  fs.writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous false',
      `password_file ${pw}`,
      `acl_file ${acl}`,
      'persistence false',
      'max_queued_messages 1000000',
      'max_packet_size 131072',
      'log_type error',
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      '',
    ].join('\n'),
  );
  for (const f of [pw, acl, conf]) fs.chmodSync(f, 0o644);
  procs.mosquitto = spawnCommand(bin, ['-c', conf], { name: 'mosquitto', echo: args.echo });
  await waitFor(
    () =>
      new Promise((resolve) => {
        const s = net.connect(port, '127.0.0.1');
        s.once('connect', () => {
          s.destroy();
          resolve(true);
        });
        s.once('error', () => resolve(false));
      }),
    { timeoutMs: 10_000, what: 'mosquitto to listen' },
  );
}

async function shutdown() {
  await proxy?.close().catch(() => {});
  for (const p of [procs.sim, procs.edge, procs.cloud, procs.mosquitto])
    if (p && p.child.exitCode === null && p.child.signalCode === null) await p.kill9().catch(() => {});
}

let code = 0;
try {
  await main();
  say('every invariant held');
} catch (e) {
  code = e instanceof Discrepancy ? 1 : 2;
  process.stdout.write(`\nFIRST DISCREPANCY: ${e.message}\n`);
  if (!(e instanceof Discrepancy)) process.stderr.write(`${e.stack}\n`);
}
await shutdown();
if (code === 0 && !args.keep && !args.dir) fs.rmSync(dir, { recursive: true, force: true });
else say(`working directory kept: ${dir}`);
process.exit(code);
