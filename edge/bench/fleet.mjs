// A fleet of raw MQTT 3.1.1 connections (mqtt-packet over net), run as a child process so it
// has its own core. Each unit keeps `window` QoS 1 PUBLISHes in flight and sends the next
// reading when a PUBACK comes back. Reports counts to the parent over IPC.
import net from 'node:net';
import mqttPacket from 'mqtt-packet';

const opts = JSON.parse(process.argv[2]);
const { port, units, window, perUnit, secrets, rate } = opts;
// rate (readings/s, whole fleet): each unit sends at most one reading every units/rate s
// (paced, as live units are); without it, as fast as PUBACKs come back.
const minGapMs = rate ? (units * 1000) / rate : 0;
let acked = 0;
let connected = 0;
let done = 0;
let refused = 0;

// Units report the time of measurement, as live units do: ts close to now, strictly rising per unit.
function payload(unitId, seq, unit) {
  unit.lastTs = Math.max(Date.now(), unit.lastTs + 1);
  return JSON.stringify({
    v: 1,
    unitId,
    seq,
    ts: new Date(unit.lastTs).toISOString(),
    engineHours: 1000 + seq / 3600,
    idleHours: 200 + seq / 14400,
    engineOn: true,
    position: { lat: 51.5 + (seq % 100) / 1e5, lon: -0.12 },
    speedKmh: 3.5,
    fuelUsedL: 8000 + seq / 100,
  });
}

function startUnit(i) {
  const unitId = `U${String(i).padStart(5, '0')}`;
  const topic = `ironledger/v1/units/${unitId}/telemetry`;
  const sock = net.connect(port, '127.0.0.1');
  sock.setNoDelay(true);
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  let seq = 0;
  let nextId = 1;
  const state = { lastTs: 0 };
  let inflight = 0;
  let nextAt = performance.now() + Math.random() * minGapMs; // units spread over one gap
  let timer = null;
  const send = () => {
    while (inflight < window && seq < perUnit) {
      if (minGapMs > 0) {
        const now = performance.now();
        if (now < nextAt) {
          timer ??= setTimeout(() => {
            timer = null;
            send();
          }, nextAt - now);
          return;
        }
        nextAt = Math.max(nextAt + minGapMs, now); // a late unit does not catch up in a burst
      }
      const messageId = nextId;
      nextId = nextId === 65535 ? 1 : nextId + 1;
      sock.write(
        mqttPacket.generate({
          cmd: 'publish',
          topic,
          payload: payload(unitId, seq++, state),
          qos: 1,
          messageId,
          retain: false,
          dup: false,
        }),
      );
      inflight++;
    }
  };
  parser.on('packet', (p) => {
    if (p.cmd === 'connack') {
      if (p.returnCode !== 0) refused++;
      connected++;
      // Publishing starts when the whole fleet is connected (the parent says go).
      if (going) send();
      else waiting.push(send);
    } else if (p.cmd === 'puback') {
      inflight--;
      acked++;
      if (seq < perUnit) send();
      else if (inflight === 0) {
        done++;
        sock.end();
      }
    }
  });
  sock.on('data', (d) => parser.parse(d));
  sock.on('error', () => {});
  sock.write(
    mqttPacket.generate({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clean: true,
      clientId: unitId, // the edge accepts only the unit's own id (or none)
      keepalive: 600,
      ...(secrets ? { username: unitId, password: Buffer.from(secrets[unitId]) } : {}),
    }),
  );
}

let going = false;
const waiting = [];
let i = 0;
// Connect in waves so the accept queue is not the thing being measured.
const timer = setInterval(() => {
  for (let k = 0; k < 100 && i < units; k++) startUnit(i++);
  if (i >= units) clearInterval(timer);
}, 5);
setInterval(() => process.send({ acked, connected, done, refused }), 250);
process.on('message', (m) => {
  if (m === 'exit') process.exit(0);
  if (m === 'go') {
    going = true;
    for (const s of waiting.splice(0)) s();
  }
});
