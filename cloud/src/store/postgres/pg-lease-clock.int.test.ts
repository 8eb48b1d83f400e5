/**
 * Leases on PostgreSQL run on the database server's clock: a replica whose own clock is ahead
 * cannot take a live lease over, and one whose clock is behind still takes over a lease that
 * really ran out.
 */
import { createTempPgDatabase, requirePg, type TempPgDatabase } from '@ironledger/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { PostgresStore } from './pg-store.js';

const pgOn = await requirePg();
const open: PostgresStore[] = [];
let db: TempPgDatabase | undefined;
afterAll(async () => {
  for (const s of open) await s.close();
  await db?.drop();
});

const TEN_MINUTES = 600_000;

describe.skipIf(!pgOn)('leases on the database server clock', () => {
  it('a replica ten minutes ahead cannot take a live claim; one ten minutes behind takes an expired one', async () => {
    db = await createTempPgDatabase();
    const url = db.url;
    const [a, b] = await Promise.all([0, 1].map(() => PostgresStore.open({ url, poolMax: 2 })));
    open.push(a!, b!);
    await a!.markDirty('U1', 0, '2026-11-24T10:00:00.000Z');
    await a!.markDirty('U2', 0, '2026-11-24T11:00:00.000Z');

    expect((await a!.claimDirtyUnit({ owner: 'A', nowMs: Date.now(), leaseMs: TEN_MINUTES }))?.unitId).toBe(
      'U1',
    );
    // B's clock runs ten minutes (and a second) ahead: by its own clock A's lease has run out.
    const ahead = { owner: 'B', nowMs: Date.now() + TEN_MINUTES + 1_000, leaseMs: 60_000 };
    expect((await b!.claimDirtyUnit(ahead))?.unitId).toBe('U2');
    expect(await b!.claimDirtyUnit({ ...ahead, nowMs: Date.now() + TEN_MINUTES + 1_000 })).toBeNull();

    // A takes U1 again on a short lease, which then runs out.
    const shortMs = 300;
    await b!.releaseDirtyUnit('U2', 'B');
    await a!.releaseDirtyUnit('U1', 'A');
    const taken = await a!.claimDirtyUnit({ owner: 'A', nowMs: Date.now(), leaseMs: shortMs });
    expect(taken?.unitId).toBe('U1');
    const takenAt = Date.now();
    // B's clock runs ten minutes behind: by its own clock A's lease would last ten more minutes.
    // It polls: U2 is free at once; U1 only once the server's clock passes A's expiry.
    const behind = () => ({ owner: 'B', nowMs: Date.now() - TEN_MINUTES, leaseMs: 60_000 });
    expect((await b!.claimDirtyUnit(behind()))?.unitId).toBe('U2');
    let got = null;
    for (let polls = 0; got === null && polls < 10_000; polls++) got = await b!.claimDirtyUnit(behind());
    expect(got?.unitId).toBe('U1');
    expect(Date.now() - takenAt).toBeGreaterThanOrEqual(shortMs - 5);
  });
});
