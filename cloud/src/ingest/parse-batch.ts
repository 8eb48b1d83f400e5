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

/** Readings whose unit the cloud does not know: the whole batch is refused (422). */
export function unknownUnits(batch: Batch, isKnown: (unitId: string) => boolean): HttpProblem | null {
  const errors: Array<{ path: string; message: string }> = [];
  batch.readings.forEach((r, i) => {
    if (!isKnown(r.unitId) && errors.length < MAX_LISTED_ERRORS)
      errors.push({ path: `readings[${i}].unitId`, message: `unknown unit ${r.unitId}` });
  });
  if (errors.length === 0) return null;
  return new HttpProblem(422, 'BATCH_UNKNOWN_UNIT', `${errors[0]!.path}: ${errors[0]!.message}`, {
    errors,
    title: 'batch names units the cloud does not know',
  });
}

/**
 * Decides how a reading is kept: a ts before 2000 or more than 5 min ahead of the cloud's
 * clock (Contract 1), or the edge's own clock_invalid flag, holds it out of usage.
 */
export function toIngestReading(r: ForwardedReading, nowMs: number): IngestReading {
  const flags = r.flags ?? [];
  let holdReason: string | null = null;
  if (flags.includes('clock_invalid')) holdReason = 'clock_invalid: flagged by the gateway';
  else if (isInvalidClock(r.ts, nowMs))
    holdReason = `clock_invalid: ts ${r.ts} is before 2000 or ahead of the cloud clock`;
  return { reading: r, content: readingContent(r), holdReason, flaggedConflict: flags.includes('conflict') };
}
