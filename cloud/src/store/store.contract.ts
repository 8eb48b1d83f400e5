/**
 * The contract every CloudStore implementation passes (the promises in store.ts, as tests).
 * A backend's test calls `storeContract(name, hooks)`: `open()` gives a fresh, empty store and
 * `sibling(s)` another connection to the same database, standing in for a second replica
 * (claims and compare-and-set are checked across the two). The suite closes what it opens.
 *
 * What it pins: a batch is stored once (its id replays the first answer); a reading's
 * identity is (unitId, ts), the same content again is a duplicate and different content a
 * conflict with every version kept; held readings and conflicts are released or resolved once,
 * on what was read (`stale` otherwise); every change marks its unit dirty and a consolidation
 * clears the mark only at the generation it read; every allocation change is a compare-and-set
 * on version and status; posting records what was sent; claims on shared work have one holder
 * until released or until the lease runs out; a hold note is cleared as a compare-and-set; the
 * Odoo master-data mirror writes only what changed, and a sync's write is a compare-and-set on
 * the cursor its read started from.
 */
import type { ForwardedReading } from '@ironledger/contracts';
import { afterEach, describe, expect, it } from 'vitest';
import type {
  AllocationRecord,
  NewAllocation,
  OdooMasterRecord,
  StoredReading,
  UsageFigure,
} from '../domain/types.js';
import { toIngestReading } from '../ingest/parse-batch.js';
import type {
  AllocationChanges,
  CloudStore,
  ConsolidationWrite,
  IngestBatch,
  OdooSyncWrite,
  ResolveConflict,
  SentFigures,
} from './store.js';

export interface StoreContractHooks {
  /** A fresh, empty store (schema in place). */
  open(): Promise<CloudStore>;
  /** Another connection to the same database as `s`: a second replica. */
  sibling(s: CloudStore): Promise<CloudStore>;
}

/** The cloud's clock in these tests. */
export const NOW_MS = Date.parse('2026-11-24T12:00:00.000Z');
const NOW = new Date(NOW_MS).toISOString();
const HOUR_MS = 3600 * 1000;
const DAY = '2026-11-23';

const ts = (hour: number, day = DAY) =>
  new Date(Date.parse(`${day}T00:00:00.000Z`) + hour * HOUR_MS).toISOString();

function fr(
  unitId: string,
  at: string,
  engineHours: number,
  extra: Partial<ForwardedReading> = {},
): ForwardedReading {
  return { v: 1, unitId, ts: at, engineHours, receivedAt: at, ...extra };
}

/** A Contract 2 batch as the ingest route hands it to the store. */
export function ingestBatch(
  batchId: string,
  readings: ForwardedReading[],
  opts: { gatewayId?: string; nowMs?: number } = {},
): IngestBatch {
  const nowMs = opts.nowMs ?? NOW_MS;
  return {
    gatewayId: opts.gatewayId ?? 'gw1',
    batchId,
    siteId: 'LDN',
    storedAt: new Date(nowMs).toISOString(),
    readings: readings.map((r) => toIngestReading(r, nowMs)),
  };
}

export function newAllocation(
  unitId: string,
  over: Partial<NewAllocation> & { day?: string; seq?: number } = {},
): NewAllocation {
  const day = over.day ?? DAY;
  const seq = over.seq ?? 1;
  return {
    key: `IL-${unitId}-P-LDN-${day.replaceAll('-', '')}-${seq}`,
    kind: 'normal',
    adjusts: null,
    seq,
    unitId,
    projectId: 'P-LDN',
    siteId: 'LDN',
    day,
    engineHours: 5,
    idleHours: 0,
    workingHours: 5,
    rateId: 'R-EXC',
    workingRateMinor: 7300,
    idleRateMinor: 7300,
    currency: 'USD',
    amountMinor: 36500,
    status: 'pending',
    holdReason: null,
    evidence: { readings: 2, anomalies: [], meterFrom: 100, meterTo: 105 },
    createdAt: NOW,
    updatedAt: NOW,
    approvedBy: null,
    approvedAt: null,
    rejectedBy: null,
    rejectedAt: null,
    rejectReason: null,
    postedAt: null,
    odoo: null,
    ...over,
  };
}

function figure(unitId: string, engineHours: number, day = DAY): UsageFigure {
  return {
    unitId,
    projectId: 'P-LDN',
    siteId: 'LDN',
    day,
    engineHours,
    idleHours: 0,
    workingHours: engineHours,
    distanceKm: null,
    readings: 2,
    anomalies: [],
    meterFrom: 100,
    meterTo: 100 + engineHours,
  };
}

function consolidation(
  unitId: string,
  generation: number | null,
  allocations: Partial<AllocationChanges> = {},
  over: Partial<ConsolidationWrite> = {},
): ConsolidationWrite {
  return {
    unitId,
    figures: [],
    anomalies: [],
    generation,
    consolidatedAt: NOW,
    allocations: { create: [], update: [], audit: [], ...allocations },
    ...over,
  };
}

