import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type AempDialectName,
  aempComparable,
  aempDialect,
  checkAempXml,
  equipmentReadings,
  parseAempDocument,
  type Reading,
  renderAempDocument,
  renderAempIndex,
} from '@ironledger/contracts';
import { silentLogger } from '@ironledger/logger';
import { tempDir, waitFor } from '@ironledger/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { batch, startTestCloud, type TestCloud, TOKENS } from '../testing/harness.js';
import { AempFeedConfigSchema } from './config.js';
import { AempPoller } from './poller.js';

const stops: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (stops.length) await stops.pop()?.();
});

const round6 = (x: number) => Math.round(x * 1e6) / 1e6;

/** Readings with every element the canonical reading and AEMP share, five minutes apart (meters at 1e-6, as units publish). */
function fullReadings(unitId: string, n: number, startMs = Date.UTC(2026, 10, 3, 8)): Reading[] {
  return Array.from({ length: n }, (_, i) => ({
    v: 1 as const,
    unitId,
    ts: new Date(startMs + i * 300_000).toISOString(),
    engineHours: round6(1000 + i / 12),
    idleHours: round6(300 + i / 48),
    engineOn: i % 3 !== 0,
    position: { lat: 51.5 + i / 10_000, lon: -0.12 },
    fuelUsedL: 5000 + i * 1.5,
    ...(unitId === 'EXC-1' ? { odometerKm: 120 + i / 10 } : {}),
  }));
}

async function get(url: string, token: string | null, accept?: string) {
  const res = await fetch(url, {
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(accept ? { accept } : {}) },
  });
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
}

async function seededCloud(pageSize = 100): Promise<{ t: TestCloud; readings: Reading[] }> {
  const t = await startTestCloud({
    config: {
      units: [
        { unitId: 'EXC-1', equipmentClass: 'excavator', serialNo: 'SN-1' },
        { unitId: 'EXC-2', equipmentClass: 'excavator', serialNo: 'SN-2' },
        { unitId: 'GEN-3', equipmentClass: 'generator', serialNo: 'SN-3' },
      ],
      aemp: { serve: { enabled: true, pageSize } },
    },
  });
  stops.push(() => t.stop());
  const readings = [...fullReadings('EXC-1', 7), ...fullReadings('EXC-2', 5)];
  const b = batch([]);
  b.readings = readings.map((r) => ({ ...r, receivedAt: r.ts })) as never;
  expect((await t.postBatch(b)).status).toBe(200);
  return { t, readings };
}

