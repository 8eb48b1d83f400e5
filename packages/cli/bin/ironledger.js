#!/usr/bin/env node
// The `ironledger` command: a committed file, so that `npm ci` links the bin on a fresh clone
// before `npm run build` has written dist/. The program itself is dist/main.js.
import { existsSync } from 'node:fs';

const main = new URL('../dist/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('ironledger: not built yet: run `npm run build` first\n');
  process.exit(1);
}
await import(main.href);
