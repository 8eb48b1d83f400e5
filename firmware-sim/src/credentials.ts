/**
 * Unit secrets. A unit authenticates with username = unitId and its own secret (DESIGN.md,
 * Contract 1). Without a credentials file the simulator derives each secret from the seed,
 * so `--write-credentials` and a later run with the same seed agree without sharing a file.
 */
import fs from 'node:fs';
import type { World } from '@ironledger/contracts';
import { Prng } from './prng.js';

export function deterministicSecrets(world: World, seed: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const u of world.units) out[u.unitId] = new Prng(seed, `secret/${u.unitId}`).hex(16);
  return out;
}

/** Reads `{ "<unitId>": "<secret>" }`; throws naming the file and the bad entry. */
export function loadCredentials(file: string): Record<string, string> {
  const raw = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
  if (!raw || typeof raw !== 'object' || Array.isArray(raw))
    throw new Error(`${file}: expected an object {"<unitId>": "<secret>"}`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v !== 'string') throw new Error(`${file}: secret of ${k} is not a string`);
    out[k] = v;
  }
  return out;
}
