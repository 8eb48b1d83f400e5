/**
 * What Contract 1 keeps out of usage, and how a person lets it back in:
 *   GET  /v1/held                       viewer    held readings and conflicting versions
 *   POST /v1/held/{id}/release          approver  as-is or at a rebased ts
 *   GET  /v1/conflicts                  viewer    open (default), resolved or all conflicts
 *   POST /v1/conflicts/{id}/resolve     approver  keep the first or second version
 * A release or resolution marks the unit dirty, so the next consolidation re-opens the unposted
 * days it touches (or adjusts posted ones), and is audited with who, what and why.
 */
import {
  type Conflict,
  ConflictResolveRequestSchema,
  ConflictsQuerySchema,
  HeldReleaseRequestSchema,
  type HeldReleaseResponse,
} from '@ironledger/contracts';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import { decideRelease, decideResolve, isRefusal, type Refusal } from '../../domain/held-readings.js';
import type { ConflictRecord } from '../../store/store.js';
import { requireRole } from '../auth.js';
import { readJson, readQuery } from '../json.js';
import { HttpProblem } from '../problem.js';
import type { Router } from '../router.js';

const refusal = (r: Refusal) => new HttpProblem(r.status, r.code, r.detail, { title: 'not possible now' });

export function toWireConflict(c: ConflictRecord): Conflict {
  return {
    id: c.id,
    unitId: c.unitId,
    ts: c.ts,
    status: c.status,
    openedAt: c.openedAt,
    versions: c.versions.map((v, i) => ({
      readingId: v.id,
      ordinal: i + 1,
      status: v.status,
      engineHours: v.engineHours,
      idleHours: v.idleHours,
      receivedAt: v.receivedAt,
      storedAt: v.storedAt,
      batchId: v.batchId,
      gatewayId: v.gatewayId,
    })),
    resolution: c.resolution,
  };
}

export function heldRoutes(router: Router, app: AppContext): void {
  router.on('GET', '/v1/held', async (ctx) => {
    await requireRole(ctx.req, app.tokens, 'viewer');
    const q = readQuery(
      ctx,
      z
        .object({ unit: z.string().optional(), from: z.string().optional(), to: z.string().optional() })
        .strict(),
    );
    return { status: 200, body: { readings: await app.store.heldReadings(q) } };
  });

  router.on('POST', '/v1/held/:id/release', async (ctx) => {
    const who = await requireRole(ctx.req, app.tokens, 'approver');
    const req = await readJson(ctx, HeldReleaseRequestSchema);
    const id = ctx.params.id!;
    const reading = await app.store.getReading(id);
    if (!reading) throw HttpProblem.from('NOT_FOUND', `reading ${id} not found`);
    const nowMs = app.now();
    const op = decideRelease(reading, req, { actor: who.name, nowMs });
    if (isRefusal(op)) throw refusal(op);
    const r = await app.store.releaseHeld(op);
    switch (r.kind) {
      case 'not_found':
        throw HttpProblem.from('NOT_FOUND', `reading ${id} not found`);
      case 'not_held':
        throw new HttpProblem(409, 'READING_NOT_HELD', `reading ${id} is ${r.reading.status}, not held`);
      case 'stale':
        throw new HttpProblem(
          409,
          'READING_CHANGED',
          `reading ${id} changed meanwhile (now at ${r.reading.ts}): read it again and decide`,
        );
      case 'identity_taken':
        throw new HttpProblem(
          409,
          'READING_IDENTITY_TAKEN',
          `${reading.unitId} already has reading ${r.by.id} at ${r.by.ts} (${r.by.status}): pick another ts`,
          { title: 'a reading with that identity exists' },
        );
    }
    app.logger.info(
      {
        event: 'reading_released',
        actor: who.name,
        readingId: id,
        unitId: r.reading.unitId,
        ts: r.reading.ts,
        reportedTs: r.reading.reportedTs,
      },
      'held reading released',
    );
    const body: HeldReleaseResponse = {
      id,
      unitId: r.reading.unitId,
      ts: r.reading.ts,
      reportedTs: r.reading.reportedTs,
      rebased: r.reading.ts !== r.reading.reportedTs,
      engineHours: r.reading.engineHours,
      releasedBy: who.name,
      releasedAt: op.at,
      reason: req.reason,
    };
    return { status: 200, body };
  });

  router.on('GET', '/v1/conflicts', async (ctx) => {
    await requireRole(ctx.req, app.tokens, 'viewer');
    const q = readQuery(ctx, ConflictsQuerySchema);
    return { status: 200, body: { conflicts: (await app.store.listConflicts(q)).map(toWireConflict) } };
  });

  router.on('POST', '/v1/conflicts/:id/resolve', async (ctx) => {
    const who = await requireRole(ctx.req, app.tokens, 'approver');
    const req = await readJson(ctx, ConflictResolveRequestSchema);
    const id = ctx.params.id!;
    const conflict = await app.store.getConflict(id);
    if (!conflict) throw HttpProblem.from('NOT_FOUND', `conflict ${id} not found`);
    const op = decideResolve(conflict, req, { actor: who.name, nowMs: app.now() });
    if (isRefusal(op)) throw refusal(op);
    const r = await app.store.resolveConflict(op);
    if (r === 'not_found') throw HttpProblem.from('NOT_FOUND', `conflict ${id} not found`);
    if (r === 'already_resolved')
      throw new HttpProblem(409, 'CONFLICT_RESOLVED', `conflict ${id} was resolved meanwhile`);
    if (r === 'stale')
      throw new HttpProblem(
        409,
        'CONFLICT_CHANGED',
        `conflict ${id} got another version meanwhile: list it again and decide`,
      );
    app.logger.info(
      {
        event: 'conflict_resolved',
        actor: who.name,
        conflictId: id,
        unitId: conflict.unitId,
        ts: conflict.ts,
        keep: req.keep,
        keptStatus: op.keptStatus,
      },
      'conflict resolved',
    );
    return { status: 200, body: toWireConflict((await app.store.getConflict(id))!) };
  });
}
