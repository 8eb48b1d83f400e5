import type { ForwardedReading } from '@ironledger/contracts';

/** What a decoder makes of one message: a forwarded reading, or why it is quarantined. */
export type DecodeResult = { ok: true; reading: ForwardedReading } | { ok: false; reason: string };

/** Largest payload decoded, bytes; a reading is a few hundred. Larger is quarantined unread. */
export const MAX_PAYLOAD_BYTES = 64 * 1024;

export function zodReason(
  prefix: string,
  issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>,
): string {
  const parts = issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.map(String).join('.') : '(root)'}: ${i.message}`);
  return `${prefix}: ${parts.join('; ')}`;
}

export function parseJson(payload: Buffer): { ok: true; value: unknown } | { ok: false; reason: string } {
  try {
    return { ok: true, value: JSON.parse(payload.toString('utf8')) };
  } catch (e) {
    return { ok: false, reason: `json: ${(e as Error).message}` };
  }
}
