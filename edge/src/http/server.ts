/**
 * Health, readiness, metrics and status over plain HTTP (node:http): /healthz (the process
 * answers), /readyz (broker listening, buffer open, not stopping), /metrics (Prometheus
 * text), /v1/status (JSON, read by `ironledger-edge status`). Bind it to a private address:
 * it carries no authentication.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { EdgeMetrics } from './metrics.js';

export interface HttpDeps {
  host: string;
  port: number;
  metrics: EdgeMetrics;
  ready: () => boolean;
  status: () => unknown;
}

export interface HttpHandle {
  port: number;
  close(): Promise<void>;
}

export async function startHttp(deps: HttpDeps): Promise<HttpHandle> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, body: string, type = 'application/json') => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return send(405, JSON.stringify({ title: 'method not allowed', status: 405 }));
    switch (path) {
      case '/healthz':
        return send(200, '{"status":"ok"}');
      case '/readyz':
        return deps.ready() ? send(200, '{"status":"ready"}') : send(503, '{"status":"not ready"}');
      case '/metrics':
        deps.metrics.registry.metrics().then(
          (text) => send(200, text, deps.metrics.registry.contentType),
          (e: unknown) => send(500, JSON.stringify({ title: String(e), status: 500 })),
        );
        return;
      case '/v1/status':
        try {
          return send(200, JSON.stringify(deps.status()));
        } catch (e) {
          return send(500, JSON.stringify({ title: (e as Error).message, status: 500 }));
        }
      default:
        return send(404, JSON.stringify({ title: 'not found', status: 404 }));
    }
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(deps.port, deps.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
