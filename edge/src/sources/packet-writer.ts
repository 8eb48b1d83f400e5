/**
 * mqtt-packet, the packet writer of aedes and of mqtt.js, builds on its first write a cache of
 * 65,536 two-byte Buffers (every packet id and keep-alive value), about 7 MB of V8 heap kept
 * for the life of the process, to save one 2-byte allocation per PUBACK. A gateway's memory is
 * the scarcer budget: the writer allocates the two bytes as it goes instead.
 */
import { writeToStream } from 'mqtt-packet';

export function withoutNumberCache(): void {
  writeToStream.cacheNumbers = false;
}
