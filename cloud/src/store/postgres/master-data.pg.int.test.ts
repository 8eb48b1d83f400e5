/**
 * Master data shared by replicas on PostgreSQL: a unit created through one cloud is accepted
 * by another cloud's ingest (which checks units against its in-memory view) without a restart,
 * because every change is announced with NOTIFY and every replica reloads on hearing it.
 */
import { createTempPgDatabase, requirePg, type TempPgDatabase, tempDir, waitFor } from '@ironledger/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { batch, startTestCloud, type TestCloud, useTestPostgres } from '../../testing/harness.js';

const pgOn = await requirePg();
let db: TempPgDatabase | undefined;
const clouds: TestCloud[] = [];
afterAll(async () => {
  for (const c of clouds) await c.stop();
  useTestPostgres(null);
  await db?.drop();
});

describe.skipIf(!pgOn)('master data across replicas on PostgreSQL', () => {
  it('a unit created through one replica is accepted by another without a restart', async () => {
    db = await createTempPgDatabase();
    useTestPostgres(db.url);
    const dir = tempDir('ironledger-md-');
    const a = await startTestCloud({ dir });
    clouds.push(a);
    const b = await startTestCloud({ dir });
    clouds.push(b);
    const reading = batch([['EXC-NEW', '2026-11-23T08:00:00.000Z', 10]]);
    expect((await b.postBatch(reading)).status).toBe(422); // unknown unit, as it should be
    const created = await a.api('POST', '/v1/units', { unitId: 'EXC-NEW', equipmentClass: 'excavator' });
    expect(created.status).toBe(201);
    await waitFor(async () => (await b.postBatch(reading)).status === 200, {
      timeoutMs: 10_000,
      what: 'the other replica to accept the new unit',
    });
    const units = await b.api('GET', '/v1/units');
    expect((units.json as { units: Array<{ unitId: string }> }).units.map((u) => u.unitId)).toContain(
      'EXC-NEW',
    );
  });
});
