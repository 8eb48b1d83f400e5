import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file lives in packages/testkit/dist or src). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Entry points of the built binaries, for spawning real processes in tests. */
export const BIN = {
  cloud: path.join(REPO_ROOT, 'cloud', 'dist', 'main.js'),
  edge: path.join(REPO_ROOT, 'edge', 'dist', 'main.js'),
  sim: path.join(REPO_ROOT, 'firmware-sim', 'dist', 'main.js'),
  cli: path.join(REPO_ROOT, 'packages', 'cli', 'dist', 'main.js'),
} as const;

/** Recorded Odoo 19 exchanges (../shared/odoo/transcripts beside the repository). */
export const ODOO_TRANSCRIPTS_DIR = path.resolve(REPO_ROOT, '..', 'shared', 'odoo', 'transcripts');
