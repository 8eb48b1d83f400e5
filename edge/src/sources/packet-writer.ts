/**
 * Settings of mqtt-packet's packet writer, which aedes and mqtt.js share (one module per
 * process, so these apply to both).
 *
 * - Numbers: on its first write the writer builds a cache of 65,536 two-byte Buffers (every
 *   packet id and keep-alive value), about 7 MB of V8 heap kept for the life of the process, to
 *   save one 2-byte allocation per PUBACK. A gateway's memory is the scarcer budget: the writer
 *   allocates the two bytes as it goes instead.
 * - PUBACK of MQTT 3.1.1: the edge writes one per reading. The writer writes it as three chunks
 *   (header, length, packet id), logging through `debug` on the way; here it is one 4-byte
 *   chunk, the same bytes, on the same corked stream, and the same answer (true). Any other
 *   packet, MQTT 5, or a packet id that is not a 16-bit integer goes to the writer as before.
 */
import mqttPacket from 'mqtt-packet';

type WriteToStream = typeof mqttPacket.writeToStream;

interface CorkableStream {
  write(chunk: Buffer): boolean;
  cork?: () => void;
  uncork?: () => void;
}

export function withoutNumberCache(): void {
  mqttPacket.writeToStream.cacheNumbers = false;
}

const uncork = (stream: CorkableStream) => stream.uncork?.();

let installed = false;

/** Writes MQTT 3.1.1 PUBACKs in one chunk (see above). Idempotent. */
export function withOneChunkAcks(): void {
  if (installed) return;
  installed = true;
  const generic = mqttPacket.writeToStream;
  const write = ((packet, stream, opts) => {
    const id = (packet as { messageId?: unknown }).messageId;
    if (
      packet.cmd !== 'puback' ||
      (opts as { protocolVersion?: number } | undefined)?.protocolVersion === 5 ||
      typeof id !== 'number' ||
      !Number.isInteger(id) ||
      id < 0 ||
      id > 0xffff
    )
      return generic(packet, stream, opts);
    const s = stream as unknown as CorkableStream;
    // As the writer does: packets written in one tick leave in one write.
    if (s.cork) {
      s.cork();
      process.nextTick(uncork, s);
    }
    const b = Buffer.allocUnsafe(4);
    b[0] = 0x40; // PUBACK
    b[1] = 2; // Remaining Length
    b[2] = id >> 8;
    b[3] = id & 0xff;
    s.write(b);
    return true;
  }) as WriteToStream;
  // The writer's settings (cacheNumbers) stay reachable through the new function.
  Object.defineProperty(write, 'cacheNumbers', {
    get: () => generic.cacheNumbers,
    set: (v: boolean) => {
      generic.cacheNumbers = v;
    },
  });
  mqttPacket.writeToStream = write;
}
