/**
 * The simulated fleet's world: sites (IANA zones, geofences → projects), projects and units,
 * in the shape the cloud is configured with (contracts WorldSchema). The built-in world is a
 * pure function of (seed, unit count); a world can also be loaded from a file.
 *
 * Default world: a London site and a Chicago site, so two zones whose DST changes fall on
 * different dates (Europe/London 2026-10-25, America/Chicago 2026-11-01). Each has a circle
 * and a polygon geofence and a default project for positions outside both (the site yard).
 * Units cycle through the six equipment classes; blocks of six units share a site
 * (EXC-0001…GEN-0006 in London, EXC-0007…GEN-0012 in Chicago, …) so every site sees every
 * class and a small fleet stays on the first site.
 */
import fs from 'node:fs';
import {
  EQUIPMENT_CLASSES,
  type Geofence,
  type Position,
  type Site,
  type Unit,
  type World,
  WorldSchema,
} from '@ironledger/contracts';
import { profileOf } from './classes.js';
import { centroid, offsetPosition, projectAt, roundPosition } from './geo.js';
import { cyrb128, Prng } from './prng.js';

export const DEFAULT_SITES: Site[] = [
  {
    siteId: 'SITE-LON',
    name: 'Battersea Riverside, London',
    timeZone: 'Europe/London',
    defaultProjectId: 'P-LON-YARD',
    geofences: [
      { kind: 'circle', projectId: 'P-RIVERSIDE', center: { lat: 51.4826, lon: -0.1448 }, radiusM: 250 },
      {
        kind: 'polygon',
        projectId: 'P-WHARF',
        points: [
          { lat: 51.4838, lon: -0.1352 },
          { lat: 51.4838, lon: -0.1298 },
          { lat: 51.4808, lon: -0.1298 },
          { lat: 51.4808, lon: -0.1352 },
        ],
      },
    ],
  },
  {
    siteId: 'SITE-CHI',
    name: 'South Loop, Chicago',
    timeZone: 'America/Chicago',
    defaultProjectId: 'P-CHI-YARD',
    geofences: [
      {
        kind: 'polygon',
        projectId: 'P-LAKESHORE',
        points: [
          { lat: 41.8612, lon: -87.6172 },
          { lat: 41.8618, lon: -87.6128 },
          { lat: 41.8581, lon: -87.6119 },
          { lat: 41.8572, lon: -87.6165 },
        ],
      },
      { kind: 'circle', projectId: 'P-MIDWAY', center: { lat: 41.8536, lon: -87.6298 }, radiusM: 300 },
    ],
  },
];

export const DEFAULT_PROJECTS = [
  { projectId: 'P-RIVERSIDE', name: 'Riverside Apartments (Block C)' },
  { projectId: 'P-WHARF', name: 'Wharf Road Drainage' },
  { projectId: 'P-LON-YARD', name: 'London Yard & Plant (overhead)' },
  { projectId: 'P-LAKESHORE', name: 'Lakeshore Parking Structure' },
  { projectId: 'P-MIDWAY', name: 'Midway Utility Corridor' },
  { projectId: 'P-CHI-YARD', name: 'Chicago Yard & Plant (overhead)' },
];

/** `EXC-0001`, `LDR-0002`, … for the 1-based index `n`. */
export function unitIdFor(n: number): string {
  const cls = EQUIPMENT_CLASSES[(n - 1) % EQUIPMENT_CLASSES.length] as (typeof EQUIPMENT_CLASSES)[number];
  return `${profileOf(cls).prefix}-${String(n).padStart(4, '0')}`;
}

/** The built-in world for `units` units: deterministic in (seed, units). */
export function defaultWorld(seed: string | number, units: number): World {
  const list: Unit[] = [];
  for (let n = 1; n <= units; n++) {
    const equipmentClass = EQUIPMENT_CLASSES[(n - 1) % EQUIPMENT_CLASSES.length] as Unit['equipmentClass'];
    const unitId = unitIdFor(n);
    const prng = new Prng(seed, `world/serial/${unitId}`);
    const site = DEFAULT_SITES[Math.floor((n - 1) / EQUIPMENT_CLASSES.length) % DEFAULT_SITES.length] as Site;
    list.push({
      unitId,
      equipmentClass,
      serialNo: `${profileOf(equipmentClass).serialPrefix}${String(prng.int(10_000, 99_999))}`,
      siteId: site.siteId,
    });
  }
  return WorldSchema.parse({ sites: DEFAULT_SITES, projects: DEFAULT_PROJECTS, units: list });
}

/** Reads and validates a world file; throws naming the first invalid field. */
export function loadWorld(file: string): World {
  const raw = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
  const r = WorldSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new Error(`world ${file}: ${i?.path.join('.') || '(root)'}: ${i?.message}`);
  }
  return r.data;
}

/** A place on a site a unit can be at: inside a geofence, or in the yard outside them all. */
export interface Location {
  projectId: string;
  anchor: Position;
  /** How far positions may scatter around the anchor while staying on the same project, m. */
  scatterM: number;
}

export interface SiteGeo {
  site: Site;
  locations: Location[];
}

function fenceAnchor(g: Geofence): { anchor: Position; scatterM: number } {
  if (g.kind === 'circle') return { anchor: g.center, scatterM: Math.min(60, g.radiusM * 0.3) };
  return { anchor: centroid(g.points), scatterM: 30 };
}

/**
 * Where units can be on a site: one location per geofence (anchored at its centre, kept
 * only if that centre really maps to the fence's project), plus the yard, the first point
 * found outside every fence, which maps to the default project.
 */
export function siteGeo(site: Site): SiteGeo {
  const locations: Location[] = [];
  for (const g of site.geofences) {
    const { anchor, scatterM } = fenceAnchor(g);
    const a = roundPosition(anchor);
    if (projectAt(site, a) === g.projectId && !locations.some((l) => l.projectId === g.projectId)) {
      locations.push({ projectId: g.projectId, anchor: a, scatterM });
    }
  }
  if (locations.some((l) => l.projectId === site.defaultProjectId)) return { site, locations };
  const base = locations[0]?.anchor ?? seedPosition(site.siteId);
  for (let k = 1; k <= 40; k++) {
    const yard = roundPosition(offsetPosition(base, 400 * k, -300 * k));
    if (projectAt(site, yard) === site.defaultProjectId) {
      locations.push({ projectId: site.defaultProjectId, anchor: yard, scatterM: 40 });
      break;
    }
  }
  if (locations.length === 0) throw new Error(`site ${site.siteId}: no position maps to any of its projects`);
  return { site, locations };
}

/** A stable mid-latitude position for a site that has no geofence to anchor on. */
function seedPosition(siteId: string): Position {
  const [a, b] = cyrb128(siteId);
  return roundPosition({ lat: -50 + (a / 2 ** 32) * 100, lon: -170 + (b / 2 ** 32) * 340 });
}
