/**
 * Geofences → projects, the spatial half of the attribution rule (contracts/master.ts):
 * a position belongs to the project of the first geofence of the site that contains it,
 * else to the site's default project. Pure functions over plain data, so the cloud can
 * reuse them and both sides agree on every edge case.
 *
 * Circles use great-circle distance (haversine, mean Earth radius); polygons use the
 * even-odd rule on (lon, lat) treated as plane coordinates, which is exact enough for
 * construction-site sized fences (hundreds of metres) away from the poles and antimeridian.
 * A point exactly on a polygon edge may fall either way: fences should not be drawn through
 * the positions they are meant to decide.
 */
import type { Geofence, Position, Site } from '@ironledger/contracts';

export const EARTH_RADIUS_M = 6_371_008.8;

const rad = (deg: number) => (deg * Math.PI) / 180;

/** Great-circle distance in metres. */
export function distanceM(a: Position, b: Position): number {
  const dLat = rad(b.lat - a.lat);
  const dLon = rad(b.lon - a.lon);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

export function inCircle(p: Position, center: Position, radiusM: number): boolean {
  return distanceM(p, center) <= radiusM;
}

/** Even-odd ray casting; `points` is an open ring (the last point joins the first). */
export function inPolygon(p: Position, points: readonly Position[]): boolean {
  let inside = false;
  for (let i = 0, j = points.length - 1; i < points.length; j = i++) {
    const a = points[i] as Position;
    const b = points[j] as Position;
    if (
      a.lat > p.lat !== b.lat > p.lat &&
      p.lon < ((b.lon - a.lon) * (p.lat - a.lat)) / (b.lat - a.lat) + a.lon
    ) {
      inside = !inside;
    }
  }
  return inside;
}

export function inGeofence(p: Position, g: Geofence): boolean {
  return g.kind === 'circle' ? inCircle(p, g.center, g.radiusM) : inPolygon(p, g.points);
}

/** The project a position belongs to on a site (first containing geofence, else default). */
export function projectAt(
  site: Pick<Site, 'geofences' | 'defaultProjectId'>,
  p: Position | undefined,
): string {
  if (p) {
    for (const g of site.geofences) if (inGeofence(p, g)) return g.projectId;
  }
  return site.defaultProjectId;
}

/** A point `northM` metres north and `eastM` metres east of `p` (local flat approximation). */
export function offsetPosition(p: Position, northM: number, eastM: number): Position {
  const lat = p.lat + (northM / EARTH_RADIUS_M) * (180 / Math.PI);
  const lon = p.lon + (eastM / (EARTH_RADIUS_M * Math.cos(rad(p.lat)))) * (180 / Math.PI);
  return { lat, lon };
}

/** Vertex average of a polygon: inside for the convex fences the default world draws. */
export function centroid(points: readonly Position[]): Position {
  const n = points.length;
  return {
    lat: points.reduce((s, q) => s + q.lat, 0) / n,
    lon: points.reduce((s, q) => s + q.lon, 0) / n,
  };
}

/** Rounds a position to 1e-6° (about 0.1 m): what a GPS module reports. */
export function roundPosition(p: Position): Position {
  return { lat: Math.round(p.lat * 1e6) / 1e6, lon: Math.round(p.lon * 1e6) / 1e6 };
}
