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
    const held = async () =>
      ((await b.api('GET', '/v1/held?unit=EXC-NEW')).json as { readings: Array<{ reason: string }> })
        .readings;
    // Unknown to both: its reading is stored, held until the unit is registered.
    expect((await b.postBatch(batch([['EXC-NEW', '2026-11-23T08:00:00.000Z', 10]]))).status).toBe(200);
    expect((await held()).map((r) => r.reason.split(':')[0])).toEqual(['unknown_unit']);
    const created = await a.api('POST', '/v1/units', { unitId: 'EXC-NEW', equipmentClass: 'excavator' });
    expect(created.status).toBe(201);
    expect(await held()).toEqual([]); // released by the registration, in the database
    // Replica b stops holding the unit's new readings once it has heard of the change.
    let hour = 9;
    await waitFor(
      async () => {
        const ts = `2026-11-23T${String(hour++).padStart(2, '0')}:00:00.000Z`;
        expect((await b.postBatch(batch([['EXC-NEW', ts, hour]]))).status).toBe(200);
        return (await held()).length === 0;
      },
      { timeoutMs: 10_000, what: 'the other replica to accept the new unit' },
    );
    const units = await b.api('GET', '/v1/units');
    expect((units.json as { units: Array<{ unitId: string }> }).units.map((u) => u.unitId)).toContain(
      'EXC-NEW',
    );
  });
});
