/**
 * The chaos run, short: `scripts/chaos.mjs --minutes 1` on the real processes (simulator with
 * every fault, edge, cloud, fault proxy) must end with every invariant held — lost 0, stored
 * twice 0, nothing parked, hours conserved for sound units — and print its table.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { BIN, REPO_ROOT } from '@ironledger/testkit';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const built = fs.existsSync(BIN.cloud) && fs.existsSync(BIN.edge) && fs.existsSync(BIN.sim);

describe.skipIf(!built)('chaos run (1 minute)', () => {
  it(
    'holds every invariant under seeded kills, outages, bad answers, cuts and a full disk budget',
    async () => {
      const r = await run(
        process.execPath,
        [path.join(REPO_ROOT, 'scripts', 'chaos.mjs'), '--minutes', '1', '--seed', '7', '--units', '6'],
        { maxBuffer: 64 * 1024 * 1024 },
      ).catch((e: { code: number; stdout: string; stderr: string }) => e);
      const out = r.stdout;
      expect(out, `${out}\n${r.stderr.slice(-3000)}`).not.toMatch(/FIRST DISCREPANCY/);
      const figure = (label: string) => {
        const line = out.split('\n').find((l) => l.startsWith(`| ${label} `));
        return line ? line.split('|')[2]!.trim() : null;
      };
      expect(figure('lost')).toBe('0');
      expect(figure('stored twice')).toBe('0');
      expect(Number(figure('acknowledged'))).toBeGreaterThan(1000);
      expect(out).toMatch(/\| fault: \w+/);
    },
    6 * 60_000,
  );
});
