import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WorldSchema } from '@ironledger/contracts';
import { describe, expect, it } from 'vitest';
import { defaultWorld, loadWorld } from './world.js';

describe('default world', () => {
  it('is a valid world with two zones, fenced projects and cycling unit classes', () => {
    const w = defaultWorld(1, 13);
    expect(WorldSchema.safeParse(w).success).toBe(true);
    expect(new Set(w.sites.map((s) => s.timeZone))).toEqual(new Set(['Europe/London', 'America/Chicago']));
    expect(w.sites.flatMap((s) => s.geofences.map((g) => g.kind)).sort()).toEqual([
      'circle',
      'circle',
      'polygon',
      'polygon',
    ]);
    expect(w.units.slice(0, 7).map((u) => u.unitId)).toEqual([
      'EXC-0001',
      'LDR-0002',
      'DOZ-0003',
      'CRN-0004',
      'TEL-0005',
      'GEN-0006',
      'EXC-0007',
    ]);
    expect(w.units.map((u) => u.siteId)).toEqual([
      ...Array(6).fill('SITE-LON'),
      ...Array(6).fill('SITE-CHI'),
      'SITE-LON',
    ]);
    for (const u of w.units) expect(u.serialNo).toMatch(/^[A-Z0-9]+\d{5}$/);
    for (const s of w.sites) expect(w.projects.some((p) => p.projectId === s.defaultProjectId)).toBe(true);
  });

  it('is a function of (seed, units)', () => {
    expect(JSON.stringify(defaultWorld(3, 20))).toBe(JSON.stringify(defaultWorld(3, 20)));
    expect(defaultWorld(3, 20).units.map((u) => u.serialNo)).not.toEqual(
      defaultWorld(4, 20).units.map((u) => u.serialNo),
    );
    // Adding units does not change the existing ones.
    expect(defaultWorld(3, 20).units.slice(0, 5)).toEqual(defaultWorld(3, 5).units);
  });

  it('loads a world file and names the invalid field', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sim-world-'));
    const good = path.join(dir, 'w.json');
    fs.writeFileSync(good, JSON.stringify(defaultWorld(1, 2)));
    expect(loadWorld(good).units).toHaveLength(2);
    const bad = path.join(dir, 'bad.json');
    const w = defaultWorld(1, 2) as unknown as { sites: Array<{ timeZone: string }> };
    w.sites[0]!.timeZone = 'Mars/Olympus';
    fs.writeFileSync(bad, JSON.stringify(w));
    expect(() => loadWorld(bad)).toThrow(/sites\.0\.timeZone/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
