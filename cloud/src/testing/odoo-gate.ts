/**
 * A real HTTP hop in front of the Odoo double that can hold one call until the test lets it
 * go: the way to make Odoo "slow" at exactly the moment a test needs, without sleeping.
 *
 * `hold({ method, model, when })` arms the gate for the next matching call (JSON-2 path
 * `/json/2/<model>/<method>`, or JSON-RPC `execute_kw` arguments): `when: 'after'` lets Odoo
 * carry the call out and holds back only its answer (Odoo has the record, the cloud has not
 * heard yet); `when: 'before'` holds the request before Odoo sees it. `arrived()` resolves
 * once the held call is at the gate; `release()` lets it through. Every other call passes.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';

export interface OdooGate {
  url: string;
  hold(match: { method: string; model?: string; when: 'before' | 'after' }): void;
  /** Resolves when the armed call has reached the gate (and, for `after`, Odoo has done it). */
  arrived(): Promise<void>;
  release(): void;
  /** Calls that went through, as `model.method`. */
  calls: string[];
  stop(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The (model, method) a call names, from its JSON-2 path or its execute_kw arguments. */
function callOf(path: string, body: Buffer): { model?: string; method?: string } {
  const m = /^\/json\/2\/([^/]+)\/([^/?]+)/.exec(path);
  if (m) return { model: m[1], method: m[2] };
  try {
    const args = JSON.parse(body.toString('utf8'))?.params?.args;
    if (Array.isArray(args) && typeof args[3] === 'string')
      return { model: args[3], method: String(args[4]) };
  } catch {
    // not JSON: passes as it is
  }
  return {};
}

export async function startOdooGate(target: string): Promise<OdooGate> {
  let armed: { method: string; model?: string; when: 'before' | 'after' } | null = null;
  let opened: () => void = () => {};
  let gate: Promise<void> = Promise.resolve();
  let signalArrival: () => void = () => {};
  let arrival: Promise<void> = Promise.resolve();
  const calls: string[] = [];

  const server: Server = createServer(async (req, res) => {
    try {
      const body = await readBody(req);
      const path = req.url ?? '/';
      const call = callOf(path, body);
      calls.push(`${call.model ?? '-'}.${call.method ?? path}`);
      const held =
        armed !== null && call.method === armed.method && (!armed.model || armed.model === call.model)
          ? armed
          : null;
      if (held) armed = null;
      if (held?.when === 'before') {
        signalArrival();
        await gate;
      }
      const headers = { ...req.headers };
      delete headers.host;
      delete headers['content-length'];
      const up = await request(`${target}${path}`, {
        method: (req.method ?? 'GET') as 'GET',
        headers,
        body: req.method === 'GET' || req.method === 'HEAD' ? undefined : body,
      });
      const answer = Buffer.from(await up.body.arrayBuffer());
      if (held?.when === 'after') {
        signalArrival();
        await gate;
      }
      const out: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(up.headers))
        if (v !== undefined && k !== 'transfer-encoding' && k !== 'connection' && k !== 'content-length')
          out[k] = v;
      res.writeHead(up.statusCode, out);
      res.end(answer);
    } catch (e) {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(String(e));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    hold(match) {
      armed = match;
      gate = new Promise<void>((r) => {
        opened = r;
      });
      arrival = new Promise<void>((r) => {
        signalArrival = r;
      });
    },
    arrived: () => arrival,
    release: () => opened(),
    stop: async () => {
      opened();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
