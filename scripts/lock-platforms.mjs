#!/usr/bin/env node
// The package-lock must list every platform's optional binary package of biome and turbo,
// or `npm ci` refuses the lock. npm drops the entries it cannot fetch metadata for (this
// registry mirror serves only some platforms), so re-add them after `npm install`:
// they are optional and never installed on another platform.
import fs from 'node:fs';

const lock = JSON.parse(fs.readFileSync('package-lock.json', 'utf8'));
const add = (name, version, os, cpu, libc) => {
  const key = `node_modules/${name}`;
  if (lock.packages[key]) return;
  lock.packages[key] = {
    version,
    cpu: [cpu],
    dev: true,
    ...(libc ? { libc: [libc] } : {}),
    optional: true,
    os: [os],
  };
};
const biome = lock.packages['node_modules/@biomejs/biome'];
if (biome) {
  const v = biome.version;
  add('@biomejs/cli-android-arm64', v, 'android', 'arm64');
  add('@biomejs/cli-android-x64', v, 'android', 'x64');
  add('@biomejs/cli-darwin-arm64', v, 'darwin', 'arm64');
  add('@biomejs/cli-darwin-x64', v, 'darwin', 'x64');
  add('@biomejs/cli-linux-arm64-musl', v, 'linux', 'arm64', 'musl');
  add('@biomejs/cli-linux-x64-musl', v, 'linux', 'x64', 'musl');
  add('@biomejs/cli-win32-arm64', v, 'win32', 'arm64');
  add('@biomejs/cli-win32-x64', v, 'win32', 'x64');
}
const turbo = lock.packages['node_modules/turbo'];
if (turbo) {
  const v = turbo.version;
  add('@turbo/darwin-64', v, 'darwin', 'x64');
  add('@turbo/darwin-arm64', v, 'darwin', 'arm64');
  add('@turbo/windows-64', v, 'win32', 'x64');
  add('@turbo/windows-arm64', v, 'win32', 'arm64');
}
lock.packages = Object.fromEntries(
  Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : 1)),
);
fs.writeFileSync('package-lock.json', `${JSON.stringify(lock, null, 2)}\n`);
