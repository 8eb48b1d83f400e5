/**
 * Turns one MQTT message into a forwarded reading (Contract 1 → Contract 2 element) or a
 * quarantine reason. Pure: no I/O, never throws, whatever the bytes.
 */
import {
  type ForwardedReading,
  isInvalidClock,
  type ParsedTopic,
  parseUnitTopic,
  type Reading,
} from '@ironledger/contracts';
import { decodeAemp } from './aemp.js';
import { decodeCanonical } from './canonical.js';
import { type DecodeResult, MAX_PAYLOAD_BYTES } from './decode-result.js';

export type { DecodeResult } from './decode-result.js';
export { MAX_PAYLOAD_BYTES } from './decode-result.js';

/** `parsed`: the topic already parsed by the caller (the broker parses it for the ACL). */
export function decodeMessage(
  topic: string,
  payload: Buffer,
  receivedAtMs: number,
  parsed?: ParsedTopic | null,
): DecodeResult {
  const t = parsed === undefined ? parseUnitTopic(topic) : parsed;
  if (!t) return { ok: false, reason: `topic: ${topic} is not a unit topic` };
  if (t.kind !== 'telemetry' && t.kind !== 'aemp')
    return { ok: false, reason: `topic: ${t.kind} messages carry no reading` };
  if (payload.length > MAX_PAYLOAD_BYTES)
    return { ok: false, reason: `payload_too_large: ${payload.length} bytes` };
  const r = t.kind === 'telemetry' ? decodeCanonical(payload, t.unitId) : decodeAemp(payload, t.unitId);
  if (!r.ok) return r;
  return { ok: true, reading: toForwarded(r.reading, receivedAtMs, t.kind) };
}

let lastReceivedAtMs = Number.NaN;
let lastReceivedAt = '';

/** ISO form of a receive time; a burst of messages shares a millisecond, so the last is kept. */
function receivedAtIso(ms: number): string {
  if (ms !== lastReceivedAtMs) {
    lastReceivedAt = new Date(ms).toISOString();
    lastReceivedAtMs = ms;
  }
  return lastReceivedAt;
}

/**
 * The forwarded form of a freshly decoded reading. Takes ownership of `r` (the decoders
 * return a new object): the receive time and source are added in place, after the
 * reading's own fields.
 */
export function toForwarded(
  r: Reading,
  receivedAtMs: number,
  source: 'telemetry' | 'aemp',
): ForwardedReading {
  const out = r as ForwardedReading;
  out.receivedAt = receivedAtIso(receivedAtMs);
  out.source = source;
  // Contract 1: a ts that cannot be true is held with that reason and its receive time.
  if (isInvalidClock(r.ts, receivedAtMs)) out.flags = ['clock_invalid'];
  return out;
}