const sentOf = (a: AllocationRecord): SentFigures => ({
  version: a.version,
  engineHours: a.engineHours,
  idleHours: a.idleHours,
  workingHours: a.workingHours,
  workingRateMinor: a.workingRateMinor,
  idleRateMinor: a.idleRateMinor,
  amountMinor: a.amountMinor,
  currency: a.currency,
});

const approve = (a: AllocationRecord, actor = 'alex') => ({
  id: a.id,
  expect: { version: a.version, status: a.status },
  patch: { status: 'approved' as const, approvedBy: actor, approvedAt: NOW, updatedAt: NOW },
  audit: [{ actor, action: 'allocation.approve', target: a.key, detail: null }],
});

const OUTCOME = { model: 'account.analytic.line', odooId: 7, date: DAY, alreadyInOdoo: false };

function equipment(odooId: number, over: Partial<OdooMasterRecord> = {}): OdooMasterRecord {
  return {
    odooId,
    name: `Excavator ${odooId}`,
    serialNo: `SN-${odooId}`,
    accountId: null,
    active: true,
    writeDate: '2026-11-24 10:00:00',
    ...over,
  };
}

const equipmentSync = (
  records: OdooMasterRecord[],
  since: string | null,
  cursor: string | null,
): OdooSyncWrite => ({
  model: 'maintenance.equipment',
  records,
  since,
  cursor,
  at: NOW,
  actor: 'odoo-sync-job',
});