describe('the AEMP 2.0 endpoint', () => {
  it('serves the fleet snapshot as XML by default, JSON by Accept, behind a viewer token', async () => {
    const { t, readings } = await seededCloud(2);
    expect((await get(`${t.url}/aemp/2.0/Fleet/1`, null)).status).toBe(401);
    expect((await get(`${t.url}/aemp/2.0/Fleet/1`, 'wrong')).status).toBe(401);

    const p1 = await get(`${t.url}/aemp/2.0/Fleet/1`, TOKENS.viewer);
    expect(p1.status).toBe(200);
    expect(p1.type).toMatch(/^application\/xml/);
    // The XML conforms to the pinned element structure, in the ISO namespace.
    expect(checkAempXml(p1.text)).toEqual([]);
    const d1 = parseAempDocument(p1.text);
    expect(d1.links).toEqual({
      self: `${t.url}/aemp/2.0/Fleet/1`,
      next: `${t.url}/aemp/2.0/Fleet/2`,
      last: `${t.url}/aemp/2.0/Fleet/2`,
    });
    expect(d1.equipment.map((e) => e.header)).toEqual([
      { OEMName: 'IronLedger', Model: 'excavator', EquipmentID: 'EXC-1', SerialNumber: 'SN-1' },
      { OEMName: 'IronLedger', Model: 'excavator', EquipmentID: 'EXC-2', SerialNumber: 'SN-2' },
    ]);
    // The snapshot is each unit's latest reading, every element of it.
    expect(equipmentReadings(d1.equipment[0]!).readings).toEqual([aempComparable(readings[6]!)]);

    const p2 = await get(`${t.url}/aemp/2.0/Fleet/2`, TOKENS.viewer, 'application/json');
    expect(p2.type).toMatch(/^application\/json/);
    const d2 = parseAempDocument(p2.text, aempDialect('json'));
    expect(d2.links.prev).toBe(`${t.url}/aemp/2.0/Fleet/1`);
    expect(d2.links.next).toBeUndefined();
    // A unit with no reading is listed with its header only.
    expect(d2.equipment).toEqual([
      {
        header: { OEMName: 'IronLedger', Model: 'generator', EquipmentID: 'GEN-3', SerialNumber: 'SN-3' },
        points: {},
      },
    ]);
    expect((await get(`${t.url}/aemp/2.0/Fleet/3`, TOKENS.viewer)).status).toBe(404);
    expect((await get(`${t.url}/aemp/2.0/Fleet/0`, TOKENS.viewer)).status).toBe(400);

    const one = await get(`${t.url}/aemp/2.0/Fleet/Equipment/EXC-2`, TOKENS.viewer);
    expect(equipmentReadings(parseAempDocument(one.text).equipment[0]!).readings).toEqual([
      aempComparable(readings[11]!),
    ]);
    expect((await get(`${t.url}/aemp/2.0/Fleet/Equipment/NOPE`, TOKENS.viewer)).status).toBe(404);
  });

  it('serves time series page by page along Links next, one element per request', async () => {
    const { t, readings } = await seededCloud(3);
    const exc1 = readings.filter((r) => r.unitId === 'EXC-1');
    const from = '2026-11-03T08:00:00Z';
    const to = '2026-11-03T09:00:00Z';
    let url: string | undefined =
      `${t.url}/aemp/2.0/Fleet/Equipment/EXC-1/CumulativeOperatingHours/${from}/${to}/1`;
    const hours: number[] = [];
    let pages = 0;
    while (url) {
      const page = await get(url, TOKENS.viewer);
      expect(page.status).toBe(200);
      expect(checkAempXml(page.text)).toEqual([]);
      const doc = parseAempDocument(page.text);
      expect(Object.keys(doc.equipment[0]!.points)).toEqual(['CumulativeOperatingHours']);
      hours.push(...doc.equipment[0]!.points.CumulativeOperatingHours!.map((p) => p.hour));
      url = doc.links.next;
      pages++;
    }
    expect(pages).toBe(3);
    expect(hours).toEqual(exc1.map((r) => r.engineHours));
    const bad = await get(`${t.url}/aemp/2.0/Fleet/Equipment/EXC-1/Nonsense/${from}/${to}/1`, TOKENS.viewer);
    expect(bad.status).toBe(400);
    const backwards = await get(
      `${t.url}/aemp/2.0/Fleet/Equipment/EXC-1/Location/${to}/${from}/1`,
      TOKENS.viewer,
    );
    expect(backwards.status).toBe(400);
  });

  it("read back through IronLedger's own feed client, every element round-trips; a second poll stores nothing", async () => {
    const { t: source, readings } = await seededCloud(2);
    const reader = await startTestCloud({
      config: {
        units: [
          { unitId: 'CAT-A', equipmentClass: 'excavator', serialNo: 'sn-1' },
          { unitId: 'CAT-B', equipmentClass: 'excavator', serialNo: 'SN 2' },
        ],
        aemp: {
          serve: { enabled: true, pageSize: 100 },
          feeds: [
            {
              feedId: 'feed-source',
              url: `${source.url}/aemp/2.0`,
              auth: { kind: 'bearer', token: { value: TOKENS.viewer } },
              pollIntervalS: 3600,
              backfillHours: 24,
            },
          ],
        },
      },
    });
    stops.push(() => reader.stop());
    const status = await waitFor(async () => {
      const r = await reader.api('GET', '/v1/aemp/feeds', undefined, TOKENS.viewer);
      return r.json.feeds[0].lastPollOutcome ? r.json.feeds[0] : null;
    });
    expect(status).toMatchObject({
      feedId: 'feed-source',
      lastPollOutcome: 'ok',
      equipment: 3,
      unmatched: ['SN-3'],
      readingsAccepted: 12,
      errors: 0,
    });
    const back = async (unitId: string) =>
      (
        (await reader.cloud.store.usableReadingBodies(unitId, 0, Date.UTC(2100, 0), 1000, 0)) as Reading[]
      ).map(aempComparable);
    expect(await back('CAT-A')).toEqual(readings.filter((r) => r.unitId === 'EXC-1').map(aempComparable));
    expect(await back('CAT-B')).toEqual(readings.filter((r) => r.unitId === 'EXC-2').map(aempComparable));

    // A second poller on the same store (a restart, or another replica): cursor read, nothing new.
    const before = await reader.cloud.store.countReadings();
    const again = new AempPoller({
      feed: AempFeedConfigSchema.parse({
        feedId: 'feed-source',
        url: `${source.url}/aemp/2.0`,
        auth: { kind: 'bearer', token: { value: TOKENS.viewer } },
      }),
      store: reader.cloud.store,
      units: () => [
        { unitId: 'CAT-A', equipmentClass: 'excavator', serialNo: 'sn-1' },
        { unitId: 'CAT-B', equipmentClass: 'excavator', serialNo: 'SN 2' },
      ],
      logger: silentLogger(),
      now: Date.now,
    });
    expect(await again.poll()).toBe('ok');
    expect(await reader.cloud.store.countReadings()).toBe(before);
    // Only the two snapshot pages were read: every unit's cursor is at its latest reading.
    expect(again.status().requests).toBe(2);
  });
});

