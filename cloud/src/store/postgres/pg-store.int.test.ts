/**
 * What only a shared database can get wrong: replicas racing on the same batch, on two
 * versions of one identity, and on master data. Each "replica" is its own PostgresStore (its
 * own pool of connections) on one throwaway database.
 */
import { type ForwardedReading, readingContent } from '@ironledger/contracts';
import { createTempPgDatabase, requirePg, type TempPgDatabase } from '@ironledger/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import type { IngestBatch } from '../store.js';
import { PostgresStore } from './pg-store.js';

const pgOn = await requirePg();
const open: Array<{ close(): Promise<void> }> = [];
const dbs: TempPgDatabase[] = [];
afterEach(async () => {
  while (open.length) await open.pop()!.close();
  while (dbs.length) await dbs.pop()!.drop();
});

async function replicas(n: number): Promise<PostgresStore[]> {
  const db = await createTempPgDatabase();
  dbs.push(db);
  const out: PostgresStore[] = [];
  // Opened together: the migration runs once under its lock.
  out.push(
    ...(await Promise.all(Array.from({ length: n }, () => PostgresStore.open({ url: db.url, poolMax: 4 })))),
  );
  open.push(...out);
  return out;
}

function reading(unitId: string, minute: number, engineHours: number): ForwardedReading {
  return {
    v: 1,
    unitId,
    seq: minute,
    ts: new Date(Date.UTC(2026, 10, 23, 8, minute)).toISOString(),
    engineHours,
    receivedAt: new Date(Date.UTC(2026, 10, 23, 8, minute, 1)).toISOString(),
  } as ForwardedReading;
}

function batch(batchId: string, readings: ForwardedReading[], gatewayId = 'gw-1'): IngestBatch {
  return {
    gatewayId,
    batchId,
    siteId: null,
    storedAt: new Date().toISOString(),
    readings: readings.map((r) => ({
      reading: r,
      content: readingContent(r),
      holdReason: null,
      flaggedConflict: false,
      body: JSON.stringify(r),
    })),
  };
}

describe.skipIf(!pgOn)('PostgresStore across replicas', () => {
  it('stores a batch once when three replicas receive it at the same moment', async () => {
    const rs = await replicas(3);
    const readings = Array.from({ length: 500 }, (_, i) => reading(`U-${i % 7}`, i, 100 + i / 60));
    for (let round = 0; round < 5; round++) {
      const b = batch(`b-${round}`, readings.slice(round * 100, round * 100 + 100));
      const answers = await Promise.all(rs.map((s) => s.ingestBatch(b)));
      expect(answers.filter((a) => a.kind === 'stored')).toHaveLength(1);
      expect(answers.filter((a) => a.kind === 'replayed')).toHaveLength(2);
      for (const a of answers) expect(a).toMatchObject({ accepted: 100, duplicates: 0 });
    }
    expect(await rs[0]!.countReadings()).toBe(500);
    // The same readings again in other batches, raced: duplicates, nothing new.
    const again = await Promise.all(
      rs.map((s, i) => s.ingestBatch(batch(`again-${i}`, readings.slice(0, 100)))),
    );
    expect(again.map((a) => a.kind === 'stored' && a.accepted)).toEqual([0, 0, 0]);
    expect(await rs[1]!.countReadings()).toBe(500);
    const dirty = await rs[2]!.dirtyUnits();
    expect(dirty.map((d) => d.unitId).sort()).toEqual(['U-0', 'U-1', 'U-2', 'U-3', 'U-4', 'U-5', 'U-6']);
  });

  it('flags two versions of one identity as a conflict when two replicas store them at once', async () => {
    const rs = await replicas(2);
    for (let i = 0; i < 10; i++) {
      const a = reading('EXC-1', i, 100);
      const b = { ...a, engineHours: 200 };
      const [ra, rb] = await Promise.all([
        rs[0]!.ingestBatch(batch(`a-${i}`, [a])),
        rs[1]!.ingestBatch(batch(`b-${i}`, [b])),
      ]);
      // Whichever came second saw the first: exactly one of them reports the conflict.
      const conflicts = [ra, rb].map((x) => (x.kind === 'stored' ? x.conflicts : -1));
      expect(conflicts.sort()).toEqual([0, 1]);
    }
    const open = await rs[0]!.listConflicts({ status: 'open' });
    expect(open).toHaveLength(10);
    for (const c of open) expect(c.versions.map((v) => v.status)).toEqual(['conflict', 'conflict']);
  });

  it('stores the same new readings once when three batches carry them at the same moment', async () => {
    const rs = await replicas(3);
    for (let round = 0; round < 5; round++) {
      const readings = Array.from({ length: 50 }, (_, i) => reading(`DUP-${i % 5}`, round * 50 + i, 100 + i));
      const answers = await Promise.all(
        rs.map((s, k) => s.ingestBatch(batch(`dup-${round}-${k}`, readings))),
      );
      const accepted = answers.map((a) => (a.kind === 'stored' ? a.accepted : -1)).sort((x, y) => x - y);
      expect(accepted).toEqual([0, 0, 50]);
      for (const a of answers) expect(a).toMatchObject({ kind: 'stored', conflicts: 0 });
      expect(answers.map((a) => (a.kind === 'stored' ? a.duplicates : -1)).sort()).toEqual([0, 50, 50]);
    }
    expect(await rs[0]!.countReadings()).toBe(250);
  });

  it('stores batches of thousands of units from every replica at once: unit locks do not run out', async () => {
    // A large fleet: 8 batches in flight at once, 2,500 different units each. PostgreSQL's
    // shared lock table holds about 64 × max_connections locks (6,400 by default, a little more
    // in slack); a lock per unit in each transaction would run past it ("out of shared memory").
    const rs = await replicas(2);
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, k) =>
        rs[k % 2]!.ingestBatch(
          batch(
            `big-${k}`,
            Array.from({ length: 2500 }, (_, i) => reading(`F${k}-${i}`, i % 60, 100)),
            `gw-${k}`,
          ),
        ),
      ),
    );
    for (const a of answers) expect(a).toMatchObject({ kind: 'stored', accepted: 2500 });
    expect(await rs[0]!.countReadings()).toBe(20_000);
    expect(await rs[1]!.dirtyUnits()).toHaveLength(20_000);
  });

  it('answers batch_id_taken when another gateway reuses a batch id, and keeps hours as numbers', async () => {
    const [s] = await replicas(1);
    await s!.ingestBatch(batch('shared', [reading('EXC-2', 1, 4521.35)], 'gw-a'));
    expect(await s!.ingestBatch(batch('shared', [reading('EXC-2', 2, 4521.4)], 'gw-b'))).toEqual({
      kind: 'batch_id_taken',
      byGatewayId: 'gw-a',
    });
    const [r] = await s!.usableReadings('EXC-2');
    expect(r).toMatchObject({ engineHours: 4521.35, tsMs: Date.UTC(2026, 10, 23, 8, 1) });
    expect(typeof r!.tsMs).toBe('number');
  });

  it('a master-data change through one replica is read by the others at once', async () => {
    const [a, b] = await replicas(2);
    await a!.upsertProject({ projectId: 'P-1', name: 'One' } as never);
    expect((await b!.listProjects()).map((p) => p.name)).toEqual(['One']);
    await b!.upsertProject({ projectId: 'P-1', name: 'Renamed' } as never);
    expect((await a!.listProjects()).map((p) => p.name)).toEqual(['Renamed']);
  });
});
