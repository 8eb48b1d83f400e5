/**
 * A fast path for the packets a unit sends all day: whole MQTT 3.1.1 PUBLISH packets of QoS 0
 * or 1 at the start of a socket read, parsed straight from the read's bytes. mqtt-packet, the
 * parser aedes keeps per client, copies each packet through a buffer list and logs every step
 * through `debug`, which allocates its arguments even when off: together about a third of what
 * the edge allocated per message, and its garbage collection the largest cost of full ingest.
 *
 * The packet emitted is what mqtt-packet emits for the same bytes (the same fields in the same
 * order, the payload a view of the read). Everything else goes to mqtt-packet as before, from
 * the first byte the fast path does not take: another packet type, QoS 2 or reserved QoS bits,
 * MQTT 5, a packet cut across reads, a topic or packet id that does not fit the packet, a
 * packet over `maxBytes` (refused by the size hook, broker.ts), a parser holding bytes or an
 * error. `publish-parser.test.ts` holds the two parsers to the same packets and errors on random
 * streams cut at random places.
 */

const PUBLISH = 3;

/** The part of mqtt-packet's parser this path relies on. */
export interface MqttParser {
  parse(buf: Buffer): number;
  emit(event: 'packet', packet: unknown): boolean;
  settings: { protocolVersion?: number };
  packet: { length: number; constructor: new () => PublishPacket };
  error: Error | null;
  _list: { length: number };
  _stateCounter: number;
}

interface PublishPacket {
  cmd: string | null;
  retain: boolean;
  qos: number;
  dup: boolean;
  length: number;
  topic: string | null;
  payload: Buffer | null;
  messageId?: number;
}

/**
 * Installs the fast path on `parser`; `maxBytes`, the largest packet taken (a larger one goes
 * to mqtt-packet, whose hooked length check refuses it). Returns false when the parser does not
 * have the shape this path relies on (it is then left as it was).
 */
export function fastPublishPath(parser: MqttParser, maxBytes: number): boolean {
  if (
    typeof parser.parse !== 'function' ||
    typeof parser._list?.length !== 'number' ||
    typeof parser._stateCounter !== 'number' ||
    typeof parser.packet?.constructor !== 'function'
  )
    return false;
  const slowParse = parser.parse;
  const Packet = parser.packet.constructor;
  // Reads that arrive while packets of an earlier read are being emitted (a handler that reads
  // the socket again) wait here, so packets keep the order of their bytes.
  let busy = false;
  let waiting: Buffer[] = [];

  parser.parse = function parse(this: MqttParser, buf: Buffer): number {
    if (busy) {
      waiting.push(buf);
      return this._list.length;
    }
    busy = true;
    let rest: Buffer | null = buf;
    try {
      while (rest !== null) {
        const at = atBoundary(this) ? fastPublishes(this, rest, Packet, maxBytes) : 0;
        if (at < rest.length) slowParse.call(this, at === 0 ? rest : rest.subarray(at));
        rest = null;
        if (waiting.length > 0) {
          rest = waiting.length === 1 ? waiting[0]! : Buffer.concat(waiting);
          waiting = [];
        }
      }
    } finally {
      busy = false;
    }
    return this._list.length;
  };
  return true;
}

/** True when mqtt-packet holds nothing: no bytes, no packet begun, no error. */
function atBoundary(p: MqttParser): boolean {
  return p.error === null && p._list.length === 0 && p._stateCounter === 0 && p.packet.length === -1;
}

/**
 * Emits the whole QoS 0/1 PUBLISH packets at the start of `buf`; returns the offset of the
 * first byte not taken.
 */
function fastPublishes(
  parser: MqttParser,
  buf: Buffer,
  Packet: new () => PublishPacket,
  maxBytes: number,
): number {
  if (parser.settings.protocolVersion === 5) return 0;
  const end = buf.length;
  let at = 0;
  while (at < end) {
    const b0 = buf[at]!;
    if (b0 >> 4 !== PUBLISH) break;
    const qos = (b0 >> 1) & 3;
    if (qos > 1) break;
    // Remaining Length: 1 to 4 bytes [MQTT-2.2.3].
    let p = at + 1;
    let length = 0;
    let mul = 1;
    let complete = false;
    for (let i = 0; i < 4 && p < end; i++) {
      const c = buf[p++]!;
      length += (c & 0x7f) * mul;
      mul *= 0x80;
      if ((c & 0x80) === 0) {
        complete = true;
        break;
      }
    }
    if (!complete || length > maxBytes || p + length > end || length < 2) break;
    const topicLength = (buf[p]! << 8) | buf[p + 1]!;
    const head = 2 + topicLength + (qos > 0 ? 2 : 0);
    if (head > length) break;
    const packet = new Packet();
    packet.cmd = 'publish';
    packet.retain = (b0 & 1) !== 0;
    packet.qos = qos;
    packet.dup = (b0 & 8) !== 0;
    packet.length = length;
    packet.topic = buf.toString('utf8', p + 2, p + 2 + topicLength);
    if (qos > 0) packet.messageId = (buf[p + 2 + topicLength]! << 8) | buf[p + 3 + topicLength]!;
    packet.payload = buf.subarray(p + head, p + length);
    at = p + length;
    parser.emit('packet', packet);
    // A handler may have ended the connection or failed the parser: leave the rest to it.
    if (!atBoundary(parser)) break;
  }
  return at;
}
