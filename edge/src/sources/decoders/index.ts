/**
 * Turns one MQTT message into a forwarded reading (Contract 1 → Contract 2 element) or a
 * quarantine reason. Pure: no I/O, never throws, whatever the bytes.
 */
import { type ForwardedReading, isInvalidClock, parseUnitTopic, type Reading } from '@ironledger/contracts';
import { decodeAemp } from './aemp.js';
import { decodeCanonical } from './canonical.js';
import { type DecodeResult, MAX_PAYLOAD_BYTES } from './decode-result.js';

export type { DecodeResult } from './decode-result.js';
export { MAX_PAYLOAD_BYTES } from './decode-result.js';

export function decodeMessage(topic: string, payload: Buffer, receivedAtMs: number): DecodeResult {
  const t = parseUnitTopic(topic);
  if (!t) return { ok: false, reason: `topic: ${topic} is not a unit topic` };
  if (t.kind !== 'telemetry' && t.kind !== 'aemp')
    return { ok: false, reason: `topic: ${t.kind} messages carry no reading` };
  if (payload.length > MAX_PAYLOAD_BYTES)
    return { ok: false, reason: `payload_too_large: ${payload.length} bytes` };
  const r = t.kind === 'telemetry' ? decodeCanonical(payload, t.unitId) : decodeAemp(payload, t.unitId);
  if (!r.ok) return r;
  return { ok: true, reading: toForwarded(r.reading, receivedAtMs, t.kind) };
}

export function toForwarded(
  r: Reading,
  receivedAtMs: number,
  source: 'telemetry' | 'aemp',
): ForwardedReading {
  const out: ForwardedReading = { ...r, receivedAt: new Date(receivedAtMs).toISOString(), source };
  // Contract 1: a ts that cannot be true is held with that reason and its receive time.
  if (isInvalidClock(r.ts, receivedAtMs)) out.flags = ['clock_invalid'];
  return out;
}
