import {
  aempComparable,
  aempDialect,
  equipmentReadings,
  parseAempDocument,
  type Reading,
} from '@ironledger/contracts';
import { silentLogger } from '@ironledger/logger';
import { afterEach, describe, expect, it } from 'vitest';
import { type AempFeedServer, feedMachines, startAempFeedServer } from './aemp-feed-server.js';
import { DEFAULT_FAULT_OPTIONS } from './faults.js';
import { parseOptions, UsageError } from './options.js';
import { planFleet } from './plan.js';

const servers: AempFeedServer[] = [];
afterEach(async () => {
  while (servers.length) await servers.pop()?.close();
});

const plan = planFleet({
  seed: '3',
  units: 3,
  startMs: Date.parse('2026-11-02T00:00:00Z'),
  days: 1,
  intervalMs: 300_000,
  format: 'canonical',
  faults: DEFAULT_FAULT_OPTIONS,
});

async function serve(dialectName: Parameters<typeof aempDialect>[0], extra: { simNow?: () => number } = {}) {
  const s = await startAempFeedServer({
    plan,
    dialect: aempDialect(dialectName),
    host: '127.0.0.1',
    port: 0,
    simNow: extra.simNow ?? (() => plan.endMs),
    quota: { requests: 1000, perMs: 1000, urlIntervalMs: 60_000 },
    pageSize: 2,
    seriesPageSize: 2,
    auth: { basic: 'oem:pw' },
    logger: silentLogger(),
  });
  servers.push(s);
  return s;
}

const basic = `Basic ${Buffer.from('oem:pw').toString('base64')}`;
const get = (url: string, auth: string | null = basic) =>
  fetch(url, { headers: auth ? { authorization: auth } : {} }).then(async (r) => ({
    status: r.status,
    headers: r.headers,
    text: await r.text(),
  }));

describe('ironledger-sim --serve-aemp', () => {
  it('serves the fleet in the dialect, with its truth, behind Basic auth', async () => {
    const s = await serve('idle-minutes');
    expect((await get(`${s.url}/Fleet/1`, null)).status).toBe(401);
    const p1 = await get(`${s.url}/Fleet/1`);
    expect(p1.status).toBe(200);
    const d = aempDialect('idle-minutes');
    const doc = parseAempDocument(p1.text, d);
    expect(doc.equipment).toHaveLength(2);
    expect(doc.links.next).toBe(`${s.url}/Fleet/2`);
    const machines = feedMachines(plan);
    const first = machines.find((m) => m.header.EquipmentID === doc.equipment[0]!.header.EquipmentID)!;
    const truth = first.readings.map((r) => aempComparable(r.reading));
    // The snapshot is the latest reading; idle hours in minutes come back as the same hours.
    expect(equipmentReadings(doc.equipment[0]!, d).readings).toEqual(truth.slice(-1));

    // A time series, page by page: every reading of the day for that element.
    const id = first.header.EquipmentID!;
    let url: string | undefined =
      `${s.url}/Fleet/Equipment/${id}/CumulativeIdleHours/2026-11-02T00:00:00Z/2026-11-03T00:00:00Z/1`;
    const idle: number[] = [];
    for (let pages = 0; url && pages < 200; pages++) {
      const page = await get(url);
      const pd = parseAempDocument(page.text, d);
      idle.push(
        ...(pd.equipment[0]!.points.CumulativeIdleHours ?? []).map(
          (p) => Math.round((p.hour / 60) * 1e9) / 1e9,
        ),
      );
      url = pd.links.next;
    }
    expect(idle).toEqual(first.readings.map((r) => (r.reading as Reading).idleHours));
  });

  it('answers 429 with Retry-After when a URL is asked again within its interval', async () => {
    const s = await serve('iso');
    expect((await get(`${s.url}/Fleet/1`)).status).toBe(200);
    const again = await get(`${s.url}/Fleet/1`);
    expect(again.status).toBe(429);
    expect(Number(again.headers.get('retry-after'))).toBeGreaterThanOrEqual(59);
    expect(again.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(s.stats()).toEqual({ requests: 2, rateLimited: 1 });
  });

  it('shows only readings the sim clock has reached', async () => {
    const noon = Date.parse('2026-11-02T12:00:00Z');
    const s = await serve('iso', { simNow: () => noon });
    const doc = parseAempDocument((await get(`${s.url}/Fleet/1`)).text);
    for (const eq of doc.equipment)
      for (const r of equipmentReadings(eq).readings) expect(Date.parse(r.ts)).toBeLessThanOrEqual(noon);
  });

  it('index-page dialect: page 0 is an index whose next is the first data page', async () => {
    const s = await serve('index-page');
    const index = parseAempDocument((await get(`${s.url}/Fleet/0`)).text, aempDialect('index-page'));
    expect(index.kind).toBe('index');
    expect(index.links.next).toBe(`${s.url}/Fleet/1`);
  });

  it('parses its options and refuses bad ones', () => {
    const o = parseOptions([
      '--serve-aemp',
      '--dialect',
      'zero-paged',
      '--aemp-quota',
      '20/2s',
      '--aemp-url-interval',
      '1s',
    ]);
    expect(o.aemp).toMatchObject({
      dialectName: 'zero-paged',
      quota: { requests: 20, perMs: 2000, urlIntervalMs: 1000 },
    });
    expect(parseOptions([]).aemp).toBeNull();
    expect(() => parseOptions(['--serve-aemp', '--dialect', 'klingon'])).toThrow(UsageError);
    expect(() => parseOptions(['--dialect', 'iso'])).toThrow(/only with --serve-aemp/);
    expect(() => parseOptions(['--serve-aemp', '--aemp-quota', 'lots'])).toThrow(/aemp-quota/);
  });
});
