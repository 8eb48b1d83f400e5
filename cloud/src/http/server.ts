/**
 * The HTTP server: node:http, one router, JSON in and out, every error as problem+json.
 * A handler's thrown HttpProblem becomes its answer; anything else is a logged 500.
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@ironledger/logger';
import type { Metrics } from '../metrics.js';
import { AuthFailures } from './auth-failures.js';
import { HttpProblem, PROBLEM_CONTENT_TYPE, toHttpProblem } from './problem.js';
import type { Reply, RequestContext, Router } from './router.js';

export interface HttpServer {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

export async function startHttpServer(opts: {
  host: string;
  port: number;
  /** PEM certificate and key: HTTPS instead of HTTP. */
  tls?: { certFile: string; keyFile: string } | undefined;
  router: Router;
  logger: Logger;
  metrics: Metrics;
}): Promise<HttpServer> {
  const { router, logger, metrics } = opts;
  const authFailures = new AuthFailures(logger, metrics.registry);
  // Answers being held back because their source keeps failing authentication: bounded, so
  // slowing a flood down cannot itself pile up sockets without end.
  const MAX_DELAYED_ANSWERS = 1000;
  let delayedAnswers = 0;
  const serverOpts = { requestTimeout: 120_000 /* 120 s: a slow edge link */ };
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    void handle(req, res);
  };
  const server = opts.tls
    ? https.createServer(
        { ...serverOpts, cert: fs.readFileSync(opts.tls.certFile), key: fs.readFileSync(opts.tls.keyFile) },
        onRequest,
      )
    : http.createServer(serverOpts, onRequest);
  server.keepAliveTimeout = 5_000; // 5 s

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    const method = req.method ?? 'GET';
    let route = '(unmatched)';
    let reply: Reply;
    try {
      const url = requestUrl(req.url);
      const m = router.match(method, url.pathname);
      route = m.route;
      const ctx: RequestContext = {
        req,
        res,
        method,
        path: url.pathname,
        params: m.params,
        query: url.searchParams,
        route,
      };
      reply = await m.handler(ctx);
    } catch (e) {
      const p = toHttpProblem(e);
      if (p.status >= 500 && !(e instanceof HttpProblem))
        logger.error({ event: 'http_error', err: e, method, url: req.url }, 'request failed');
      reply = {
        status: p.status,
        body: p.toProblem(req.url),
        headers: { ...p.extra.headers, 'content-type': PROBLEM_CONTENT_TYPE },
      };
      if (p.status === 401) {
        const source = req.socket.remoteAddress ?? 'unknown';
        const delayMs = authFailures.fail(source, String(p.code), { method, route });
        if (delayMs > 0) {
          if (delayedAnswers >= MAX_DELAYED_ANSWERS) {
            req.socket.destroy();
            return;
          }
          delayedAnswers++;
          await new Promise((r) => setTimeout(r, delayMs));
          delayedAnswers--;
        }
      }
    }
    send(req, res, reply);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    metrics.httpRequests.inc({ route, method, status: String(reply.status) });
    metrics.httpDuration.observe({ route }, seconds);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const hostForUrl = opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host;
  return {
    port,
    url: `${opts.tls ? 'https' : 'http'}://${hostForUrl.includes(':') ? `[${hostForUrl}]` : hostForUrl}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        authFailures.close();
        server.close(() => resolve());
        server.closeIdleConnections();
        // In-flight requests get a grace period; then sockets are cut.
        setTimeout(() => server.closeAllConnections(), 10_000).unref();
      }),
  };
}

function send(req: http.IncomingMessage, res: http.ServerResponse, reply: Reply): void {
  if (res.headersSent) return;
  const headers: Record<string, string> = { ...reply.headers };
  let payload: string | undefined;
  if (reply.text !== undefined) {
    payload = reply.text;
    headers['content-type'] ??= reply.contentType ?? 'text/plain; charset=utf-8';
  } else if (reply.body !== undefined) {
    payload = JSON.stringify(reply.body);
    headers['content-type'] ??= 'application/json; charset=utf-8';
  }
  // A request whose body we did not read completely (413, early auth failure): close the
  // connection rather than read and discard what may be megabytes.
  if (!req.complete) headers.connection = 'close';
  res.writeHead(reply.status, headers);
  res.end(req.method === 'HEAD' ? undefined : payload);
}

function requestUrl(target: string | undefined): URL {
  try {
    return new URL(target ?? '/', 'http://localhost');
  } catch {
    throw new HttpProblem(400, 'PATH_INVALID', 'the request target is not a valid path', {
      title: 'malformed path',
    });
  }
}
