/**
 * MQTT topic names of Contract 1 (DESIGN.md): `ironledger/v1/units/{unitId}/{kind}`.
 * The unit id inside the topic is the publisher's identity for the ACL and must equal the
 * payload's `unitId`.
 */
export const TOPIC_PREFIX = 'ironledger/v1/units';

export const TOPIC_KINDS = ['telemetry', 'aemp', 'status', 'cmd'] as const;
export type TopicKind = (typeof TOPIC_KINDS)[number];

/** A unit id: letters, digits, `_`, `.`, `-`; never an MQTT wildcard or level separator. */
export const UNIT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function unitTopic(unitId: string, kind: TopicKind): string {
  return `${TOPIC_PREFIX}/${unitId}/${kind}`;
}

/** Subscription filter for every unit's topics of one kind. */
export function unitTopicFilter(kind: TopicKind | '+'): string {
  return `${TOPIC_PREFIX}/+/${kind}`;
}

export interface ParsedTopic {
  unitId: string;
  kind: TopicKind;
}

const SLASH = 0x2f;

/**
 * Parses a unit topic; `null` for anything that is not exactly one of ours. Runs for every
 * message a gateway receives, so it cuts no more than the unit id out of the topic.
 */
export function parseUnitTopic(topic: string): ParsedTopic | null {
  const start = TOPIC_PREFIX.length + 1;
  if (!topic.startsWith(TOPIC_PREFIX) || topic.charCodeAt(start - 1) !== SLASH) return null;
  const slash = topic.indexOf('/', start);
  if (slash === -1) return null;
  const unitId = topic.slice(start, slash);
  if (!UNIT_ID_PATTERN.test(unitId)) return null;
  // The rest is exactly a kind (no kind holds a slash, so there is no further level).
  const kindLength = topic.length - slash - 1;
  for (const kind of TOPIC_KINDS)
    if (kind.length === kindLength && topic.startsWith(kind, slash + 1)) return { unitId, kind };
  return null;
}
