/**
 * The parts of the contracts a sender needs at run time, without zod: the keys and canonical
 * content of a reading, the batch limit, and a check of the cloud's answer. The edge's
 * forwarder thread loads this module alone (`@ironledger/contracts/wire`), which keeps zod's
 * ~10 MB out of that thread; the schemas themselves stay the definition (wire.test.ts holds
 * this module to them).
 */
import type { BatchAnswer } from './batch.js';
import type { ForwardedReading, Reading } from './reading.js';

/** What a batch id may hold: 1-128 of letters, digits, "_", ".", ":", "-". */
export const BATCH_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;

/** Upper bound on readings per batch; the edge's batch size must not exceed it. */
export const MAX_READINGS_PER_BATCH = 10_000;

/** A reading's keys in `ReadingSchema`'s order: the order of its parsed output's keys. */
export const READING_KEYS = [
  'v',
  'unitId',
  'seq',
  'ts',
  'engineHours',
  'idleHours',
  'engineOn',
  'position',
  'speedKmh',
  'fuelUsedL',
  'odometerKm',
] as const satisfies ReadonlyArray<keyof Reading>;
/** A forwarded reading's keys in `ForwardedReadingSchema`'s order (the edge adds three). */
export const FORWARDED_READING_KEYS = [
  ...READING_KEYS,
  'receivedAt',
  'source',
  'flags',
] as const satisfies ReadonlyArray<keyof ForwardedReading>;

/** Stable identity key of a reading. */
export function readingKey(r: { unitId: string; ts: string }): string {
  return `${r.unitId}@${r.ts}`;
}

/**
 * Canonical content of a reading for "same identity, same content?" comparisons: the
 * reading's own facts with keys in a fixed order, without transport fields (receivedAt,
 * source, flags, seq).
 */
export function readingContent(r: Reading): string {
  return JSON.stringify([
    r.unitId,
    r.ts,
    r.engineHours,
    r.idleHours ?? null,
    r.engineOn ?? null,
    r.position ? [r.position.lat, r.position.lon] : null,
    r.speedKmh ?? null,
    r.fuelUsedL ?? null,
    r.odometerKm ?? null,
  ]);
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/** The cloud's 2xx answer to a batch (`BatchAnswerSchema`'s rules), or null when it is not one. */
export function readBatchAnswer(body: unknown): BatchAnswer | null {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return null;
  const b = body as Record<string, unknown>;
  if (typeof b.batchId !== 'string' || !BATCH_ID_PATTERN.test(b.batchId)) return null;
  if (!isCount(b.accepted) || !isCount(b.duplicates)) return null;
  if (b.conflicts !== undefined && !isCount(b.conflicts)) return null;
  return {
    batchId: b.batchId,
    accepted: b.accepted,
    duplicates: b.duplicates,
    ...(b.conflicts !== undefined ? { conflicts: b.conflicts } : {}),
  };
}
