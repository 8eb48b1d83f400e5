/**
 * Request bodies written into buffers kept from one request to the next. A part of 1000
 * readings is ~270 KB of JSON. Built as one string and then encoded, it took two allocations of
 * that size per request (the string, then its UTF-8 copy), both too large for V8's and malloc's
 * heaps: each got a fresh mapping whose pages were faulted in and unmapped again, ~0.9 ms apiece
 * on the 2-core benchmark machine. Each reading's text written in turn into a kept buffer takes
 * ~0.06 ms (README, "What each change cost and bought").
 */

/** A JSON text in pieces: `head`, then `items` separated by commas, then `tail`. */
export interface JsonPieces {
  head: string;
  items: readonly string[];
  tail: string;
}

/** Kept buffers are dropped after this long without a request, so an idle gateway holds none. */
const IDLE_MS = 10_000;

export class BodyBuffers {
  private readonly free: Buffer[] = [];
  private usedAtMs = 0;
  private trimTimer: NodeJS.Timeout | null = null;

  /**
   * `keep`: at most this many buffers are kept (one per request in flight is enough); `idleMs`:
   * how long after the last request they are dropped.
   */
  constructor(
    private readonly keep: number,
    private readonly idleMs = IDLE_MS,
  ) {}

  /**
   * The UTF-8 bytes of `json` in a buffer of this pool. Hand it back with `release` once nothing
   * reads it any more (a gzip in libuv's pool reads it until its callback).
   */
  write(json: JsonPieces): Buffer {
    // A UTF-16 code unit takes at most 3 bytes of UTF-8; ASCII, what readings are, takes 1. Room
    // for the ASCII text and twice the longest piece more, so that the check before each piece
    // (room for 3 bytes per unit) does not grow the buffer on the last pieces of an ASCII text.
    let longest = Math.max(json.head.length, json.tail.length);
    let chars = json.head.length + json.tail.length + json.items.length;
    for (const s of json.items) {
      chars += s.length;
      if (s.length > longest) longest = s.length;
    }
    const room = chars + 2 * longest;
    const kept = this.free.pop();
    let buf = kept && kept.length >= room ? kept : Buffer.allocUnsafeSlow(Math.max(room, kept?.length ?? 0));
    let at = 0;
    const put = (s: string): void => {
      if (at + s.length * 3 > buf.length) {
        const bigger = Buffer.allocUnsafeSlow(Math.max(buf.length * 2, at + s.length * 3));
        buf.copy(bigger, 0, 0, at);
        buf = bigger;
      }
      at += buf.write(s, at, 'utf8');
    };
    put(json.head);
    for (let i = 0; i < json.items.length; i++) {
      if (i > 0) put(',');
      put(json.items[i]!);
    }
    put(json.tail);
    return buf.subarray(0, at);
  }

  /** Takes back a buffer `write` returned: the next body may be written into it. */
  release(body: Buffer): void {
    if (this.free.length < this.keep) this.free.push(Buffer.from(body.buffer, body.byteOffset));
    this.usedAtMs = Date.now();
    this.trimTimer ??= setTimeout(() => this.trim(), this.idleMs).unref();
  }

  private trim(): void {
    const idle = Date.now() - this.usedAtMs;
    if (idle >= this.idleMs) {
      this.free.length = 0;
      this.trimTimer = null;
    } else this.trimTimer = setTimeout(() => this.trim(), this.idleMs - idle).unref();
  }
}
