/** Contract 1 canonical JSON reading on `ironledger/v1/units/{unitId}/telemetry`. */
import { type Reading, ReadingSchema } from '@ironledger/contracts';
import { fastReading } from './canonical-fast.js';
import { parseJson, zodReason } from './decode-result.js';

export function decodeCanonical(
  payload: Buffer,
  topicUnitId: string,
): { ok: true; reading: Reading } | { ok: false; reason: string } {
  const json = parseJson(payload);
  if (!json.ok) return json;
  const fast = fastReading(json.value, topicUnitId);
  if (fast) return { ok: true, reading: fast };
  const parsed = ReadingSchema.safeParse(json.value);
  if (!parsed.success) return { ok: false, reason: zodReason('schema', parsed.error.issues) };
  // Contract 1: unitId must equal the topic's, which the ACL ties to the publisher.
  if (parsed.data.unitId !== topicUnitId) {
    return {
      ok: false,
      reason: `unit_mismatch: payload unitId ${parsed.data.unitId} is not the topic's ${topicUnitId}`,
    };
  }
  return { ok: true, reading: parsed.data };
}
