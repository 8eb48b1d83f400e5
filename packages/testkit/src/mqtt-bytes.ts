/**
 * Pieces of the MQTT 3.1.1 wire format, for the tests that write packets byte by byte (valid
 * and not) to a broker or its parser.
 */

/** A Variable Byte Integer, as the Remaining Length is written [MQTT-2.2.3]. */
export function varint(n: number): Buffer {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}

/** A UTF-8 string with its two-byte length prefix [MQTT-1.5.3]. */
export function mqttString(s: string | Buffer): Buffer {
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
}

/** A CONNECT packet: MQTT 3.1.1, clean session, username and password, keep-alive 60 s. */
export function mqttConnect(clientId: string, username: string, password: string): Buffer {
  const body = Buffer.concat([
    mqttString('MQTT'),
    Buffer.from([4, 0xc2, 0, 60]),
    mqttString(clientId),
    mqttString(username),
    mqttString(password),
  ]);
  return Buffer.concat([Buffer.from([0x10]), varint(body.length), body]);
}
