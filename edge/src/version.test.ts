import fs from 'node:fs';
import { expect, it } from 'vitest';
import { VERSION } from './version.js';

it("VERSION is package.json's version", () => {
  const pkg = JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  expect(VERSION).toBe(pkg.version);
});
