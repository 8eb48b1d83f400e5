'use strict';
/**
 * Stands in for the `bindings` package inside the gateway executable.
 *
 * better-sqlite3 asks `require('bindings')('better_sqlite3.node')` for its addon when a
 * Database is opened without `nativeBinding`. In a single executable there is no
 * node_modules to search: the addon travels as the SEA asset `better_sqlite3.node`, and the
 * dynamic loader can only map a real file. So the first call writes the asset to a private
 * cache directory (content-addressed, so versions never clash and an upgrade or a rollback
 * picks its own copy) and loads it with process.dlopen.
 *
 * Where it goes, first match wins:
 *   IRONLEDGER_ADDON_DIR                   operator's choice
 *   CACHE_DIRECTORY                        systemd's CacheDirectory= (first entry)
 *   XDG_CACHE_HOME/ironledger, ~/.cache/ironledger
 *   <os tmpdir>/ironledger-<uid>
 * The directory must belong to this user and not be writable by others: anyone who could
 * replace the file could run code as the agent. The file is compared with the asset before every load.
 */
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const loaded = new Map();

function seaModule() {
  try {
    return require('node:sea');
  } catch {
    return null;
  }
}

function candidateDirs() {
  const dirs = [];
  if (process.env.IRONLEDGER_ADDON_DIR) dirs.push(process.env.IRONLEDGER_ADDON_DIR);
  if (process.env.CACHE_DIRECTORY) dirs.push(process.env.CACHE_DIRECTORY.split(':')[0]);
  if (process.env.XDG_CACHE_HOME) dirs.push(path.join(process.env.XDG_CACHE_HOME, 'ironledger'));
  let home = '';
  try {
    home = os.homedir();
  } catch {}
  if (home && home !== '/') dirs.push(path.join(home, '.cache', 'ironledger'));
  const uid = typeof process.getuid === 'function' ? process.getuid() : 'user';
  dirs.push(path.join(os.tmpdir(), `ironledger-${uid}`));
  return dirs;
}

/** Returns null when `dir` is ours and private, else why it is not usable. */
function privateDir(dir) {
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = fs.lstatSync(dir);
    if (!st.isDirectory()) return 'not a directory';
    if (typeof process.getuid === 'function' && st.uid !== process.getuid()) return `owned by uid ${st.uid}`;
    if (st.mode & 0o022) return `writable by group or others (mode ${(st.mode & 0o777).toString(8)})`;
    return null;
  } catch (e) {
    return e.code || String(e);
  }
}

function sha256(buf) {
  return crypto.createHash('sha256').update(buf).digest('hex');
}

function extract(name, bytes) {
  const digest = sha256(bytes);
  const file = `${path.basename(name, '.node')}-${digest.slice(0, 16)}.node`;
  const problems = [];
  for (const dir of candidateDirs()) {
    const why = privateDir(dir);
    if (why) {
      problems.push(`${dir}: ${why}`);
      continue;
    }
    const target = path.join(dir, file);
    try {
      if (fs.existsSync(target) && Buffer.from(bytes).equals(fs.readFileSync(target))) return target;
      // Write beside, then rename: a concurrent start (status while the agent runs) never
      // maps a half-written file.
      const tmp = `${target}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, bytes, { mode: 0o500 });
      fs.renameSync(tmp, target);
      return target;
    } catch (e) {
      problems.push(`${dir}: ${e.code || e.message}`);
    }
  }
  const err = new Error(
    `cannot unpack the SQLite addon (${name}); set IRONLEDGER_ADDON_DIR to a private writable directory. Tried: ${problems.join('; ')}`,
  );
  err.code = 'SEA_ADDON_UNPACK';
  throw err;
}

function load(name) {
  const sea = seaModule();
  if (!sea?.isSea()) {
    const err = new Error(
      `${name}: this bundle only runs as the gateway executable (no SEA asset outside it)`,
    );
    err.code = 'SEA_ADDON_MISSING';
    throw err;
  }
  const bytes = new Uint8Array(sea.getRawAsset(name));
  const file = extract(name, bytes);
  const mod = { exports: {} };
  process.dlopen(mod, file);
  return mod.exports;
}

module.exports = function bindings(opts) {
  const name = typeof opts === 'string' ? opts : opts.bindings;
  const asset = name.endsWith('.node') ? name : `${name}.node`;
  if (!loaded.has(asset)) loaded.set(asset, load(asset));
  return loaded.get(asset);
};