/** A maker's feed in one dialect, with a quota: the first request of the first two URLs is answered 429. */
async function fakeFeed(dialectName: AempDialectName, readings: Reading[], serials: Record<string, string>) {
  const d = aempDialect(dialectName);
  const seen = new Set<string>();
  const log: string[] = [];
  const byUnit = new Map<string, Reading[]>();
  for (const r of readings) byUnit.set(r.unitId, [...(byUnit.get(r.unitId) ?? []), r]);
  const server = http.createServer((req, res) => {
    const path = req.url ?? '/';
    log.push(path);
    if (!seen.has(path) && seen.size < 2) {
      seen.add(path);
      res.writeHead(429, { 'retry-after': '1', 'x-ratelimit-remaining': '0' }).end();
      return;
    }
    const base = `http://${req.headers.host}/feed`;
    const send = (body: string) =>
      res
        .writeHead(200, { 'content-type': d.format === 'json' ? 'application/json' : 'application/xml' })
        .end(body);
    const fleet = /^\/feed\/Fleet\/(\d+)$/.exec(path);
    const snapshotTime = '2026-11-03T12:00:00.000Z';
    const first = d.firstPage;
    if (fleet) {
      const page = Number(fleet[1]);
      if (d.indexPage && page === 0)
        return send(
          renderAempIndex(
            { snapshotTime, links: { self: `${base}/Fleet/0`, next: `${base}/Fleet/1` }, pages: 2 },
            d,
          ),
        );
      const units = [...byUnit.keys()].sort();
      const at = page - (d.indexPage ? 1 : first);
      const u = units[at];
      if (!u) return res.writeHead(404).end();
      const links: Record<string, string> = { self: `${base}/Fleet/${page}` };
      if (at + 1 < units.length) links.next = `${base}/Fleet/${page + 1}`;
      return send(
        renderAempDocument(
          {
            snapshotTime,
            links,
            equipment: [
              { header: { EquipmentID: `X${u}`, PIN: serials[u] }, readings: [byUnit.get(u)!.at(-1)!] },
            ],
          },
          d,
        ),
      );
    }
    const ts = /^\/feed\/Fleet\/Equipment\/X([^/]+)\/(\w+)\/([^/]+)\/([^/]+)\/(\d+)$/.exec(path);
    if (ts) {
      const [, u, element, from, to, page] = ts;
      const list = (byUnit.get(u!) ?? []).filter(
        (r) => r.ts >= new Date(from!).toISOString() && r.ts <= new Date(to!).toISOString(),
      );
      const i = Number(page) - first;
      const size = 4;
      const links: Record<string, string> = {};
      if ((i + 1) * size < list.length)
        links.next = `${base}/Fleet/Equipment/X${u}/${element}/${from}/${to}/${Number(page) + 1}`;
      return send(
        renderAempDocument(
          {
            snapshotTime,
            links,
            equipment: [
              {
                header: { EquipmentID: `X${u}`, PIN: serials[u!] },
                readings: list.slice(i * size, (i + 1) * size),
                elements: [element as never],
              },
            ],
          },
          d,
        ),
      );
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  stops.push(
    () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/feed`, log };
}

describe('the poller against makers’ dialects', () => {
  it.each(['index-page', 'zero-paged', 'idle-minutes', 'json', 'placeholder'] as const)(
    '%s: 429s honoured, every reading stored once, a restart adds nothing',
    async (dialect) => {
      const readings = [...fullReadings('EXC-1', 6), ...fullReadings('EXC-2', 9)];
      const feed = await fakeFeed(dialect, readings, { 'EXC-1': 'PIN-1', 'EXC-2': 'PIN-2' });
      const dir = tempDir('ironledger-aemp-');
      const store = new SqliteStore(`${dir}/cloud.db`);
      stops.push(() => store.close());
      await store.seedMasterData({
        sites: [{ siteId: 'LDN', timeZone: 'Europe/London', defaultProjectId: 'P', geofences: [] }],
        projects: [{ projectId: 'P', name: 'P' }],
        units: [
          { unitId: 'EXC-1', equipmentClass: 'excavator', serialNo: 'PIN-1' },
          { unitId: 'EXC-2', equipmentClass: 'excavator', serialNo: 'PIN-2' },
        ],
        rates: [],
      });
      const config = AempFeedConfigSchema.parse({
        feedId: 'oem',
        url: feed.url,
        dialect,
        backfillHours: 24,
        quota: { requests: 100, perS: 1 },
      });
      const registered = await store.listUnits();
      const poller = () =>
        new AempPoller({
          feed: config,
          store,
          units: () => registered,
          logger: silentLogger(),
          now: Date.now,
        });
      const p1 = poller();
      expect(await p1.poll()).toBe('ok');
      expect(p1.status().rateLimited).toBeGreaterThan(0);
      expect(p1.status().readingsAccepted).toBe(15);
      for (const unitId of ['EXC-1', 'EXC-2'])
        expect(
          ((await store.usableReadingBodies(unitId, 0, Date.UTC(2100, 0), 100, 0)) as Reading[]).map(
            aempComparable,
          ),
        ).toEqual(readings.filter((r) => r.unitId === unitId).map(aempComparable));
      const n = await store.countReadings();
      const p2 = poller();
      expect(await p2.poll()).toBe('ok');
      expect(await store.countReadings()).toBe(n);
      expect(p2.status().readingsAccepted).toBe(0);
    },
    30_000,
  );
});

describe('a listing longer than maxPages', () => {
  it('moves the cursor only as far as it read: the next poll goes on from there, nothing skipped', async () => {
    const readings = fullReadings('EXC-1', 10);
    const feed = await fakeFeed('iso', readings, { 'EXC-1': 'PIN-1' });
    const store = new SqliteStore(`${tempDir('ironledger-aemp-')}/cloud.db`);
    stops.push(() => store.close());
    const units = [{ unitId: 'EXC-1', equipmentClass: 'excavator' as const, serialNo: 'PIN-1' }];
    await store.seedMasterData({
      sites: [{ siteId: 'LDN', timeZone: 'Europe/London', defaultProjectId: 'P', geofences: [] }],
      projects: [{ projectId: 'P', name: 'P' }],
      units,
      rates: [],
    });
    const poller = new AempPoller({
      feed: AempFeedConfigSchema.parse({ feedId: 'oem', url: feed.url, backfillHours: 24, maxPages: 1 }),
      store,
      units: () => units,
      logger: silentLogger(),
      now: Date.now,
    });
    const stored = async () =>
      ((await store.usableReadingBodies('EXC-1', 0, Date.UTC(2100, 0), 100, 0)) as Reading[]).map(
        aempComparable,
      );
    expect(await poller.poll()).toBe('ok');
    expect(await stored()).toEqual(readings.slice(0, 4).map(aempComparable)); // one page of 4 per element
    expect(await poller.poll()).toBe('ok');
    expect(await stored()).toEqual(readings.slice(0, 8).map(aempComparable));
    expect(await poller.poll()).toBe('ok');
    expect(await stored()).toEqual(readings.map(aempComparable));
  });
});

describe('the cursor store', () => {
  it('casMeta writes only over the value the writer read', async () => {
    const store = new SqliteStore(`${tempDir('ironledger-cas-')}/cloud.db`);
    stops.push(() => store.close());
    expect(await store.casMeta('aemp.cursor.f', null, 'a')).toBe(true);
    expect(await store.casMeta('aemp.cursor.f', null, 'b')).toBe(false); // another writer created it first
    expect(await store.casMeta('aemp.cursor.f', 'x', 'b')).toBe(false); // read a stale value
    expect(await store.getMeta('aemp.cursor.f')).toBe('a');
    expect(await store.casMeta('aemp.cursor.f', 'a', 'b')).toBe(true);
    expect(await store.getMeta('aemp.cursor.f')).toBe('b');
  });
});
