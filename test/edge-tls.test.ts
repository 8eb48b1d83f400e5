/**
 * TLS end to end with certificates made at test time (openssl): units publish over MQTT on
 * TLS (mqtts, the embedded broker's TLS listener) and the edge forwards over HTTPS to a cloud
 * serving its configured certificate, trusting the private CA with `cloud.caFile`. A client
 * that does not trust the CA is refused at the handshake.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { removeDir, tempDir, waitFor } from '@ironledger/testkit';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import {
  brokerModes,
  type CloudHandle,
  type EdgeHandle,
  makeCredentials,
  reading,
  startCloud,
  startEdge,
} from '../edge/test/harness.js';

const [embedded] = brokerModes('edge-tls');
const openssl = (() => {
  try {
    execFileSync('openssl', ['version']);
    return true;
  } catch {
    return false;
  }
})();

/** A CA, and a server certificate for 127.0.0.1 / localhost signed by it. */
function makePki(dir: string) {
  const f = (n: string) => path.join(dir, n);
  const ossl = (...a: string[]) => execFileSync('openssl', a, { stdio: 'pipe' });
  ossl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.crt'),
    '-days',
    '2',
    '-subj',
    '/CN=IronLedger test CA',
  );
  ossl(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    f('server.key'),
    '-out',
    f('server.csr'),
    '-subj',
    '/CN=127.0.0.1',
  );
  fs.writeFileSync(f('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  ossl(
    'x509',
    '-req',
    '-in',
    f('server.csr'),
    '-CA',
    f('ca.crt'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-out',
    f('server.crt'),
    '-days',
    '2',
    '-extfile',
    f('san.ext'),
  );
  return { ca: f('ca.crt'), cert: f('server.crt'), key: f('server.key') };
}

describe.skipIf(embedded!.skip || !openssl)('TLS: mqtts into the edge, https into the cloud', () => {
  let dir: string;
  let cloud: CloudHandle;
  let edge: EdgeHandle;

  afterAll(async () => {
    await edge?.stop();
    await cloud?.proc.stop();
    if (dir) removeDir(dir);
  });

  it('carries a reading over TLS end to end and refuses a client that does not trust the CA', async () => {
    dir = tempDir('edge-tls-');
    const pki = makePki(dir);
    const gatewayId = 'gw-tls';
    cloud = await startCloud(dir, ['U1'], gatewayId, { tls: { certFile: pki.cert, keyFile: pki.key } });
    expect(cloud.url).toMatch(/^https:/);
    const creds = makeCredentials(['U1']);
    edge = await startEdge(dir, {
      gatewayId,
      mqtt: { mode: 'embedded', port: 0, tls: { certFile: pki.cert, keyFile: pki.key, port: 0 } },
      auth: { units: creds.hashes },
      buffer: { path: path.join(dir, 'edge.db') },
      cloud: { url: cloud.url, token: cloud.gatewayToken, caFile: pki.ca, maxBatchAgeMs: 50 },
      http: { port: 0 },
    });
    const ready = edge.proc.logs().find((l) => l.event === 'ready')!;
    const tlsPort = ready.tlsPort as number;
    expect(tlsPort).toBeGreaterThan(0);

    // No trust in the private CA: the handshake fails, nothing is sent.
    const untrusting = await new Promise<string>((resolve) => {
      const c = mqtt.connect(`mqtts://127.0.0.1:${tlsPort}`, {
        clientId: 'U1',
        username: 'U1',
        password: creds.secrets.U1,
        reconnectPeriod: 0,
      });
      c.once('connect', () => resolve('connected'));
      c.once('error', (e) => resolve(e.message));
    });
    expect(untrusting).toMatch(/self[- ]signed|unable to verify|certificate/i);

    const c = await mqtt.connectAsync(`mqtts://127.0.0.1:${tlsPort}`, {
      clientId: 'U1',
      username: 'U1',
      password: creds.secrets.U1,
      ca: fs.readFileSync(pki.ca),
      reconnectPeriod: 0,
    });
    const r = reading('U1', 1);
    await c.publishAsync('ironledger/v1/units/U1/telemetry', JSON.stringify(r), { qos: 1 });
    await c.endAsync();
    await waitFor(() => cloud.readings().keys.has(`U1@${r.ts}`), {
      timeoutMs: 10_000,
      what: 'the reading stored by the https cloud',
    });
    // …and the edge heard the https cloud's 200 for it.
    await edge.proc.waitForEvent('forward.batch_sent', {}, 10_000);
  });
});
