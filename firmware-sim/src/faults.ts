/**
 * The failure modes of real telematics units, each switchable and seeded. Fleet-level
 * choices (which units get a gap, a reset, a skewed clock…) come from one stream per fault
 * kind; per-reading choices (duplicate, malformed…) from one stream per (fault kind, unit).
 * Switching one fault on or off therefore never changes what another fault does.
 *
 * | kind        | what the unit does                                                   |
 * | ----------- | -------------------------------------------------------------------- |
 * | duplicate   | publishes a reading twice (two QoS 1 messages, same content)          |
 * | redelivery  | loses its connection right after a PUBLISH, before the PUBACK, and    |
 * |             | resends after reconnect (DUP=1)                                       |
 * | reorder     | holds a burst of readings and sends them newest first                 |
 * | gap         | is offline for hours, keeps counting, then sends the backlog           |
 * | clock1970   | reports ts counted from 1970-01-01 until its GPS fix                   |
 * | skew        | its clock runs a fixed number of seconds off                          |
 * | reset       | ECU swapped in the workshop: meters restart near 0 (engine off)        |
 * | jump        | the hour meter leaps by a fixed amount and carries on from there       |
 * | malformed   | publishes a broken payload on its own topic besides the real reading   |
 * | impersonate | publishes a reading under another unit's id with its own credentials   |
 */
import { SIM_FAULT_KINDS } from '@ironledger/contracts';
import type { Prng } from './prng.js';

/** The fault kinds, as the truth file's schema (contracts/sim.ts) names them. */
export const FAULT_KINDS = SIM_FAULT_KINDS;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultOptions {
  enabled: FaultKind[];
  /** Per reading: chance it is published twice. */
  duplicateRate: number;
  /** Per reading: chance the connection is cut right after publishing it. */
  redeliveryRate: number;
  /** Per reading: chance a reversed burst starts here; burst length in readings. */
  reorderRate: number;
  reorderBurst: number;
  /** Share of units that go offline once, and for how long (hours). */
  gapUnits: number;
  gapHours: number;
  /** Share of units whose first readings carry a 1970 clock, and how many readings. */
  clock1970Units: number;
  clock1970Readings: number;
  /** Share of units with a skewed clock, and by how much (seconds; sign is seeded). */
  skewUnits: number;
  skewSeconds: number;
  /** Share of units whose ECU is replaced; optional fixed instant of the swap. */
  resetUnits: number;
  resetAtMs: number | null;
  /** Share of units whose hour meter jumps, and by how many hours. */
  jumpUnits: number;
  jumpHours: number;
  /** Per reading: chance of an extra malformed payload. */
  malformedRate: number;
  /** Per reading: chance of an extra reading published under another unit's id. */
  impersonateRate: number;
}

export const DEFAULT_FAULT_OPTIONS: FaultOptions = {
  enabled: [],
  duplicateRate: 0.02,
  redeliveryRate: 0.005,
  reorderRate: 0.01,
  reorderBurst: 5,
  gapUnits: 0.2,
  gapHours: 3,
  clock1970Units: 0.2,
  clock1970Readings: 6,
  skewUnits: 0.2,
  skewSeconds: 90,
  resetUnits: 0.2,
  resetAtMs: null,
  jumpUnits: 0.2,
  jumpHours: 1000,
  malformedRate: 0.01,
  impersonateRate: 0.002,
};

/** Per-unit fault plan, decided before the unit's timeline is built. */
export interface UnitFaults {
  gap?: { fromMs: number; toMs: number };
  clock1970?: { readings: number; bootOffsetS: number };
  skew?: { seconds: number };
  reset?: { atMs: number; windowMs: number; engineAfterS: number; idleAfterS: number; fuelAfterL: number };
  jump?: { atMs: number; hours: number };
}

export function isOn(f: FaultOptions, kind: FaultKind): boolean {
  return f.enabled.includes(kind);
}

/**
 * Picks `share` of `eligible` (at least one when the fault is on and anyone is eligible),
 * with the fault kind's own stream.
 */
export function pickUnits(eligible: readonly string[], share: number, prng: Prng): Set<string> {
  if (eligible.length === 0 || share <= 0) return new Set();
  const n = Math.min(eligible.length, Math.max(1, Math.round(share * eligible.length)));
  return new Set(prng.shuffle(eligible).slice(0, n));
}

/** Variants of broken payloads a unit's firmware or link has been seen to produce. */
export const MALFORMED_VARIANTS = [
  'truncated-json',
  'not-json',
  'missing-engineHours',
  'negative-meter',
  'string-meter',
  'unknown-version',
  'unit-mismatch',
  'bad-ts',
] as const;
export type MalformedVariant = (typeof MALFORMED_VARIANTS)[number];

/**
 * A broken payload derived from a real reading payload. `otherUnitId` is used by
 * `unit-mismatch` (payload names another unit than the topic).
 */
export function malformedPayload(
  variant: MalformedVariant,
  reading: Record<string, unknown>,
  otherUnitId: string,
): string {
  const json = JSON.stringify(reading);
  switch (variant) {
    case 'truncated-json':
      return json.slice(0, Math.max(1, Math.floor(json.length / 2)));
    case 'not-json':
      return `ENGHRS=${String(reading.engineHours)};TS=${String(reading.ts)}\r\n`;
    case 'missing-engineHours': {
      const { engineHours: _drop, ...rest } = reading;
      return JSON.stringify(rest);
    }
    case 'negative-meter':
      return JSON.stringify({ ...reading, engineHours: -Math.abs(Number(reading.engineHours) || 1) });
    case 'string-meter':
      return JSON.stringify({ ...reading, engineHours: String(reading.engineHours) });
    case 'unknown-version':
      return JSON.stringify({ ...reading, v: 2 });
    case 'unit-mismatch':
      return JSON.stringify({ ...reading, unitId: otherUnitId });
    case 'bad-ts':
      return JSON.stringify({ ...reading, ts: '2026-13-45T25:61:00Z' });
  }
}
