/** Which project a position belongs to on a site: the first geofence containing it, else the default. */
import type { Geofence, Position, Site } from '@ironledger/contracts';

const EARTH_RADIUS_M = 6_371_008.8; // mean radius

export function distanceM(a: Position, b: Position): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const s = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(s)));
}

/** Ray casting on lat/lon: fine for site-sized polygons away from the poles and the antimeridian. */
function inPolygon(p: Position, pts: Position[]): boolean {
  let inside = false;
  for (let i = 0, j = pts.length - 1; i < pts.length; j = i++) {
    const a = pts[i]!;
    const b = pts[j]!;
    if (
      a.lat > p.lat !== b.lat > p.lat &&
      p.lon < ((b.lon - a.lon) * (p.lat - a.lat)) / (b.lat - a.lat) + a.lon
    )
      inside = !inside;
  }
  return inside;
}

export function contains(g: Geofence, p: Position): boolean {
  return g.kind === 'circle' ? distanceM(g.center, p) <= g.radiusM : inPolygon(p, g.points);
}

export function projectAt(site: Site, position: Position | null | undefined): string {
  if (position) for (const g of site.geofences) if (contains(g, position)) return g.projectId;
  return site.defaultProjectId;
}

/**
 * The place of a position (master.ts attribution rule): the first geofence, across all sites
 * in the order listed, that contains it gives site and project; otherwise `fallback` (the
 * unit's home site, else the gateway's) and its default project.
 */
export function placeAt(
  sites: Iterable<Site>,
  position: Position | null | undefined,
  fallback: Site,
): { site: Site; projectId: string } {
  if (position)
    for (const site of sites)
      for (const g of site.geofences) if (contains(g, position)) return { site, projectId: g.projectId };
  return { site: fallback, projectId: fallback.defaultProjectId };
}
