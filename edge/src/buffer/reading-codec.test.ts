/**
 * The outbox keeps readings as columns: what the forwarder sends must be byte-for-byte the
 * JSON the unit's reading had, through a real SQLite file (REAL/INTEGER storage included),
 * for random readings with every optional field, extreme numbers and odd key orders.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ForwardedReading } from '@ironledger/contracts';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { AppendGroup } from './append-group.js';
import type { AppendItem } from './buffer.js';
import { MIGRATIONS } from './migrations.js';
import {
  decodeReading,
  encodeReading,
  instantMs,
  isoInstant,
  OUTBOX_COLUMNS,
  OUTBOX_ROW_COLUMNS,
  type OutboxRow,
  readingHead,
  readingText,
} from './reading-codec.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edge-codec-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const extremeDouble = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(
    0,
    -0,
    5e-324,
    Number.MAX_VALUE,
    Number.MAX_SAFE_INTEGER,
    2 ** 63,
    1e21,
    0.1 + 0.2,
    4521.35,
  ),
  fc.integer(),
);
const meter = extremeDouble.map(Math.abs);
const instant = fc
  .integer({ min: Date.parse('0000-01-01T00:00:00.000Z'), max: Date.parse('9999-12-31T23:59:59.999Z') })
  .map((ms) => new Date(ms).toISOString());
const readingArb: fc.Arbitrary<ForwardedReading> = fc
  .record(
    {
      v: fc.constant(1 as const),
      unitId: fc.oneof(
        fc.stringMatching(/^[A-Za-z0-9_.-]{1,64}$/),
        fc.string({ unit: 'grapheme', maxLength: 20 }),
      ),
      seq: fc.oneof(fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER)),
      ts: instant,
      engineHours: meter,
      idleHours: meter,
      engineOn: fc.boolean(),
      position: fc.record({ lat: extremeDouble, lon: extremeDouble }),
      speedKmh: meter,
      fuelUsedL: meter,
      odometerKm: meter,
      receivedAt: instant,
      source: fc.constantFrom('telemetry' as const, 'aemp' as const),
      flags: fc.oneof(
        fc.constantFrom([], ['clock_invalid'], ['conflict'], ['clock_invalid', 'conflict']),
        fc.array(fc.constantFrom('clock_invalid' as const, 'conflict' as const), { maxLength: 4 }),
      ),
    },
    { requiredKeys: ['v', 'unitId', 'ts', 'engineHours', 'receivedAt'] },
  )
  .map((r) => r as ForwardedReading);
/** Some readings with keys in another order or a position written lon-first: kept as text. */
const shuffled = fc
  .tuple(readingArb, fc.boolean())
  .map(([r, lonFirst]) =>
    lonFirst && r.position
      ? { ...r, position: { lon: r.position.lon, lat: r.position.lat } }
      : (Object.fromEntries(Object.entries(r).reverse()) as ForwardedReading),
  );

function outboxDb(): Database.Database {
  const db = new Database(path.join(dir, `codec-${Math.random().toString(36).slice(2)}.db`));
  // What is stored and read back is the subject here, not durability: no fsync per row.
  db.pragma('synchronous = OFF');
  for (const m of MIGRATIONS) m.up(db);
  return db;
}

/** What `instantMs` promises, the slow way: the string `toISOString` writes for its ms. */
function referenceInstantMs(iso: string): number {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms) || !iso.endsWith('Z') || new Date(ms).toISOString() !== iso) return Number.NaN;
  return ms;
}

describe('instantMs', () => {
  it('agrees with the Date round trip on instants, near misses and garbage', () => {
    const instant = fc
      .integer({ min: Date.UTC(-3000, 0, 1), max: Date.UTC(12000, 0, 1) })
      .map((ms) => new Date(ms).toISOString());
    // One character of a valid instant replaced: wrong separators, 13th months, 31 February, 24:00.
    const nearMiss = fc
      .tuple(instant, fc.nat(23), fc.constantFrom(...'0123456789-:.TZ+ x'))
      .map(([s, i, c]) => s.slice(0, i) + c + s.slice(i + 1));
    const odd = fc.constantFrom(
      '2024-02-29T00:00:00.000Z',
      '2023-02-29T00:00:00.000Z',
      '1900-02-29T00:00:00.000Z',
      '2000-02-29T23:59:59.999Z',
      '2024-04-31T00:00:00.000Z',
      '2024-01-01T24:00:00.000Z',
      '2024-01-01T00:60:00.000Z',
      '2024-01-01T00:00:60.000Z',
      '0099-12-31T23:59:59.999Z',
      '0100-01-01T00:00:00.000Z',
      '2024-01-01T00:00:00.000+',
      '2024-01-01T00:00:00Z',
    );
    fc.assert(
      fc.property(fc.oneof(instant, nearMiss, odd, fc.string({ maxLength: 30 })), (s) => {
        expect(instantMs(s)).toBe(referenceInstantMs(s));
      }),
      { numRuns: 20_000 },
    );
  });
});

