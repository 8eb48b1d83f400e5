/** ISO 15143-3 (AEMP 2.0) snapshot on `ironledger/v1/units/{unitId}/aemp`, mapped by the shared contract. */
import { AempSnapshotSchema, aempToReading, type Reading } from '@ironledger/contracts';
import { parseJson, zodReason } from './decode-result.js';

export function decodeAemp(
  payload: Buffer,
  topicUnitId: string,
): { ok: true; reading: Reading } | { ok: false; reason: string } {
  const json = parseJson(payload);
  if (!json.ok) return json;
  const parsed = AempSnapshotSchema.safeParse(json.value);
  if (!parsed.success) return { ok: false, reason: zodReason('aemp', parsed.error.issues) };
  let reading: Reading;
  try {
    reading = aempToReading(parsed.data);
  } catch (e) {
    const issues = (e as { issues?: Array<{ path: PropertyKey[]; message: string }> }).issues;
    return {
      ok: false,
      reason: issues ? zodReason('aemp_mapping', issues) : `aemp_mapping: ${(e as Error).message}`,
    };
  }
  if (reading.unitId !== topicUnitId) {
    return {
      ok: false,
      reason: `unit_mismatch: EquipmentID ${reading.unitId} is not the topic's ${topicUnitId}`,
    };
  }
  return { ok: true, reading };
}
