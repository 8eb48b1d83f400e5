/**
 * The contract every buffer implementation passes (the promise in buffer.ts, as tests).
 * A backend's test calls `bufferContract(name, open)` where `open()` gives a fresh buffer
 * and `reopen(b)` closes it and opens the same storage again (a restart).
 */
import type { ForwardedReading } from '@ironledger/contracts';
import { describe, expect, it } from 'vitest';
import type { ReadingBuffer } from './buffer.js';

export interface ContractHooks {
  open(opts?: { diskBudgetBytes?: number }): ReadingBuffer;
  reopen(b: ReadingBuffer): ReadingBuffer;
}

export function fr(unitId: string, i: number, extra: Partial<ForwardedReading> = {}): ForwardedReading {
  return {
    v: 1,
    unitId,
    seq: i,
    ts: new Date(Date.parse('2026-11-23T00:00:00.000Z') + i * 60_000).toISOString(),
    engineHours: 100 + i / 60,
    receivedAt: new Date(Date.parse('2026-11-23T00:00:00.000Z') + i * 60_000 + 500).toISOString(),
    source: 'telemetry',
    ...extra,
  };
}

const T0 = Date.parse('2026-11-23T12:00:00.000Z');

export function bufferContract(name: string, hooks: ContractHooks): void {
  describe(`buffer contract: ${name}`, () => {
    it('stores an identity once; same content again is a duplicate', () => {
      const b = hooks.open();
      expect(
        b.append([
          { kind: 'reading', reading: fr('U1', 1) },
          { kind: 'reading', reading: fr('U1', 1) },
        ]),
      ).toEqual(['stored', 'duplicate']);
      // Transport fields (receivedAt, seq, source) are not content.
      expect(
        b.append([
          { kind: 'reading', reading: fr('U1', 1, { receivedAt: '2026-11-24T00:00:00.000Z', seq: 9 }) },
        ]),
      ).toEqual(['duplicate']);
      expect(b.stats().queuedReadings).toBe(1);
      b.close();
    });

    it('keeps a conflicting version beside the first and forwards it flagged', () => {
      const b = hooks.open();
      const outcomes = b.append([
        { kind: 'reading', reading: fr('U1', 1) },
        { kind: 'reading', reading: fr('U1', 1, { engineHours: 999 }) },
        { kind: 'reading', reading: fr('U1', 1, { engineHours: 999 }) },
      ]);
      expect(outcomes).toEqual(['stored', 'conflict', 'duplicate']);
      const batch = b.nextBatch({ maxReadings: 10, maxAgeMs: 0, nowMs: T0 })!;
      expect(batch.readings.map((r) => [r.engineHours, r.flags ?? []])).toEqual([
        [fr('U1', 1).engineHours, []],
        [999, ['conflict']],
      ]);
      expect(b.stats().conflicts).toBe(1);
      b.close();
    });

    it('quarantines raw bytes with topic and reason; lists and replays them', () => {
      const b = hooks.open();
      const payload = Buffer.from('{"broken"');
      b.append([
        {
          kind: 'quarantine',
          topic: 'ironledger/v1/units/U1/telemetry',
          payload,
          reason: 'json: bad',
          receivedAtMs: T0,
          clientId: 'c1',
        },
      ]);
      const [q] = b.listQuarantine();
      expect(q).toMatchObject({
        topic: 'ironledger/v1/units/U1/telemetry',
        reason: 'json: bad',
        clientId: 'c1',
        replayedAt: null,
      });
      expect(q!.payload.equals(payload)).toBe(true);
      const s = b.replayQuarantine(() => ({ ok: true, reading: fr('U1', 5) }));
      expect(s).toMatchObject({ considered: 1, stored: 1 });
      expect(b.stats()).toMatchObject({ quarantined: 0, queuedReadings: 1 });
      expect(b.replayQuarantine(() => ({ ok: false, reason: 'x' })).considered).toBe(0);
      b.close();
    });

    it('batches by size and age; a batch keeps its id and content across restarts until acked', () => {
      let b = hooks.open();
      b.append(Array.from({ length: 5 }, (_, i) => ({ kind: 'reading' as const, reading: fr('U1', i) })));
      expect(
        b.nextBatch({ maxReadings: 10, maxAgeMs: 60 * 60_000, nowMs: T0 - 11 * 60 * 60_000 }),
      ).toBeNull(); // neither full nor old
      const first = b.nextBatch({ maxReadings: 3, maxAgeMs: 60_000, nowMs: T0 })!;
      expect(first.readings.map((r) => r.seq)).toEqual([0, 1, 2]);
      b = hooks.reopen(b);
      const again = b.nextBatch({ maxReadings: 3, maxAgeMs: 60_000, nowMs: T0 + 5000 })!;
      expect(again.batchId).toBe(first.batchId);
      expect(JSON.stringify(again.readings)).toBe(JSON.stringify(first.readings));
      b.recordAttempt(first.batchId, '503');
      b.ack(first.batchId, T0 + 6000);
      const second = b.nextBatch({ maxReadings: 3, maxAgeMs: 60_000, nowMs: T0 + 7000 })!;
      expect(second.batchId).not.toBe(first.batchId);
      expect(second.readings.map((r) => r.seq)).toEqual([3, 4]);
      expect(b.stats().queuedReadings).toBe(2);
      b.close();
    });

    it('a batch groups readings by unit (units by first reading, each in buffer order), the same after a restart', () => {
      let b = hooks.open();
      // One reading per unit at a time, as a backlog fills; U2 also has a conflicting version.
      for (let i = 0; i < 3; i++)
        b.append(['U2', 'U1', 'U3'].map((u) => ({ kind: 'reading' as const, reading: fr(u, i) })));
      b.append([{ kind: 'reading', reading: fr('U2', 0, { engineHours: 999 }) }]);
      const order = (x: { readings: ForwardedReading[] }) =>
        x.readings.map((r) => `${r.unitId}#${r.seq}${r.flags?.includes('conflict') ? '!' : ''}`);
      const first = b.nextBatch({ maxReadings: 20, maxAgeMs: 0, nowMs: T0 })!;
      expect(order(first)).toEqual([
        'U2#0',
        'U2#1',
        'U2#2',
        'U2#0!',
        'U1#0',
        'U1#1',
        'U1#2',
        'U3#0',
        'U3#1',
        'U3#2',
      ]);
      b = hooks.reopen(b);
      const again = b.nextBatch({ maxReadings: 20, maxAgeMs: 0, nowMs: T0 })!;
      expect(again.batchId).toBe(first.batchId);
      expect(order(again)).toEqual(order(first));
      b.close();
    });

    it('a reading leaves the outbox only on ack; parked batches stay, counted, and can be re-queued', () => {
      const b = hooks.open();
      b.append(Array.from({ length: 4 }, (_, i) => ({ kind: 'reading' as const, reading: fr('U2', i) })));
      const x = b.nextBatch({ maxReadings: 2, maxAgeMs: 0, nowMs: T0 })!;
      b.park(x.batchId, '422 unknown unit', T0);
      expect(b.stats()).toMatchObject({ queuedReadings: 4, parkedBatches: 1, parkedReadings: 2 });
      const y = b.nextBatch({ maxReadings: 2, maxAgeMs: 0, nowMs: T0 })!;
      expect(y.batchId).not.toBe(x.batchId);
      b.ack(y.batchId, T0);
      expect(b.stats().queuedReadings).toBe(2);
      expect(b.pruneSent(T0 + 1)).toBe(2);
      expect(b.stats().queuedReadings).toBe(2); // pruning never touches the unsent
      expect(b.unpark()).toBe(1);
      expect(b.nextBatch({ maxReadings: 2, maxAgeMs: 0, nowMs: T0 })!.batchId).toBe(x.batchId);
      b.close();
    });

    it('a batch can be prepared while another is pending; acknowledged out of order, each leaves alone', () => {
      let b = hooks.open();
      b.append(Array.from({ length: 5 }, (_, i) => ({ kind: 'reading' as const, reading: fr('U5', i) })));
      const x = b.nextBatch({ maxReadings: 2, maxAgeMs: 0, nowMs: T0 })!;
      // Without `except` the pending batch comes back; with it, the next readings form a new one.
      expect(b.nextBatch({ maxReadings: 2, maxAgeMs: 0, nowMs: T0 })!.batchId).toBe(x.batchId);
      const y = b.nextBatch({ maxReadings: 2, maxAgeMs: 0, nowMs: T0 + 1, except: x.batchId })!;
      expect(y.batchId).not.toBe(x.batchId);
      expect(y.readings.map((r) => r.seq)).toEqual([2, 3]);
      // Both stay pending across a restart, and `except` passes over only the one named.
      b = hooks.reopen(b);
      expect(b.nextBatch({ maxReadings: 2, maxAgeMs: 0, nowMs: T0 + 2, except: x.batchId })!.batchId).toBe(
        y.batchId,
      );
      b.ack(y.batchId, T0 + 3);
      expect(b.stats()).toMatchObject({ queuedReadings: 3, pendingBatches: 1 });
      const again = b.nextBatch({ maxReadings: 2, maxAgeMs: 0, nowMs: T0 + 4 })!;
      expect([again.batchId, again.readings.map((r) => r.seq)]).toEqual([x.batchId, [0, 1]]);
      b.ack(x.batchId, T0 + 5);
      expect(b.nextBatch({ maxReadings: 2, maxAgeMs: 0, nowMs: T0 + 6 })!.readings.map((r) => r.seq)).toEqual(
        [4],
      );
      b.close();
    });

    it('splits a batch in two halves with derived ids', () => {
      const b = hooks.open();
      b.append(Array.from({ length: 5 }, (_, i) => ({ kind: 'reading' as const, reading: fr('U3', i) })));
      const x = b.nextBatch({ maxReadings: 5, maxAgeMs: 0, nowMs: T0 })!;
      expect(b.split(x.batchId)).toEqual([`${x.batchId}.1`, `${x.batchId}.2`]);
      const h1 = b.nextBatch({ maxReadings: 5, maxAgeMs: 0, nowMs: T0 })!;
      expect([h1.batchId, h1.readings.length]).toEqual([`${x.batchId}.1`, 3]);
      b.ack(h1.batchId, T0);
      const h2 = b.nextBatch({ maxReadings: 5, maxAgeMs: 0, nowMs: T0 })!;
      expect([h2.batchId, h2.readings.length]).toEqual([`${x.batchId}.2`, 2]);
      b.ack(h2.batchId, T0);
      expect(b.stats().queuedReadings).toBe(0);
      b.close();
    });

    it('refuses appends once the disk budget is reached, deleting nothing', () => {
      const b = hooks.open({ diskBudgetBytes: 200 * 1024 });
      let stored = 0;
      let refused: unknown = null;
      for (let i = 0; i < 5000 && !refused; i++) {
        try {
          b.append([{ kind: 'reading', reading: fr('U4', i) }]);
          stored++;
        } catch (e) {
          refused = e;
        }
      }
      expect((refused as { code?: string })?.code).toBe('BUFFER_FULL');
      expect(b.isFull()).toBe(true);
      expect(b.stats().queuedReadings).toBe(stored);
      b.close();
    });
  });
}
