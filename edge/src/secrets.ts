/**
 * Unit secrets are stored only as `scrypt$<saltB64>$<hashB64>` (node:crypto scrypt,
 * N = 2^14, r = 8, p = 1, 32-byte key, 16-byte random salt): a leaked config does not give
 * away the secrets, and each guess costs ~16 MiB and tens of milliseconds.
 */
import { randomBytes, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';

const KEY_BYTES = 32;
const SALT_BYTES = 16;
const PARAMS = { N: 1 << 14, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

export function hashSecret(secret: string): string {
  const salt = randomBytes(SALT_BYTES);
  const key = scryptSync(secret, salt, KEY_BYTES, PARAMS);
  return `scrypt$${salt.toString('base64')}$${key.toString('base64')}`;
}

function parse(stored: string): { salt: Buffer; key: Buffer } | null {
  const m = /^scrypt\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(stored);
  if (!m) return null;
  const key = Buffer.from(m[2]!, 'base64');
  return key.length === KEY_BYTES ? { salt: Buffer.from(m[1]!, 'base64'), key } : null;
}

export function verifySecret(secret: string, stored: string): boolean {
  const p = parse(stored);
  if (!p) return false;
  return timingSafeEqual(scryptSync(secret, p.salt, KEY_BYTES, PARAMS), p.key);
}

/** Off the event loop (libuv thread pool): a reconnect storm must not stall ingest. */
export function verifySecretAsync(secret: string | Buffer, stored: string): Promise<boolean> {
  const p = parse(stored);
  if (!p) return Promise.resolve(false);
  return new Promise((resolve) => {
    scrypt(secret, p.salt, KEY_BYTES, PARAMS, (err, key) => resolve(!err && timingSafeEqual(key, p.key)));
  });
}
