/**
 * The one-chunk PUBACK against mqtt-packet's writer: for PUBACKs with any packet id (valid or
 * not), under MQTT 3.1.1 and 5, and for other packets, the same bytes on the stream, the same
 * answer, the same stream error; a valid 3.1.1 PUBACK leaves as one chunk.
 */
import { Writable } from 'node:stream';
import fc from 'fast-check';
import mqttPacket from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { withOneChunkAcks } from './packet-writer.js';

const generic = mqttPacket.writeToStream;
withOneChunkAcks();
const oneChunk = mqttPacket.writeToStream;

class Collect extends Writable {
  chunks: Buffer[] = [];
  error: string | null = null;
  constructor() {
    super({
      write: (chunk: Buffer, _enc, cb) => {
        this.chunks.push(chunk);
        cb();
      },
    });
    this.on('error', (e) => {
      this.error = e.message;
    });
  }
}

async function written(write: typeof generic, packet: mqttPacket.Packet, opts?: object) {
  const s = new Collect();
  let answer: unknown;
  try {
    answer = write(packet, s as never, opts);
  } catch (e) {
    answer = `throws: ${(e as Error).message}`;
  }
  // The writer uncorks on the next tick.
  await new Promise((r) => setImmediate(r));
  return { bytes: Buffer.concat(s.chunks).toString('hex'), answer, error: s.error, chunks: s.chunks.length };
}

describe('one-chunk PUBACK', () => {
  it('writes what mqtt-packet writes, for every PUBACK and any other packet', async () => {
    const idArb = fc.oneof(
      fc.integer({ min: 0, max: 0xffff }),
      fc.constantFrom(-1, 0x10000, 1.5, Number.NaN, '7', undefined, null),
    );
    const packetArb = fc.oneof(
      { weight: 4, arbitrary: idArb.map((messageId) => ({ cmd: 'puback', messageId }) as mqttPacket.Packet) },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          { cmd: 'pingresp' },
          { cmd: 'pubrec', messageId: 7 },
          { cmd: 'connack', returnCode: 0, sessionPresent: false },
          { cmd: 'suback', messageId: 3, granted: [1] },
          { cmd: 'publish', topic: 'a/b', payload: Buffer.from('x'), qos: 1, messageId: 9 },
        ) as fc.Arbitrary<mqttPacket.Packet>,
      },
    );
    const optsArb = fc.constantFrom(undefined, { protocolVersion: 4 }, { protocolVersion: 5 });
    await fc.assert(
      fc.asyncProperty(packetArb, optsArb, async (packet, opts) => {
        const want = await written(generic, packet, opts);
        const got = await written(oneChunk, packet, opts);
        expect({ ...got, chunks: 0 }).toEqual({ ...want, chunks: 0 });
      }),
      { numRuns: 600 },
    );
  });

  it('sends a valid MQTT 3.1.1 PUBACK as one 4-byte chunk', async () => {
    const got = await written(oneChunk, { cmd: 'puback', messageId: 0x1234 } as mqttPacket.Packet);
    expect(got).toEqual({ bytes: '40021234', answer: true, error: null, chunks: 1 });
    // The writer's own setting stays reachable.
    oneChunk.cacheNumbers = false;
    expect(generic.cacheNumbers).toBe(false);
  });
});
