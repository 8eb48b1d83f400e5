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

/** Parses a unit topic; `null` for anything that is not exactly one of ours. */
export function parseUnitTopic(topic: string): ParsedTopic | null {
  if (!topic.startsWith(`${TOPIC_PREFIX}/`)) return null;
  const rest = topic.slice(TOPIC_PREFIX.length + 1).split('/');
  if (rest.length !== 2) return null;
  const [unitId, kind] = rest as [string, string];
  if (!UNIT_ID_PATTERN.test(unitId)) return null;
  if (!(TOPIC_KINDS as readonly string[]).includes(kind)) return null;
  return { unitId, kind: kind as TopicKind };
}