export function storeContract(name: string, hooks: StoreContractHooks): void {
  describe(`store contract: ${name}`, () => {
    const opened: CloudStore[] = [];
    const open = async () => {
      const s = await hooks.open();
      opened.push(s);
      return s;
    };
    const sibling = async (s: CloudStore) => {
      const t = await hooks.sibling(s);
      opened.push(t);
      return t;
    };
    afterEach(async () => {
      for (const s of opened.splice(0).reverse()) await s.close();
    });

    /** Creates one allocation through a consolidation, as the runner does. */
    const created = async (s: CloudStore, over: Partial<NewAllocation> = {}, unitId = 'U1') => {
      const a = newAllocation(unitId, over);
      expect(await s.applyConsolidation(consolidation(unitId, null, { create: [a] }))).toMatchObject({
        kind: 'applied',
      });
      return (await s.getAllocationByKey(a.key))!;
    };
    const approved = async (s: CloudStore, over: Partial<NewAllocation> = {}, unitId = 'U1') => {
      const a = await created(s, over, unitId);
      expect((await s.applyDecisions([approve(a)], NOW)).applied).toEqual([a.id]);
      return (await s.getAllocation(a.id))!;
    };

    it('stores a batch once: a retry of its batchId replays the first answer', async () => {
      const s = await open();
      const b = ingestBatch('b1', [fr('U1', ts(8), 100), fr('U1', ts(9), 101), fr('U1', ts(9), 101)]);
      expect(await s.ingestBatch(b)).toEqual({
        kind: 'stored',
        accepted: 2,
        duplicates: 1,
        conflicts: 0,
        held: 0,
      });
      expect(await s.ingestBatch(b)).toEqual({
        kind: 'replayed',
        accepted: 2,
        duplicates: 1,
        conflicts: 0,
        held: 0,
      });
      expect(await s.ingestBatch(ingestBatch('b1', [fr('U1', ts(10), 102)], { gatewayId: 'gw2' }))).toEqual({
        kind: 'batch_id_taken',
        byGatewayId: 'gw1',
      });
      expect(await s.countReadings()).toBe(2);
      // Another replica sees the same, and a retry through it is a replay too.
      const t = await sibling(s);
      expect((await t.ingestBatch(b)).kind).toBe('replayed');
      expect(await t.countReadings()).toBe(2);
      expect((await s.usableReadings('U1')).map((r) => [r.ts, r.engineHours, r.batchId])).toEqual([
        [ts(8), 100, 'b1'],
        [ts(9), 101, 'b1'],
      ]);
    });

    it('a batch received by two replicas at once is stored once', async () => {
      const s = await open();
      const t = await sibling(s);
      const b = ingestBatch('b-twice', [fr('U1', ts(8), 100), fr('U1', ts(9), 101)]);
      const answers = await Promise.all([s.ingestBatch(b), t.ingestBatch(b)]);
      expect(answers.map((a) => a.kind).sort()).toEqual(['replayed', 'stored']);
      expect(await s.countReadings()).toBe(2);
    });

    it('identity is (unitId, ts): same content is a duplicate, different content a conflict that keeps both', async () => {
      const s = await open();
      await s.ingestBatch(ingestBatch('b1', [fr('U1', ts(8), 100)]));
      expect(
        await s.ingestBatch(
          ingestBatch('b2', [fr('U1', ts(8), 100, { receivedAt: ts(11) }), fr('U1', ts(8), 100.5)]),
        ),
      ).toEqual({ kind: 'stored', accepted: 1, duplicates: 1, conflicts: 1, held: 0 });
      const held = await s.heldReadings({ unit: 'U1' });
      expect(held.map((h) => [h.status, h.engineHours])).toEqual([
        ['conflict', 100],
        ['conflict', 100.5],
      ]);
      const [c] = await s.listConflicts({});
      expect(c).toMatchObject({ unitId: 'U1', ts: ts(8), status: 'open' });
      expect(c!.versions.map((v) => v.engineHours)).toEqual([100, 100.5]);
      expect(await s.usableReadings('U1')).toEqual([]);
      // A third version arrives after a person read the conflict: their decision is stale.
      const decidedOn = c!.versions.map((v) => v.id);
      await s.ingestBatch(ingestBatch('b3', [fr('U1', ts(8), 101)]));
      const conflictOp = (versionIds: string[], keepReadingId: string): ResolveConflict => ({
        id: c!.id,
        keep: 'second',
        keepReadingId,
        keptStatus: 'ok',
        keptHoldReason: null,
        versionIds,
        reason: 'meter photo',
        at: NOW,
        audit: { actor: 'alex', action: 'conflict.resolve', target: 'U1', detail: null },
      });
      const resolve = (versionIds: string[], keepReadingId: string) =>
        s.resolveConflict(conflictOp(versionIds, keepReadingId));
      expect(await resolve(decidedOn, decidedOn[1]!)).toBe('stale');
      const now = (await s.getConflict(c!.id))!;
      expect(now.versions).toHaveLength(3);
      const ids = now.versions.map((v) => v.id);
      expect(await resolve(ids, ids[1]!)).toBe('resolved');
      expect(await resolve(ids, ids[1]!)).toBe('already_resolved');
      const unknown = { ...conflictOp(ids, ids[1]!), id: '999999' };
      expect(await s.resolveConflict(unknown)).toBe('not_found');
      expect((await s.usableReadings('U1')).map((r) => r.engineHours)).toEqual([100.5]);
      expect((await s.getReading(ids[0]!))!.status).toBe('superseded');
      // Every stored version stays a duplicate of itself, superseded or not.
      expect(await s.ingestBatch(ingestBatch('b4', [fr('U1', ts(8), 100)]))).toMatchObject({
        duplicates: 1,
        conflicts: 0,
      });
      expect(await s.countReadings()).toBe(3);
    });

    it('a held reading is released once, on the ts it was decided on', async () => {
      const s = await open();
      await s.ingestBatch(
        ingestBatch('b1', [fr('U1', '1999-12-31T23:00:00.000Z', 99), fr('U1', ts(8), 100)]),
      );
      const [h] = await s.heldReadings({ unit: 'U1' });
      expect(h).toMatchObject({ status: 'held', engineHours: 99 });
      const releaseAudit = { actor: 'alex', action: 'reading.release', target: 'U1', detail: null };
      const release = (expectTs: string, to: string) =>
        s.releaseHeld({ id: h!.id, expectTs, ts: to, at: NOW, audit: releaseAudit });
      expect((await release(ts(3), ts(7))).kind).toBe('stale');
      expect((await release(h!.ts, ts(8))).kind).toBe('identity_taken');
      const r = await release(h!.ts, ts(7));
      expect(r).toMatchObject({ kind: 'released', reading: { ts: ts(7), reportedTs: h!.ts, status: 'ok' } });
      expect((await release(h!.ts, ts(7))).kind).toBe('not_held');
      const unknown = { id: '999999', expectTs: ts(7), ts: ts(7), at: NOW, audit: releaseAudit };
      expect((await s.releaseHeld(unknown)).kind).toBe('not_found');
      expect((await s.usableReadings('U1')).map((x) => x.engineHours)).toEqual([99, 100]);
      expect((await s.dirtyUnits()).find((d) => d.unitId === 'U1')!.sinceMs).toBeLessThanOrEqual(
        Date.parse(ts(7)),
      );
      expect((await s.listAudit({ action: 'reading.release' })).length).toBe(1);
    });

    it("a resend of a reading released under an earlier ts is a duplicate, though it is past the unit's latest ts", async () => {
      const s = await open();
      const ahead = fr('U1', ts(40), 105); // ahead of the cloud clock: held
      await s.ingestBatch(ingestBatch('b1', [fr('U1', ts(6), 99), ahead]));
      const [h] = await s.heldReadings({ unit: 'U1' });
      const audit = { actor: 'alex', action: 'reading.release', target: 'U1', detail: null };
      expect((await s.releaseHeld({ id: h!.id, expectTs: ts(40), ts: ts(7), at: NOW, audit })).kind).toBe(
        'released',
      );
      // A day later its ts is no longer ahead; the gateway resends it with a newer one.
      const later = { nowMs: NOW_MS + 24 * HOUR_MS };
      expect(await s.ingestBatch(ingestBatch('b2', [ahead, fr('U1', ts(41), 106)], later))).toMatchObject({
        accepted: 1,
        duplicates: 1,
      });
      expect((await s.usableReadings('U1')).map((r) => r.engineHours)).toEqual([99, 105, 106]);
      // Within one batch, a second copy of a new reading is a duplicate of the first.
      const next = fr('U1', ts(42), 107);
      expect(await s.ingestBatch(ingestBatch('b3', [next, next], later))).toMatchObject({
        accepted: 1,
        duplicates: 1,
      });
      expect(await s.countReadings()).toBe(4);
    });

    it('usageReadings is usableReadings without the receipt fields; markAllDirty marks every unit whole', async () => {
      const s = await open();
      await s.ingestBatch(
        ingestBatch('b1', [
          fr('U1', '1999-12-31T23:00:00.000Z', 99),
          fr('U1', ts(8), 100, { idleHours: 10, odometerKm: 5, position: { lat: 51.5, lon: -0.12 } }),
          fr('U1', ts(9), 101),
          fr('U1', ts(10), 102),
          fr('U2', ts(8), 7),
        ]),
      );
      await s.ingestBatch(ingestBatch('b2', [fr('U1', ts(10), 102.5)])); // a conflict: both kept out
      const meter = (r: StoredReading) => ({
        ts: r.ts,
        tsMs: r.tsMs,
        engineHours: r.engineHours,
        idleHours: r.idleHours,
        odometerKm: r.odometerKm,
        position: r.position,
        siteId: r.siteId,
      });
      const all = await s.usableReadings('U1');
      expect(all.map((r) => r.engineHours)).toEqual([100, 101]);
      expect(await s.usageReadings('U1')).toEqual(all.map(meter));
      expect(await s.usageReadings('U1', Date.parse(ts(9)))).toEqual(
        (await s.usableReadings('U1', Date.parse(ts(9)))).map(meter),
      );
      expect((await s.usageReadings('U1', Date.parse(ts(9)))).map((r) => r.ts)).toEqual([ts(8), ts(9)]);
      expect(await s.usageReadings('U3')).toEqual([]);
      const before = new Map((await s.dirtyUnits()).map((d) => [d.unitId, d.generation]));
      await s.markAllDirty(NOW);
      const after = await s.dirtyUnits();
      expect(after.map((d) => [d.unitId, d.sinceMs]).sort()).toEqual([
        ['U1', 0],
        ['U2', 0],
      ]);
      for (const d of after) expect(d.generation).toBeGreaterThan(before.get(d.unitId) ?? 0);
    });

    it('every change marks its unit dirty; consolidation clears the mark only at the generation it read', async () => {
      const s = await open();
      await s.ingestBatch(ingestBatch('b1', [fr('U1', ts(9), 101)]));
      const [d1] = await s.dirtyUnits();
      expect(d1).toMatchObject({ unitId: 'U1', sinceMs: Date.parse(ts(9)) });
      await s.ingestBatch(ingestBatch('b2', [fr('U1', ts(8), 100), fr('U2', ts(8), 50)]));
      const d2 = (await s.dirtyUnits()).find((d) => d.unitId === 'U1')!;
      expect(d2.generation).toBeGreaterThan(d1!.generation);
      expect(d2.sinceMs).toBe(Date.parse(ts(8)));
      // A consolidation that read generation 1 leaves the mark: readings arrived meanwhile.
      expect(
        await s.applyConsolidation(consolidation('U1', d1!.generation, {}, { figures: [figure('U1', 1)] })),
      ).toMatchObject({ kind: 'applied' });
      expect((await s.dirtyUnits()).map((d) => d.unitId).sort()).toEqual(['U1', 'U2']);
      expect((await s.listUsage({ unit: 'U1' })).map((u) => u.engineHours)).toEqual([1]);
      expect(await s.applyConsolidation(consolidation('U1', d2.generation))).toMatchObject({
        kind: 'applied',
      });
      expect((await s.dirtyUnits()).map((d) => d.unitId)).toEqual(['U2']);
      expect(await s.listUsage({ unit: 'U1' })).toEqual([]);
      expect(await s.getMeta('lastConsolidatedAt')).toBe(NOW);
      await s.markDirty('U1', 0, NOW);
      expect((await s.dirtyUnits()).find((d) => d.unitId === 'U1')!.sinceMs).toBe(0);
    });

    it('an allocation starts at version 1 and every change is a compare-and-set on version and status', async () => {
      const s = await open();
      const a = await created(s);
      expect(a).toMatchObject({ version: 1, status: 'pending', engineHours: 5 });
      const ok = await s.applyDecisions([approve(a)], NOW);
      expect(ok).toEqual({ applied: [a.id], stale: [] });
      const v2 = (await s.getAllocation(a.id))!;
      expect(v2).toMatchObject({ version: 2, status: 'approved', approvedBy: 'alex' });
      // The same decision again, or one made on another status, changes nothing.
      const again = await s.applyDecisions([approve(a, 'sam')], NOW);
      expect(again.applied).toEqual([]);
      expect(again.stale).toEqual([{ id: a.id, current: v2 }]);
      const wrongStatus = await s.applyDecisions(
        [{ ...approve(a), expect: { version: 2, status: 'pending' } }],
        NOW,
      );
      expect(wrongStatus.stale.map((x) => x.id)).toEqual([a.id]);
      expect((await s.getAllocation(a.id))!).toEqual(v2);
      expect((await s.listAudit({ action: 'allocation.approve' })).map((e) => e.actor)).toEqual(['alex']);
      // Reject and reopen are the same compare-and-set.
      const reject = {
        id: a.id,
        expect: { version: 2, status: 'approved' as const },
        patch: {
          status: 'rejected' as const,
          rejectedBy: 'sam',
          rejectReason: 'wrong site',
          approvedBy: null,
        },
        audit: [{ actor: 'sam', action: 'allocation.reject', target: a.key, detail: 'wrong site' }],
      };
      expect((await s.applyDecisions([reject], NOW)).applied).toEqual([a.id]);
      expect((await s.applyDecisions([reject], NOW)).stale.map((x) => x.id)).toEqual([a.id]);
      const v3 = (await s.getAllocation(a.id))!;
      expect(v3).toMatchObject({ version: 3, status: 'rejected', approvedBy: null });
      // A change that vanished meanwhile is stale with nothing current.
      expect((await s.applyDecisions([{ ...approve(a), id: '999999' }], NOW)).stale).toEqual([
        { id: '999999', current: null },
      ]);
    });

    it('two replicas deciding on the same version: exactly one change is applied', async () => {
      const s = await open();
      const t = await sibling(s);
      const a = await created(s);
      const [x, y] = await Promise.all([
        s.applyDecisions([approve(a, 'alex')], NOW),
        t.applyDecisions([approve(a, 'sam')], NOW),
      ]);
      expect([...x.applied, ...y.applied]).toEqual([a.id]);
      expect([...x.stale, ...y.stale].map((z) => z.id)).toEqual([a.id]);
      expect((await s.getAllocation(a.id))!.version).toBe(2);
    });

    it("a consolidation's allocation changes are compare-and-set: one stale change writes nothing", async () => {
      const s = await open();
      await s.ingestBatch(ingestBatch('b1', [fr('U1', ts(8), 100), fr('U1', ts(13), 105)]));
      const [dirty] = await s.dirtyUnits();
      const a = await created(s);
      // An approver acts between the consolidation's read (version 1) and its write.
      await s.applyDecisions([approve(a)], NOW);
      const stale = await s.applyConsolidation(
        consolidation(
          'U1',
          dirty!.generation,
          {
            update: [
              {
                id: a.id,
                expect: { version: 1, status: 'pending' },
                patch: { engineHours: 9, amountMinor: 65700 },
              },
            ],
            create: [newAllocation('U1', { day: '2026-11-22' })],
            audit: [{ actor: 'consolidation', action: 'allocation.update', target: a.key, detail: null }],
          },
          { figures: [figure('U1', 9)] },
        ),
      );
      expect(stale.kind).toBe('stale');
      // Nothing of it was kept: not the usage, not the new allocation, not the dirty mark's clearing.
      expect(await s.listUsage({ unit: 'U1' })).toEqual([]);
      expect(
        (await s.allocationsForUnit('U1')).map((x) => [x.day, x.version, x.status, x.engineHours]),
      ).toEqual([[DAY, 2, 'approved', 5]]);
      expect((await s.dirtyUnits()).map((d) => d.unitId)).toEqual(['U1']);
      expect(await s.listAudit({ action: 'allocation.update' })).toEqual([]);
      // A key that exists already is stale too (another replica created it).
      expect(
        (await s.applyConsolidation(consolidation('U1', null, { create: [newAllocation('U1')] }))).kind,
      ).toBe('stale');
      // Planned on what is stored now, it applies and bumps the version.
      const applied = await s.applyConsolidation(
        consolidation('U1', dirty!.generation, {
          update: [
            {
              id: a.id,
              expect: { version: 2, status: 'approved' },
              patch: {
                engineHours: 9,
                amountMinor: 65700,
                status: 'pending',
                approvedBy: null,
                approvedAt: null,
              },
            },
          ],
        }),
      );
      expect(applied.kind).toBe('applied');
      expect((await s.getAllocation(a.id))!).toMatchObject({ version: 3, status: 'pending', engineHours: 9 });
      expect(await s.dirtyUnits()).toEqual([]);
    });

    it('posting records what was sent; a change meanwhile keeps the sent figures and re-opens the unit', async () => {
      const s = await open();
      const a = await approved(s);
      const posted = await s.markPosted({
        id: a.id,
        sent: sentOf(a),
        outcome: OUTCOME,
        at: NOW,
        actor: 'poster',
      });
      expect(posted).toMatchObject({
        kind: 'posted',
        allocation: { status: 'posted', version: 3, engineHours: 5, amountMinor: 36500, odoo: { id: 7 } },
      });
      expect(
        (await s.markPosted({ id: a.id, sent: sentOf(a), outcome: OUTCOME, at: NOW, actor: 'poster' })).kind,
      ).toBe('already_posted');
      expect(
        (await s.markPosted({ id: '999999', sent: sentOf(a), outcome: OUTCOME, at: NOW, actor: 'poster' }))
          .kind,
      ).toBe('not_found');

      // Sent at 5 h; while Odoo answered, consolidation re-opened it at 9 h.
      const b = await approved(s, {}, 'U2');
      const sent = sentOf(b);
      expect(
        (
          await s.applyConsolidation(
            consolidation('U2', null, {
              update: [
                {
                  id: b.id,
                  expect: { version: b.version, status: 'approved' },
                  patch: {
                    engineHours: 9,
                    workingHours: 9,
                    amountMinor: 65700,
                    status: 'pending',
                    approvedBy: null,
                  },
                },
              ],
            }),
          )
        ).kind,
      ).toBe('applied');
      expect(await s.dirtyUnits()).toEqual([]);
      const r = await s.markPosted({ id: b.id, sent, outcome: OUTCOME, at: NOW, actor: 'poster' });
      expect(r.kind).toBe('posted_changed');
      if (r.kind !== 'posted_changed') return;
      expect(r.meanwhile).toMatchObject({ status: 'pending', engineHours: 9, amountMinor: 65700 });
      expect(r.allocation).toMatchObject({
        status: 'posted',
        engineHours: 5,
        workingHours: 5,
        amountMinor: 36500,
      });
      expect(r.allocation.version).toBeGreaterThan(r.meanwhile.version);
      expect((await s.dirtyUnits()).map((d) => d.unitId)).toEqual(['U2']);
      const audit = await s.listAudit({ action: 'allocation.post' });
      expect(audit.map((e) => e.target)).toEqual([a.key, b.key]);
      expect(JSON.parse(audit[1]!.detail!)).toMatchObject({
        sent: { version: sent.version, engineHours: 5 },
      });
    });

    it('hold and dead-letter change an approved allocation under a new version', async () => {
      const s = await open();
      const a = await approved(s);
      await s.hold(a.id, 'no analytic account', NOW, 'poster');
      const held = (await s.getAllocation(a.id))!;
      expect(held).toMatchObject({ status: 'approved', holdReason: 'no analytic account' });
      expect(held.version).toBeGreaterThan(a.version);
      await s.deadLetter(a.id, 'ODOO_VALIDATION', 'bad account', NOW, 'poster');
      await s.deadLetter(a.id, 'ODOO_VALIDATION', 'bad account', NOW, 'poster');
      expect(await s.listDeadLetters()).toMatchObject([{ allocationId: a.id, attempts: 2 }]);
      await s.markPosted({ id: a.id, sent: sentOf(held), outcome: OUTCOME, at: NOW, actor: 'poster' });
      expect(await s.listDeadLetters()).toEqual([]);
      expect(await s.listDeadLetters({ includeResolved: true })).toHaveLength(1);
    });

    it('a dirty unit has one claimant at a time; a lease that runs out is taken over', async () => {
      const s = await open();
      const t = await sibling(s);
      await s.markDirty('U1', 0, '2026-11-24T10:00:00.000Z');
      await s.markDirty('U2', 0, '2026-11-24T11:00:00.000Z');
      const lease = (owner: string, nowMs = NOW_MS) => ({ owner, nowMs, leaseMs: 60_000 });
      expect((await s.claimDirtyUnit(lease('A')))?.unitId).toBe('U1'); // the oldest mark first
      expect((await t.claimDirtyUnit(lease('B')))?.unitId).toBe('U2');
      expect(await t.claimDirtyUnit(lease('B'))).toBeNull();
      expect(await s.claimDirtyUnit(lease('C'))).toBeNull();
      // A dies: at the end of its lease B may take U1 over.
      expect(await t.claimDirtyUnit(lease('B', NOW_MS + 59_999))).toBeNull();
      const takeover = await t.claimDirtyUnit(lease('B', NOW_MS + 60_000));
      expect(takeover?.unitId).toBe('U1');
      // A late release by A does not free B's claim on U1 (B's lease on U2 has run out by now).
      await s.releaseDirtyUnit('U1', 'A');
      expect((await s.claimDirtyUnit(lease('A', NOW_MS + 60_000)))?.unitId).toBe('U2');
      expect(await s.claimDirtyUnit(lease('C', NOW_MS + 60_000))).toBeNull();
      // B's write ends its claim and clears U1.
      expect(
        await t.applyConsolidation(consolidation('U1', takeover!.generation, {}, { claimOwner: 'B' })),
      ).toMatchObject({ kind: 'applied' });
      // Released without consolidating (e.g. after a stale write): free again at once, still dirty.
      await s.releaseDirtyUnit('U2', 'A');
      expect((await t.claimDirtyUnit(lease('B', NOW_MS + 60_000)))?.unitId).toBe('U2');
      expect((await s.dirtyUnits()).map((d) => d.unitId)).toEqual(['U2']);
    });

    it('an allocation is claimed for posting by one run; posted, it cannot be claimed again', async () => {
      const s = await open();
      const t = await sibling(s);
      const a = await approved(s);
      const p = await created(s, {}, 'U2');
      const lease = (owner: string, nowMs = NOW_MS) => ({ owner, nowMs, leaseMs: 60_000 });
      const [x, y] = await Promise.all([
        s.claimForPosting([a.id, p.id], lease('A')),
        t.claimForPosting([a.id], lease('B')),
      ]);
      expect([...x, ...y].map((z) => z.id)).toEqual([a.id]); // pending p is not postable
      const [winner, loser] = x.length > 0 ? [s, t] : [t, s];
      const [wo, lo] = x.length > 0 ? ['A', 'B'] : ['B', 'A'];
      expect((await winner.claimForPosting([a.id], lease(wo)))[0]?.version).toBe(a.version); // its own again
      expect(await loser.claimForPosting([a.id], lease(lo, NOW_MS + 59_999))).toEqual([]);
      // The winner dies; after its lease the other run takes over, then releases.
      expect((await loser.claimForPosting([a.id], lease(lo, NOW_MS + 60_000))).map((z) => z.id)).toEqual([
        a.id,
      ]);
      await loser.releasePostingClaims([a.id], lo);
      const claimed = await winner.claimForPosting([a.id], lease(wo, NOW_MS + 60_000));
      expect(claimed).toHaveLength(1);
      await winner.markPosted({
        id: a.id,
        sent: sentOf(claimed[0]!),
        outcome: OUTCOME,
        at: NOW,
        actor: 'poster',
      });
      expect(await loser.claimForPosting([a.id], lease(lo, NOW_MS + 60_000))).toEqual([]);
    });

    it("a dead replica's claims can be ended at once, and only its own", async () => {
      const s = await open();
      const t = await sibling(s);
      const a = await approved(s);
      const b = await approved(s, {}, 'U2');
      await s.markDirty('U3', 0, NOW);
      const lease = (owner: string) => ({ owner, nowMs: NOW_MS, leaseMs: 600_000 });
      expect(await s.claimForPosting([a.id], lease('h:1:aa/post-1'))).toHaveLength(1);
      expect(await s.claimDirtyUnit(lease('h:1:aa/consolidate'))).not.toBeNull();
      expect(await s.claimForPosting([b.id], lease('h:1:aab/post-1'))).toHaveLength(1);
      expect(await t.claimOwners()).toEqual(['h:1:aa/consolidate', 'h:1:aa/post-1', 'h:1:aab/post-1']);
      expect(await t.releaseClaimsOf('h:1:aa')).toBe(2);
      expect(await t.claimOwners()).toEqual(['h:1:aab/post-1']);
      expect((await t.claimForPosting([a.id, b.id], lease('h:2:bb/post-1'))).map((x) => x.id)).toEqual([
        a.id,
      ]);
      expect((await t.claimDirtyUnit(lease('h:2:bb/consolidate')))?.unitId).toBe('U3');
    });

    it('a hold note is cleared once, as a compare-and-set on the version it was read at', async () => {
      const s = await open();
      const t = await sibling(s);
      const a = await approved(s);
      const clear = (x: AllocationRecord, store = s) =>
        store.clearHold({
          id: x.id,
          expect: { version: x.version, status: x.status },
          at: NOW,
          actor: 'poster',
        });
      expect(await clear(a)).toEqual({ kind: 'no_hold' });
      expect((await s.getAllocation(a.id))!.version).toBe(a.version);
      await s.hold(a.id, 'period locked in Odoo', NOW, 'poster');
      const held = (await s.getAllocation(a.id))!;
      // Read before the hold: the note it did not see is not cleared.
      expect(await clear(a)).toMatchObject({ kind: 'stale', current: { version: held.version } });
      const [x, y] = await Promise.all([clear(held), clear(held, t)]);
      expect([x.kind, y.kind].sort()).toEqual(['cleared', 'stale']);
      const cleared = (await s.getAllocation(a.id))!;
      expect(cleared).toMatchObject({ status: 'approved', holdReason: null, version: held.version + 1 });
      expect(await s.listAudit({ action: 'allocation.hold_cleared' })).toMatchObject([
        { target: a.key, detail: 'was: period locked in Odoo' },
      ]);
      // Posting at the version the clear answered is posting unchanged.
      const r = await s.markPosted({
        id: a.id,
        sent: sentOf(cleared),
        outcome: OUTCOME,
        at: NOW,
        actor: 'poster',
      });
      expect(r.kind).toBe('posted');
      expect(await clear(a)).toMatchObject({ kind: 'stale' });
      expect(
        await s.clearHold({ id: '999999', expect: { version: 1, status: 'approved' }, at: NOW, actor: 'p' }),
      ).toEqual({ kind: 'stale', current: null });
    });

    it('an Odoo sync writes what is new or changed, answers which, and moves its cursor', async () => {
      const s = await open();
      expect(await s.listOdooRecords('maintenance.equipment')).toEqual([]);
      const first = [equipment(1), equipment(2, { active: false }), equipment(3)];
      expect(await s.applyOdooSync(equipmentSync(first, null, '2026-11-24 10:00:00'))).toEqual({
        kind: 'applied',
        added: [1, 2, 3],
        changed: [],
      });
      expect(await s.listOdooRecords('maintenance.equipment')).toEqual(first);
      expect(await s.listOdooRecords('project.project')).toEqual([]);
      expect(await s.getMeta('odoo.sync.maintenance.equipment')).toBe('2026-11-24 10:00:00');
      // Incremental: the records written at the cursor's second come again, one changed, one new.
      const again = [
        equipment(1),
        equipment(3, { name: 'Excavator 3 (rebuilt)', writeDate: '2026-11-24 11:00:00' }),
        equipment(4, { writeDate: '2026-11-24 11:00:00' }),
      ];
      expect(
        await s.applyOdooSync(equipmentSync(again, '2026-11-24 10:00:00', '2026-11-24 11:00:00')),
      ).toEqual({ kind: 'applied', added: [4], changed: [3] });
      expect((await s.listOdooRecords('maintenance.equipment')).map((r) => [r.odooId, r.name])).toEqual([
        [1, 'Excavator 1'],
        [2, 'Excavator 2'],
        [3, 'Excavator 3 (rebuilt)'],
        [4, 'Excavator 4'],
      ]);
      expect(await s.getMeta('odoo.sync.maintenance.equipment')).toBe('2026-11-24 11:00:00');
      const audit = await s.listAudit({ action: 'odoo.sync' });
      expect(audit.map((e) => JSON.parse(e.detail!))).toEqual([
        { added: [1, 2, 3], changed: [] },
        { added: [4], changed: [3] },
      ]);
    });

    it('an Odoo sync that changes nothing writes nothing', async () => {
      const s = await open();
      const rows = [equipment(1), equipment(2)];
      await s.applyOdooSync(equipmentSync(rows, null, '2026-11-24 10:00:00'));
      const auditBefore = await s.listAudit({});
      const rowsBefore = await s.listOdooRecords('maintenance.equipment');
      expect(
        await s.applyOdooSync(equipmentSync(rows, '2026-11-24 10:00:00', '2026-11-24 10:00:00')),
      ).toEqual({ kind: 'applied', added: [], changed: [] });
      expect(await s.applyOdooSync(equipmentSync([], '2026-11-24 10:00:00', null))).toEqual({
        kind: 'applied',
        added: [],
        changed: [],
      });
      expect(await s.listAudit({})).toEqual(auditBefore);
      expect(await s.listOdooRecords('maintenance.equipment')).toEqual(rowsBefore);
      expect(await s.getMeta('odoo.sync.maintenance.equipment')).toBe('2026-11-24 10:00:00');
    });

    it("an Odoo sync's write is a compare-and-set on the cursor its read started from", async () => {
      const s = await open();
      const t = await sibling(s);
      await s.applyOdooSync(equipmentSync([equipment(1)], null, '2026-11-24 10:00:00'));
      // Two replicas read from the same cursor; the newer read lands first.
      const newer = equipmentSync(
        [equipment(1, { name: 'Renamed', writeDate: '2026-11-24 12:00:00' })],
        '2026-11-24 10:00:00',
        '2026-11-24 12:00:00',
      );
      const older = equipmentSync(
        [equipment(1, { name: 'Old name', writeDate: '2026-11-24 11:00:00' })],
        '2026-11-24 10:00:00',
        '2026-11-24 11:00:00',
      );
      expect(await t.applyOdooSync(newer)).toEqual({ kind: 'applied', added: [], changed: [1] });
      expect(await s.applyOdooSync(older)).toEqual({ kind: 'stale', cursor: '2026-11-24 12:00:00' });
      expect((await s.listOdooRecords('maintenance.equipment'))[0]?.name).toBe('Renamed');
      expect(await s.getMeta('odoo.sync.maintenance.equipment')).toBe('2026-11-24 12:00:00');
      // A first sync racing another first sync: one applies, the other is stale.
      const [x, y] = await Promise.all([
        s.applyOdooSync({ ...equipmentSync([], null, '2026-11-24 09:00:00'), model: 'project.project' }),
        t.applyOdooSync({ ...equipmentSync([], null, '2026-11-24 09:30:00'), model: 'project.project' }),
      ]);
      expect([x.kind, y.kind].sort()).toEqual(['applied', 'stale']);
    });

    it("a scheduled job's tick runs on one replica", async () => {
      const s = await open();
      const t = await sibling(s);
      const claims = await Promise.all([
        s.claimJobTick('consolidation', '2026-11-24T12:00:00.000Z', 'A', NOW),
        t.claimJobTick('consolidation', '2026-11-24T12:00:00.000Z', 'B', NOW),
      ]);
      expect(claims.filter(Boolean)).toHaveLength(1);
      expect(await t.claimJobTick('consolidation', '2026-11-24T12:01:00.000Z', 'B', NOW)).toBe(true);
      expect(await s.claimJobTick('other-job', '2026-11-24T12:00:00.000Z', 'A', NOW)).toBe(true);
    });
  });
}
