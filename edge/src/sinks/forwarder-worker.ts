/**
 * The forwarder's thread (forwarder-thread.ts starts it): its own connection to the buffer
 * file, its own HTTP pool to the cloud, and the Forwarder as it runs on the main thread. The
 * main thread keeps the MQTT broker and the ingest commits; this thread batches, sends and
 * acknowledges, so sending never waits for a commit's event-loop turn and the other way round.
 *
 * To the main thread: `ready` once the buffer is open, `state` when it changed, `log` and
 * `metric` as they happen (the main thread's logger and registry are the only sinks), `idle`
 * after `cloud.forwarderThreadIdleMs` with nothing to send (the main thread may then stop it),
 * and `stopped` after the batch in flight finished and the connection closed.
 * From it: `notify` (readings committed) and `stop`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteBuffer } from '../buffer/sqlite-buffer.js';
import { CloudClient } from './cloud-client.js';
import { Forwarder, type ForwarderLog, type ForwarderMetrics } from './forwarder.js';
import type { ForwarderToMain, ForwarderWorkerData, MainToForwarder } from './forwarder-thread.js';

/** State changes reach the main thread within this long (status, heartbeat, metrics). */
const STATE_EVERY_MS = 100;

const port = parentPort;
if (!port) throw new Error('forwarder-worker.js runs as a worker thread (forwarder-thread.ts)');
const data = workerData as ForwarderWorkerData;
const post = (m: ForwarderToMain) => port.postMessage(m);

/** Error instances lose their fields crossing threads: send what the log shows of them. */
function plain(v: unknown): unknown {
  if (!(v instanceof Error)) return v;
  const e = v as Error & { code?: unknown };
  return { type: e.name, message: e.message, stack: e.stack, ...(e.code ? { code: e.code } : {}) };
}

function logAt(level: 'info' | 'warn' | 'error' | 'fatal') {
  return (obj: unknown, msg?: string) => {
    const fields =
      obj && typeof obj === 'object'
        ? Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, plain(v)]))
        : { msg: String(obj) };
    post({ t: 'log', level, fields, msg });
  };
}
const log: ForwarderLog = {
  info: logAt('info'),
  warn: logAt('warn'),
  error: logAt('error'),
  fatal: logAt('fatal'),
} as ForwarderLog;

const metrics: ForwarderMetrics = {
  forwardLatency: {
    observe: (l, seconds) => post({ t: 'metric', m: 'latency', outcome: l.outcome, v: seconds }),
  },
  batches: { inc: (l) => post({ t: 'metric', m: 'batch', outcome: l.outcome, v: 1 }) },
  forwardedReadings: { inc: (n) => post({ t: 'metric', m: 'readings', outcome: '', v: n }) },
};

const buffer = new SqliteBuffer(data.buffer);
const client = new CloudClient(
  data.cloud.url,
  data.cloud.token,
  data.cloud.timeoutMs,
  data.userAgent,
  data.cloud.caFile,
);
const forwarder = new Forwarder({
  buffer,
  client,
  cloud: data.cloud,
  gatewayId: data.gatewayId,
  metrics,
  log,
  carry: data.carry,
  // Ending the thread hands the error to the main thread, which starts a fresh one after a
  // back-off: a forwarder that stopped must not leave the gateway silently not forwarding.
  onCrash: () => {
    sendState();
    buffer.close();
    process.exit(1);
  },
});

let last = '';
const sendState = () => {
  const s = forwarder.state();
  const json = JSON.stringify(s);
  if (json === last) return;
  last = json;
  post({ t: 'state', state: s });
};
// Idle: asleep with nothing to send since `idleSince`; said once per idle spell, with the
// count of notifies seen so far, so the main thread can tell whether one crossed it.
const idleMs = data.cloud.forwarderThreadIdleMs;
let notifies = 0;
let idleSince = Date.now();
let idleSaid = false;
const tick = () => {
  sendState();
  if (idleMs <= 0) return;
  if (!forwarder.hasNothingToSend()) {
    idleSince = Date.now();
    idleSaid = false;
  } else if (!idleSaid && Date.now() - idleSince >= idleMs) {
    idleSaid = true;
    post({ t: 'idle', seen: notifies });
  }
};
const ticker = setInterval(tick, STATE_EVERY_MS);

port.on('message', (m: MainToForwarder) => {
  if (m.t === 'notify') {
    notifies++;
    idleSince = Date.now();
    idleSaid = false;
    forwarder.notify(m.n);
    return;
  }
  clearInterval(ticker);
  void (async () => {
    await forwarder.stop();
    await client.close();
    buffer.close();
    post({ t: 'stopped', state: forwarder.state() });
    port.close();
  })();
});

forwarder.start();
sendState();
post({ t: 'ready' });
