/**
 * What a person may do with the readings Contract 1 keeps out of usage, decided over plain
 * data (no I/O): release a held reading (as-is or at a rebased ts) and resolve a conflict by
 * keeping one version. Each decision either refuses with a reason or yields the one store
 * operation to apply, including its audit entry (who, what, why).
 */
import {
  type ConflictKeep,
  type HeldReleaseRequest,
  isInvalidClock,
  readingKey,
} from '@ironledger/contracts';
import { toIngestReading } from '../ingest/parse-batch.js';
import type { ReleaseHeld, ResolveConflict } from '../store/store.js';
import type { ConflictRecord, ReadingRecord } from './types.js';

export type Refusal = {
  refused: true;
  status: 409 | 422;
  code: string;
  detail: string;
};

const refuse = (status: 409 | 422, code: string, detail: string): Refusal => ({
  refused: true,
  status,
  code,
  detail,
});

export function decideRelease(
  reading: ReadingRecord,
  req: HeldReleaseRequest,
  ctx: { actor: string; nowMs: number },
): Refusal | ReleaseHeld {
  if (reading.status === 'conflict')
    return refuse(
      409,
      'READING_IN_CONFLICT',
      `reading ${reading.id} is one version of conflict ${reading.conflictId}: resolve the conflict instead`,
    );
  if (reading.status !== 'held')
    return refuse(409, 'READING_NOT_HELD', `reading ${reading.id} is ${reading.status}, not held`);
  const ts = req.rebaseTs ?? reading.ts;
  // [Contract 1] a ts before 2000 or more than 5 min ahead of the clock can't be true.
  if (isInvalidClock(ts, ctx.nowMs))
    return refuse(
      422,
      'READING_TS_INVALID',
      req.rebaseTs
        ? `rebaseTs ${ts} is not a possible clock (before 2000 or ahead of now)`
        : `ts ${ts} is still not a possible clock: release it with a rebased ts`,
    );
  const at = new Date(ctx.nowMs).toISOString();
  return {
    id: reading.id,
    expectTs: reading.ts,
    ts,
    at,
    audit: {
      actor: ctx.actor,
      action: 'reading.release',
      target: readingKey({ unitId: reading.unitId, ts: reading.reportedTs }),
      detail: JSON.stringify({
        readingId: reading.id,
        ts,
        rebased: ts !== reading.ts,
        heldFor: reading.holdReason,
        reason: req.reason,
      }),
    },
  };
}

export function decideResolve(
  conflict: ConflictRecord,
  req: { keep: ConflictKeep; reason: string },
  ctx: { actor: string; nowMs: number },
): Refusal | ResolveConflict {
  if (conflict.status === 'resolved') {
    const r = conflict.resolution!;
    return refuse(
      409,
      'CONFLICT_RESOLVED',
      `conflict ${conflict.id} was resolved by ${r.by} at ${r.at} (kept the ${r.keep} version)`,
    );
  }
  const index = req.keep === 'first' ? 0 : 1;
  const kept = conflict.versions[index];
  if (!kept)
    return refuse(
      409,
      'CONFLICT_VERSION_MISSING',
      `conflict ${conflict.id} has ${conflict.versions.length} stored version(s): there is no ${req.keep} one yet`,
    );
  // A version a person released before keeps its vouched-for clock; otherwise the kept one is
  // held again if its own clock is impossible (or its gateway flagged it), as at ingest.
  const hold = kept.released ? null : toIngestReading(kept.body, Date.parse(kept.storedAt)).holdReason;
  const at = new Date(ctx.nowMs).toISOString();
  return {
    id: conflict.id,
    keep: req.keep,
    keepReadingId: kept.id,
    keptStatus: hold ? 'held' : 'ok',
    keptHoldReason: hold,
    versionIds: conflict.versions.map((v) => v.id),
    reason: req.reason,
    at,
    audit: {
      actor: ctx.actor,
      action: 'conflict.resolve',
      target: readingKey({ unitId: conflict.unitId, ts: conflict.ts }),
      detail: JSON.stringify({
        conflictId: conflict.id,
        keep: req.keep,
        keptReadingId: kept.id,
        supersededReadingIds: conflict.versions.filter((v) => v.id !== kept.id).map((v) => v.id),
        reason: req.reason,
      }),
    },
  };
}

export function isRefusal(x: Refusal | object): x is Refusal {
  return (x as Refusal).refused === true;
}
