import { describe, expect, it } from 'vitest';
import { distanceM, inCircle, inPolygon, offsetPosition, projectAt } from './geo.js';
import { DEFAULT_SITES, siteGeo } from './world.js';

const square = [
  { lat: 0, lon: 0 },
  { lat: 0, lon: 1 },
  { lat: 1, lon: 1 },
  { lat: 1, lon: 0 },
];

describe('geofences', () => {
  it('measures great-circle distance', () => {
    // One degree of latitude is about 111.2 km.
    expect(distanceM({ lat: 0, lon: 0 }, { lat: 1, lon: 0 })).toBeCloseTo(111_195, -1);
    const p = { lat: 51.5, lon: -0.12 };
    expect(distanceM(p, offsetPosition(p, 300, 400))).toBeCloseTo(500, 0);
  });

  it('tests circles and polygons', () => {
    const c = { lat: 51.4826, lon: -0.1448 };
    expect(inCircle(offsetPosition(c, 249, 0), c, 250)).toBe(true);
    expect(inCircle(offsetPosition(c, 251, 0), c, 250)).toBe(false);
    expect(inPolygon({ lat: 0.5, lon: 0.5 }, square)).toBe(true);
    expect(inPolygon({ lat: 1.5, lon: 0.5 }, square)).toBe(false);
    // Concave: an L shape; its notch is outside.
    const l = [
      { lat: 0, lon: 0 },
      { lat: 0, lon: 2 },
      { lat: 1, lon: 2 },
      { lat: 1, lon: 1 },
      { lat: 2, lon: 1 },
      { lat: 2, lon: 0 },
    ];
    expect(inPolygon({ lat: 1.5, lon: 0.5 }, l)).toBe(true);
    expect(inPolygon({ lat: 1.5, lon: 1.5 }, l)).toBe(false);
  });

  it('maps positions to the first containing fence, else the default project', () => {
    const site = {
      defaultProjectId: 'P-DEFAULT',
      geofences: [
        { kind: 'polygon' as const, projectId: 'P-A', points: square },
        { kind: 'circle' as const, projectId: 'P-B', center: { lat: 0.5, lon: 0.5 }, radiusM: 1000 },
      ],
    };
    expect(projectAt(site, { lat: 0.5, lon: 0.5 })).toBe('P-A');
    expect(projectAt(site, { lat: 5, lon: 5 })).toBe('P-DEFAULT');
    expect(projectAt(site, undefined)).toBe('P-DEFAULT');
  });

  it('anchors every default-world location on its own project', () => {
    for (const site of DEFAULT_SITES) {
      const g = siteGeo(site);
      expect(g.locations.map((l) => l.projectId).sort()).toEqual(
        [...site.geofences.map((f) => f.projectId), site.defaultProjectId].sort(),
      );
      for (const l of g.locations) expect(projectAt(site, l.anchor)).toBe(l.projectId);
    }
  });
});
