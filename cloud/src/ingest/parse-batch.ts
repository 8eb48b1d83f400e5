/**
 * Contract 2 validation of one batch body: JSON, then BatchSchema; every problem is named by
 * its path (`readings[3].engineHours`) so the edge can log exactly which reading failed.
 */
import {
  type Batch,
  BatchSchema,
  type ForwardedReading,
  isInvalidClock,
  readingContent,
} from '@ironledger/contracts';
import { formatPath, HttpProblem } from '../http/problem.js';
import type { IngestReading } from '../store/store.js';

/** At most this many field problems are listed in one answer. */
const MAX_LISTED_ERRORS = 50;

export function parseBatch(body: Buffer): Batch {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw new HttpProblem(400, 'BATCH_INVALID', `body is not valid JSON: ${(e as Error).message}`, {
      title: 'batch does not match Contract 2',
    });
  }
  const r = BatchSchema.safeParse(json);
  if (!r.success) {
    const errors = r.error.issues
      .slice(0, MAX_LISTED_ERRORS)
      .map((i) => ({ path: formatPath(i.path), message: i.message }));
    const first = errors[0]!;
    throw new HttpProblem(
      400,
      'BATCH_INVALID',
      `${r.error.issues.length} problem(s); first: ${first.path}: ${first.message}`,
      { errors },
    );
  }
  return r.data;
}

/** Hold reason of a reading whose unit is not registered; released when the unit is. */
export const UNKNOWN_UNIT_REASON_PREFIX = 'unknown_unit';

/**
 * Decides how a reading is kept: a ts before 2000 or more than 5 min ahead of the cloud's
 * clock (Contract 1), or the edge's own clock_invalid flag, holds it out of usage; so does a
 * unit the cloud does not know (stored, held `unknown_unit`, released on registration).
 */
export function toIngestReading(
  r: ForwardedReading,
  nowMs: number,
  isKnownUnit: (unitId: string) => boolean = () => true,
): IngestReading {
  const flags = r.flags ?? [];
  let holdReason: string | null = null;
  if (flags.includes('clock_invalid')) holdReason = 'clock_invalid: flagged by the gateway';
  else if (isInvalidClock(r.ts, nowMs))
    holdReason = `clock_invalid: ts ${r.ts} is before 2000 or ahead of the cloud clock`;
  else if (!isKnownUnit(r.unitId))
    holdReason = `${UNKNOWN_UNIT_REASON_PREFIX}: unit ${r.unitId} is not registered; released when it is`;
  return { reading: r, content: readingContent(r), holdReason, flaggedConflict: flags.includes('conflict') };
}
