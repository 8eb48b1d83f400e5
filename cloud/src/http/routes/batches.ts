/**
 * Contract 2: `POST /v1/batches` and `POST /v1/gateways/{id}/heartbeat`.
 * Order of checks: auth (401) → overload, all slots or this gateway's share (503) → size (413)
 * and body deadline (408) → JSON/schema (400) → gateway identity (403) → one transaction → 200.
 * A reading of a unit the cloud does not know is stored held (`unknown_unit`) and released
 * when the unit is registered: one unknown unit never refuses the other units' readings.
 * A 200 is sent only after the transaction has committed, so it means durably stored.
 */
import { BatchAnswerSchema, HeartbeatSchema } from '@ironledger/contracts';
import type { GatewayConfig } from '../../config.js';
import type { AppContext } from '../../context.js';
import { parseBatch, toIngestReading } from '../../ingest/parse-batch.js';
import { bearerToken, hashToken } from '../auth.js';
import { readBody } from '../body.js';
import { formatPath, HttpProblem } from '../problem.js';
import type { Reply, RequestContext, Router } from '../router.js';

function gatewayFor(app: AppContext, ctx: RequestContext): GatewayConfig {
  const gw = app.gatewayByTokenHash.get(hashToken(bearerToken(ctx.req)));
  if (!gw) throw HttpProblem.from('AUTH_INVALID', 'unknown gateway token');
  return gw;
}

export function batchRoutes(router: Router, app: AppContext): void {
  let inFlight = 0;
  // Slots held per gateway: slow uploads of one gateway cannot take every slot.
  const perGateway = new Map<string, number>();

  router.on('POST', '/v1/batches', async (ctx): Promise<Reply> => {
    const retryAfter = String(app.config.http.retryAfterS);
    if (app.stopping.value) {
      app.metrics.rejected.inc({ reason: 'SHUTTING_DOWN' });
      throw HttpProblem.from('OVERLOADED', 'the cloud is shutting down', {
        headers: { 'Retry-After': retryAfter },
      });
    }
    let gw: GatewayConfig;
    try {
      gw = gatewayFor(app, ctx);
    } catch (e) {
      if (e instanceof HttpProblem) app.metrics.rejected.inc({ reason: String(e.code) });
      throw e;
    }
    const mine = perGateway.get(gw.gatewayId) ?? 0;
    if (inFlight >= app.config.http.maxConcurrentIngests || mine >= app.config.http.maxIngestsPerGateway) {
      app.metrics.rejected.inc({ reason: 'OVERLOADED' });
      throw HttpProblem.from(
        'OVERLOADED',
        mine >= app.config.http.maxIngestsPerGateway
          ? `gateway ${gw.gatewayId} has ${mine} ingests in flight (its share is ${app.config.http.maxIngestsPerGateway})`
          : `more than ${app.config.http.maxConcurrentIngests} ingests in flight`,
        {
          headers: { 'Retry-After': retryAfter },
        },
      );
    }
    inFlight++;
    perGateway.set(gw.gatewayId, mine + 1);
    app.metrics.ingestsInFlight.set(inFlight);
    try {
      return await ingest(app, ctx, gw);
    } catch (e) {
      if (e instanceof HttpProblem) app.metrics.rejected.inc({ reason: String(e.code) });
      app.metrics.batches.inc({ outcome: 'rejected' });
      throw e;
    } finally {
      inFlight--;
      const left = (perGateway.get(gw.gatewayId) ?? 1) - 1;
      if (left > 0) perGateway.set(gw.gatewayId, left);
      else perGateway.delete(gw.gatewayId);
      app.metrics.ingestsInFlight.set(inFlight);
    }
  });

  router.on('POST', '/v1/gateways/:gatewayId/heartbeat', async (ctx): Promise<Reply> => {
    const gw = gatewayFor(app, ctx);
    if (gw.gatewayId !== ctx.params.gatewayId)
      throw HttpProblem.from(
        'AUTH_FORBIDDEN',
        `gateway ${gw.gatewayId} may not report for ${ctx.params.gatewayId}`,
      );
    // 1 MiB: a heartbeat is a few hundred bytes
    const body = await readBody(ctx.req, 1024 * 1024, app.config.http.bodyTimeoutMs);
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch (e) {
      throw new HttpProblem(400, 'HEARTBEAT_INVALID', `body is not valid JSON: ${(e as Error).message}`);
    }
    const r = HeartbeatSchema.safeParse(json);
    if (!r.success) {
      const errors = r.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message }));
      throw new HttpProblem(400, 'HEARTBEAT_INVALID', `${errors[0]!.path}: ${errors[0]!.message}`, {
        errors,
      });
    }
    const at = new Date(app.now()).toISOString();
    await app.store.recordHeartbeat(gw.gatewayId, r.data, at);
    return { status: 200, body: { gatewayId: gw.gatewayId, receivedAt: at } };
  });
}

async function ingest(app: AppContext, ctx: RequestContext, gw: GatewayConfig): Promise<Reply> {
  const body = await readBody(ctx.req, app.config.http.bodyLimitBytes, app.config.http.bodyTimeoutMs);
  const started = process.hrtime.bigint();
  const batch = parseBatch(body);
  // A gateway may only post as itself.
  if (batch.gatewayId !== gw.gatewayId)
    throw HttpProblem.from(
      'AUTH_FORBIDDEN',
      `token of gateway ${gw.gatewayId} cannot post as ${batch.gatewayId}`,
    );
  const nowMs = app.now();
  const siteId = gw.siteId ?? null;
  const result = await app.store.ingestBatch({
    gatewayId: gw.gatewayId,
    batchId: batch.batchId,
    siteId,
    storedAt: new Date(nowMs).toISOString(),
    readings: batch.readings.map((r, i) =>
      toIngestReading(r, nowMs, (u) => app.master.units.has(u), batch.texts?.[i]),
    ),
  });
  if (result.kind === 'batch_id_taken')
    throw HttpProblem.from(
      'CONFLICT',
      `batchId ${batch.batchId} was already used by gateway ${result.byGatewayId}`,
    );
  app.metrics.ingestDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
  const answer = BatchAnswerSchema.parse({
    batchId: batch.batchId,
    accepted: result.accepted,
    duplicates: result.duplicates,
    conflicts: result.conflicts,
  });
  if (result.kind === 'stored') {
    app.metrics.batches.inc({ outcome: 'stored' });
    app.metrics.readings.inc({ outcome: 'accepted' }, result.accepted);
    app.metrics.readings.inc({ outcome: 'duplicate' }, result.duplicates);
    app.metrics.readings.inc({ outcome: 'conflict' }, result.conflicts);
    app.metrics.readings.inc({ outcome: 'held' }, result.held);
    app.logger.info(
      { event: 'batch_stored', gatewayId: gw.gatewayId, ...answer, held: result.held },
      'batch stored',
    );
  } else {
    app.metrics.batches.inc({ outcome: 'replayed' });
    app.logger.info(
      { event: 'batch_replayed', gatewayId: gw.gatewayId, batchId: batch.batchId },
      'batch already stored',
    );
  }
  return { status: 200, body: answer };
}
