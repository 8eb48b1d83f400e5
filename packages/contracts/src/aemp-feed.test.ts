import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  AEMP_DRAFT_NAMESPACE,
  AEMP_NAMESPACE,
  type AempDialect,
  type AempDialectName,
  AempDocumentError,
  aempComparable,
  aempDialect,
  checkAempXml,
  equipmentReadings,
  parseAempDocument,
  renderAempDocument,
  renderAempIndex,
} from './aemp-feed.js';
import type { Reading } from './reading.js';

const fixture = (name: string) =>
  fs.readFileSync(new URL(`./fixtures/aemp/${name}`, import.meta.url), 'utf8');

/** Every reading of a document, keyed by the machine's EquipmentID. */
function readingsOf(text: string, dialect: AempDialect) {
  const doc = parseAempDocument(text, dialect);
  const out: Record<string, unknown[]> = {};
  for (const eq of doc.equipment) out[eq.header.EquipmentID ?? '?'] = equipmentReadings(eq, dialect).readings;
  return { doc, readings: out };
}

const EXPECTED = {
  CAT0320A: [
    {
      v: 1,
      ts: '2026-11-03T09:55:00.000Z',
      engineHours: 4521.35,
      idleHours: 1203.1,
      engineOn: true,
      position: { lat: 51.5007, lon: -0.1246 },
      fuelUsedL: 88123.4,
      odometerKm: 1234.5,
    },
  ],
  'KOM-D61-7': [
    {
      v: 1,
      ts: '2026-11-03T09:50:00.000Z',
      engineHours: 812.5,
      idleHours: 200.25,
      engineOn: false,
      position: { lat: 48.8584, lon: 2.2945 },
      fuelUsedL: 15000,
    },
  ],
};

describe('AEMP 2.0 dialects normalise to identical canonical readings', () => {
  const cases: Array<[string, AempDialectName]> = [
    ['iso.xml', 'iso'],
    ['json.json', 'json'],
    ['zero-paged.xml', 'zero-paged'],
    ['index-page-1.xml', 'index-page'],
    ['idle-minutes.xml', 'idle-minutes'],
    ['draft-namespace.xml', 'draft-namespace'],
    ['datetime-camel.xml', 'datetime-camel'],
    ['placeholder.xml', 'placeholder'],
  ];
  it.each(cases)('%s (%s)', (file, dialect) => {
    expect(readingsOf(fixture(file), aempDialect(dialect)).readings).toEqual(EXPECTED);
  });

  it('the ISO page carries its links and snapshot time', () => {
    const doc = parseAempDocument(fixture('iso.xml'));
    expect(doc.kind).toBe('fleet');
    expect(doc.snapshotTime).toBe('2026-11-03T10:00:00.000Z');
    expect(doc.links).toEqual({
      self: 'https://oem.example/aemp/Fleet/1',
      next: 'https://oem.example/aemp/Fleet/2',
      last: 'https://oem.example/aemp/Fleet/2',
    });
    expect(doc.equipment[0]?.header).toEqual({
      OEMName: 'Caterpillar',
      Model: '320',
      EquipmentID: 'CAT0320A',
      SerialNumber: 'SN-EXC-1',
      PIN: 'CAT0320AKZZ00001',
    });
    expect(doc.refused).toEqual([]);
  });
});