describe('isoInstant', () => {
  it('writes what toISOString writes, from year -3000 to 12000, day after day and back', () => {
    const ms = fc.oneof(
      fc.integer({ min: Date.UTC(-3000, 0, 1), max: Date.UTC(12000, 0, 1) }),
      // Around midnights and the ends of the cached range, where the day changes.
      fc
        .tuple(fc.integer({ min: 0, max: 2_932_896 }), fc.integer({ min: -2, max: 2 }))
        .map(([day, off]) => day * 86_400_000 + off),
      fc.constantFrom(0, -1, 253_402_300_799_999, 253_402_300_800_000, 1.5, 86_399_999.9),
    );
    fc.assert(
      fc.property(ms, (x) => {
        expect(isoInstant(x)).toBe(new Date(x).toISOString());
      }),
      { numRuns: 20_000 },
    );
  });
});

describe('outbox reading codec', () => {
  it('round-trips random readings through a SQLite file byte for byte', () => {
    const db = outboxDb();
    const insert = db.prepare(
      `INSERT INTO outbox(${OUTBOX_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const read = db.prepare(`SELECT ${OUTBOX_ROW_COLUMNS} FROM outbox WHERE id = ?`).raw();
    let compact = 0;
    let runs = 0;
    fc.assert(
      fc.property(fc.oneof({ weight: 4, arbitrary: readingArb }, { weight: 1, arbitrary: shuffled }), (r) => {
        // A unit ref of its own per run: fast-check repeats values, identities must not collide.
        const cols = encodeReading(r, ++runs);
        if (cols[15] === null) compact++;
        const id = Number(insert.run(...cols).lastInsertRowid);
        const row = read.get(id) as OutboxRow;
        expect(JSON.stringify(decodeReading(row, r.unitId))).toBe(JSON.stringify(r));
        // The text the forwarder sends, written from the columns without the object.
        expect(readingText(row, readingHead(r.unitId))).toBe(JSON.stringify(r));
      }),
      { numRuns: 3000 },
    );
    // Readings in the decoders' key order are stored as columns, not as text.
    expect(compact).toBeGreaterThan(runs / 2);
    db.close();
  });

  it('stores a decoder-shaped reading without its JSON text', () => {
    const r: ForwardedReading = {
      v: 1,
      unitId: 'EXC-0042',
      seq: 18231,
      ts: '2026-11-23T08:15:00.000Z',
      engineHours: 4521.35,
      idleHours: 1203.1,
      engineOn: true,
      position: { lat: 51.5007, lon: -0.1246 },
      speedKmh: 0,
      fuelUsedL: 88123.4,
      receivedAt: '2026-11-23T08:15:00.180Z',
      source: 'telemetry',
      flags: ['clock_invalid'],
    };
    const cols = encodeReading(r, 1);
    expect(cols[15]).toBeNull();
    expect(cols.slice(0, 4)).toEqual([1, Date.parse(r.ts), 180, 1]);
  });
});

describe('AppendGroup', () => {
  const quarantineArb: fc.Arbitrary<AppendItem> = fc.record({
    kind: fc.constant('quarantine' as const),
    topic: fc.string({ maxLength: 40 }),
    payload: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
    reason: fc.string({ maxLength: 40 }),
    receivedAtMs: fc.nat(),
  });
  const itemArb: fc.Arbitrary<AppendItem> = fc.oneof(
    { weight: 6, arbitrary: readingArb.map((reading) => ({ kind: 'reading' as const, reading })) },
    { weight: 2, arbitrary: shuffled.map((reading) => ({ kind: 'reading' as const, reading })) },
    { weight: 1, arbitrary: quarantineArb },
  );
  const json = (it: AppendItem) =>
    it.kind === 'reading' ? JSON.stringify(it.reading) : JSON.stringify({ ...it, payload: [...it.payload] });

  it('gives back every item byte for byte, packed or not, across reuse and growth', () => {
    // One group for the whole run, as the ingest keeps it: each run clears and refills it.
    const group = new AppendGroup();
    let packed = 0;
    fc.assert(
      fc.property(fc.array(itemArb, { maxLength: 700, size: 'max' }), (items) => {
        group.clear();
        for (const it of items) group.add(it);
        expect(group.length).toBe(items.length);
        for (let i = 0; i < items.length; i++) {
          expect(json(group.at(i))).toBe(json(items[i]!));
          const it = group.item(i);
          if (it === undefined) {
            packed++;
            // A packed reading's columns are the ones its object would have been stored as.
            const r = (items[i] as Extract<AppendItem, { kind: 'reading' }>).reading;
            expect(group.unitId(i)).toBe(r.unitId);
            expect(group.columns(i, 7)).toEqual(encodeReading(r, 7));
          } else {
            // Kept as it came: the same reading object, the same quarantine item.
            const want = items[i]!;
            expect(it.kind === 'reading' ? it.reading : it).toBe(
              want.kind === 'reading' ? want.reading : want,
            );
          }
        }
      }),
      { numRuns: 60 },
    );
    // Most readings in the decoders' key order travel packed.
    expect(packed).toBeGreaterThan(5_000);
  });
});