describe('one test per dialect quirk', () => {
  it('pages numbered from 0: the links say where page 0 leads', () => {
    const doc = parseAempDocument(fixture('zero-paged.xml'), aempDialect('zero-paged'));
    expect(doc.links.self).toMatch(/Fleet\/0$/);
    expect(doc.links.next).toMatch(/Fleet\/1$/);
  });

  it("page 0 as a metadata index: no machines, kind 'index', its next link leads to data", () => {
    const doc = parseAempDocument(fixture('index-page-0.xml'), aempDialect('index-page'));
    expect(doc.kind).toBe('index');
    expect(doc.equipment).toEqual([]);
    expect(doc.links.next).toBe('https://oem.example/aemp/Fleet/1');
    // Without the hint the same page is a fleet page with no machines (nothing read, no error).
    expect(parseAempDocument(fixture('index-page-0.xml')).kind).toBe('fleet');
  });

  it('CumulativeIdleHours in minutes: read as minutes only when the dialect says so', () => {
    const asHours = readingsOf(fixture('idle-minutes.xml'), aempDialect('iso')).readings
      .CAT0320A as Reading[];
    expect(asHours[0]?.idleHours).toBe(72186);
    const asMinutes = readingsOf(fixture('idle-minutes.xml'), aempDialect('idle-minutes')).readings
      .CAT0320A as Reading[];
    expect(asMinutes[0]?.idleHours).toBe(1203.1);
  });

  it('another namespace is refused unless the dialect names it', () => {
    expect(() => parseAempDocument(fixture('draft-namespace.xml'))).toThrow(
      new RegExp(`namespace ${AEMP_DRAFT_NAMESPACE.replace(/\./g, '\\.')} is not the feed's`),
    );
    expect(() => parseAempDocument(fixture('iso.xml'), aempDialect('draft-namespace'))).toThrow(
      AempDocumentError,
    );
    expect(
      parseAempDocument(fixture('draft-namespace.xml'), aempDialect('draft-namespace')).equipment,
    ).toHaveLength(2);
  });

  it('the dateTime attribute spelling is read like datetime (gallons and miles converted)', () => {
    const doc = parseAempDocument(fixture('datetime-camel.xml'));
    expect(doc.refused).toEqual([]);
    const r = equipmentReadings(doc.equipment[0]!).readings[0]!;
    expect(r.ts).toBe('2026-11-03T09:55:00.000Z');
    expect(r.fuelUsedL).toBe(88123.4);
    expect(r.odometerKm).toBe(1234.5);
  });

  it('a 0001-01-01T00:00:00Z placeholder is refused with a reason, never a reading at year 1', () => {
    const doc = parseAempDocument(fixture('placeholder.xml'), aempDialect('placeholder'));
    expect(doc.refused).toEqual([
      {
        equipment: 'KOM-D61-7',
        element: 'Distance',
        reason: 'placeholder datetime 0001-01-01T00:00:00Z: the maker has no value',
      },
    ]);
    // A placeholder on the hour meter itself leaves the machine without a reading, with reasons.
    const onHours = fixture('iso.xml').replace(
      '<CumulativeOperatingHours datetime="2026-11-03T09:50:00Z">',
      '<CumulativeOperatingHours datetime="0001-01-01T00:00:00Z">',
    );
    const d2 = parseAempDocument(onHours);
    const m = equipmentReadings(d2.equipment[1]!);
    expect(m.readings).toEqual([]);
    expect(d2.refused[0]?.reason).toMatch(/^placeholder datetime/);
    expect(m.refused[0]?.reason).toMatch(/no usable CumulativeOperatingHours/);
  });

  it('JSON accepts an element written once (object) or as a list', () => {
    const doc = parseAempDocument(fixture('json.json'), aempDialect('json'));
    expect(doc.links.next).toBe('https://oem.example/aemp/Fleet/2');
    expect(doc.equipment.map((e) => e.points.CumulativeOperatingHours?.length)).toEqual([1, 1]);
  });
});

describe('garbage and limits', () => {
  it.each([
    ['empty', ''],
    ['not a document', 'hello'],
    ['broken JSON', '{"Fleet": '],
    ['a DOCTYPE (entity expansion)', '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><Fleet/>'],
    ['no namespace', '<Fleet><Equipment/></Fleet>'],
  ])('%s is an AempDocumentError', (_, text) => {
    expect(() => parseAempDocument(text)).toThrow(AempDocumentError);
  });

  it('impossible values are refused element by element with their reason', () => {
    const bad = fixture('iso.xml')
      .replace('<Latitude>51.5007</Latitude>', '<Latitude>951.5</Latitude>')
      .replace('<Hour>1203.1</Hour>', '<Hour>-4</Hour>')
      .replace('<Running>true</Running>', '<Running>maybe</Running>');
    const doc = parseAempDocument(bad);
    expect(doc.refused.map((r) => [r.element, r.reason])).toEqual([
      ['CumulativeIdleHours', 'Hour is not a number >= 0'],
      ['Location', 'Latitude out of range'],
      ['EngineStatus', 'Running is not true or false'],
    ]);
    expect(equipmentReadings(doc.equipment[0]!).readings[0]).toEqual({
      v: 1,
      ts: '2026-11-03T09:55:00.000Z',
      engineHours: 4521.35,
      fuelUsedL: 88123.4,
      odometerKm: 1234.5,
    });
  });
});

describe('time series: one machine, an element per instant', () => {
  const readings: Reading[] = [0, 1, 2].map((i) => ({
    v: 1,
    unitId: 'EXC-0001',
    ts: new Date(Date.UTC(2026, 10, 3, 8, 5 * i)).toISOString(),
    engineHours: 100 + i / 12,
    idleHours: 30 + i / 24,
    engineOn: i !== 2,
    position: { lat: 51.5 + i / 1000, lon: -0.12 },
    fuelUsedL: 1000 + i,
  }));

  it('elements fetched one series at a time join into the same readings', () => {
    const header = { EquipmentID: 'EXC-0001', SerialNumber: 'SN1' };
    const eq = { header, points: {} as Record<string, unknown[]> };
    for (const element of [
      'CumulativeOperatingHours',
      'CumulativeIdleHours',
      'Location',
      'EngineStatus',
      'FuelUsed',
    ] as const) {
      const page = renderAempDocument({
        snapshotTime: '2026-11-03T09:00:00.000Z',
        links: {},
        equipment: [{ header, readings, elements: [element] }],
      });
      const doc = parseAempDocument(page);
      expect(Object.keys(doc.equipment[0]!.points)).toEqual([element]);
      eq.points[element] = doc.equipment[0]!.points[element] as unknown[];
    }
    const out = equipmentReadings(eq as never).readings;
    expect(out).toEqual(readings.map(aempComparable));
  });
});

describe('rendering', () => {
  it('pins the XML element structure of a snapshot', () => {
    const xml = renderAempDocument({
      snapshotTime: '2026-11-03T10:00:00.000Z',
      links: { self: 'http://h/aemp/2.0/Fleet/1', next: 'http://h/aemp/2.0/Fleet/2' },
      equipment: [
        {
          header: { OEMName: 'IronLedger', Model: 'excavator', EquipmentID: 'EXC-0001', SerialNumber: 'SN1' },
          readings: [
            {
              v: 1,
              unitId: 'EXC-0001',
              ts: '2026-11-03T09:55:00.000Z',
              engineHours: 4521.35,
              idleHours: 1203.1,
              engineOn: true,
              position: { lat: 51.5007, lon: -0.1246 },
              fuelUsedL: 88123.4,
              odometerKm: 1234.5,
            },
          ],
        },
      ],
    });
    expect(xml).toBe(`<?xml version="1.0" encoding="UTF-8"?>
<Fleet xmlns="${AEMP_NAMESPACE}" version="2" snapshotTime="2026-11-03T10:00:00.000Z">
  <Links>
    <rel>self</rel>
    <href>http://h/aemp/2.0/Fleet/1</href>
  </Links>
  <Links>
    <rel>next</rel>
    <href>http://h/aemp/2.0/Fleet/2</href>
  </Links>
  <Equipment>
    <EquipmentHeader>
      <OEMName>IronLedger</OEMName>
      <Model>excavator</Model>
      <EquipmentID>EXC-0001</EquipmentID>
      <SerialNumber>SN1</SerialNumber>
    </EquipmentHeader>
    <Location datetime="2026-11-03T09:55:00.000Z">
      <Latitude>51.5007</Latitude>
      <Longitude>-0.1246</Longitude>
    </Location>
    <CumulativeOperatingHours datetime="2026-11-03T09:55:00.000Z">
      <Hour>4521.35</Hour>
    </CumulativeOperatingHours>
    <CumulativeIdleHours datetime="2026-11-03T09:55:00.000Z">
      <Hour>1203.1</Hour>
    </CumulativeIdleHours>
    <FuelUsed datetime="2026-11-03T09:55:00.000Z">
      <FuelUnits>litre</FuelUnits>
      <FuelConsumed>88123.4</FuelConsumed>
    </FuelUsed>
    <Distance datetime="2026-11-03T09:55:00.000Z">
      <OdometerUnits>kilometre</OdometerUnits>
      <Odometer>1234.5</Odometer>
    </Distance>
    <EngineStatus datetime="2026-11-03T09:55:00.000Z">
      <Running>true</Running>
    </EngineStatus>
  </Equipment>
</Fleet>
`);
  });

  it.each(['iso', 'json', 'idle-minutes', 'draft-namespace', 'datetime-camel', 'placeholder'] as const)(
    'every dialect it renders parses back to the same readings (%s)',
    (name) => {
      const d = aempDialect(name);
      const parsed = readingsOf(fixture('iso.xml'), aempDialect('iso'));
      const text = renderAempDocument(
        {
          snapshotTime: '2026-11-03T10:00:00.000Z',
          links: {},
          equipment: parsed.doc.equipment.map((e) => ({
            header: e.header,
            readings: parsed.readings[e.header.EquipmentID!] as Reading[],
          })),
        },
        d,
      );
      expect(readingsOf(text, d).readings).toEqual(EXPECTED);
    },
  );
});

describe('the pinned element structure', () => {
  it('the ISO fixture and everything rendered conform; other shapes are named', () => {
    expect(checkAempXml(fixture('iso.xml'))).toEqual([]);
    expect(
      checkAempXml(
        renderAempIndex(
          { snapshotTime: '2026-11-03T10:00:00.000Z', links: { next: 'http://h/Fleet/1' }, pages: 1 },
          aempDialect(),
        ),
      ),
    ).toEqual([]);
    // A maker's own index page has more than ours.
    expect(checkAempXml(fixture('index-page-0.xml'))).toEqual([
      'Fleet/EquipmentCount is not allowed (Links, Equipment, PageCount)',
    ]);
    expect(checkAempXml(fixture('draft-namespace.xml'))).toEqual([
      'root must be one Fleet, found aemp:Fleet',
    ]);
    expect(
      checkAempXml(
        fixture('iso.xml')
          .replace('<Hour>4521.35</Hour>', '<Hour>4521.35</Hour><Minutes>3</Minutes>')
          .replace(' datetime="2026-11-03T09:50:00Z"><Running>', '><Running>'),
      ),
    ).toEqual([
      'Fleet/Equipment/CumulativeOperatingHours/Minutes is not allowed (Hour)',
      'Fleet/Equipment/EngineStatus needs a datetime attribute',
    ]);
    expect(checkAempXml('<Fleet>')[0]).toMatch(/^not well-formed/);
  });
});
