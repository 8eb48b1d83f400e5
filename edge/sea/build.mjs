#!/usr/bin/env node
/**
 * Builds the gateway executables: dist/ironledger-edge-linux-x64 and -linux-arm64.
 *
 * Each is a Node.js Single Executable Application (the route pkg's SEA mode takes):
 *   1. Node 24 for the target, from the registry's node-linux-<arch> package (binary and
 *      headers), never the build machine's own Node.
 *   2. better-sqlite3's addon compiled from the installed package's source against Node 24
 *      headers (ADDON_HEADERS_VERSION, see there), offline; arm64 with Debian's
 *      aarch64-linux-gnu cross compiler.
 *   3. The agent bundled by esbuild into one CommonJS script, `bindings` replaced by
 *      native-addon.cjs so the addon is read from the SEA asset; the forwarder's thread
 *      bundled the same way into a second script, carried as an asset.
 *   4. The SEA blob made by the host's Node 24 (`--experimental-sea-config`); code cache
 *      only when the target's architecture is the host's, as V8's cache is per architecture.
 *   5. The blob injected into a stripped copy of the target's Node binary with postject.
 *
 * Everything downloaded or compiled is kept in edge/sea/.cache (gitignored; override with
 * IRONLEDGER_SEA_CACHE), keyed by version, so a second build only re-bundles and re-injects.
 *
 *   node edge/sea/build.mjs [--target linux-x64] [--target linux-arm64] [--out-dir dist]
 *                           [--entry edge/sea/entry.mjs] [--no-verify]
 */
import { execFile as execFileCb, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';

const execFile = promisify(execFileCb);

/** The Node release shipped inside the executable: the current LTS line, pinned. */
export const NODE_VERSION = '24.21.0';
/**
 * Headers the addon is compiled against. From 24.19.0 on, node_object_wrap.h registers an
 * environment cleanup hook per ObjectWrap and removes it in the destructor, which CHECKs
 * for a current Environment; better-sqlite3 12's Statement is an ObjectWrap that V8 may
 * finalise outside any context (an idle GC), and the process aborts (nodejs/node#65446,
 * "Assertion failed: (env) != nullptr"). Addons built against 24.18.1 headers carry the old
 * inline ObjectWrap and run cleanly on later 24.x runtimes (same ABI, NODE_MODULE_VERSION
 * 137). Raise this once better-sqlite3 no longer uses node::ObjectWrap (v13, Node-API).
 */
export const ADDON_HEADERS_VERSION = '24.18.1';
/** Written into every Node binary; postject flips the byte after it when a blob is injected. */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const POSTJECT_VERSION = '1.0.0-alpha.6';
const ADDON_ASSET = 'better_sqlite3.node';
/** The forwarder thread's bundle: the name edge/src/sinks/forwarder-thread.ts asks for. */
const WORKER_ASSET = 'forwarder-worker.cjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(HERE, '..', '..');
const EDGE_DIR = path.resolve(HERE, '..');

/** What each target needs from the build machine beyond Node and g++. */
const TARGETS = {
  'linux-x64': { arch: 'x64', gypArch: 'x64', cross: null, strip: 'strip' },
  'linux-arm64': {
    arch: 'arm64',
    gypArch: 'arm64',
    cross: {
      CC: 'aarch64-linux-gnu-gcc',
      CXX: 'aarch64-linux-gnu-g++',
      LINK: 'aarch64-linux-gnu-g++',
      AR: 'aarch64-linux-gnu-ar',
    },
    strip: 'aarch64-linux-gnu-strip',
  },
};

const log = (msg) => process.stderr.write(`[build:gateway] ${msg}\n`);
const since = (t0) => `${((performance.now() - t0) / 1000).toFixed(1)} s`;

function which(cmd) {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const p = path.join(dir, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {}
  }
  return null;
}

function cacheDir() {
  const dir = path.resolve(process.env.IRONLEDGER_SEA_CACHE ?? path.join(HERE, '.cache'));
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** `npm pack` a registry package into the cache once and unpack it; returns its folder. */
async function registryPackage(cache, name, version) {
  const dest = path.join(cache, `${name}-${version}`);
  if (fs.existsSync(path.join(dest, 'package.json'))) return dest;
  log(`fetching ${name}@${version} from the npm registry`);
  // Per run: another build (tests and a developer's build at once) never sees a half file.
  const work = fs.mkdtempSync(path.join(cache, `.fetch-${name}-`));
  try {
    await execFile('npm', ['pack', `${name}@${version}`, '--pack-destination', work, '--silent'], {
      maxBuffer: 16 * 1024 * 1024,
    });
    const tgz = fs.readdirSync(work).find((f) => f.endsWith('.tgz'));
    if (!tgz) throw new Error(`npm pack ${name}@${version} produced no tarball`);
    const unpacked = path.join(work, 'package');
    fs.mkdirSync(unpacked);
    await execFile('tar', ['xzf', path.join(work, tgz), '-C', unpacked, '--strip-components=1']);
    // The first complete copy wins; a folder someone may be reading is never replaced.
    if (!fs.existsSync(path.join(dest, 'package.json'))) {
      fs.rmSync(dest, { recursive: true, force: true });
      fs.renameSync(unpacked, dest);
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  return dest;
}

async function nodeDist(cache, arch, version = NODE_VERSION) {
  const dir = await registryPackage(cache, `node-linux-${arch}`, version);
  for (const need of ['bin/node', 'include/node/node.h', 'include/node/common.gypi']) {
    if (!fs.existsSync(path.join(dir, need))) throw new Error(`node-linux-${arch}@${version} lacks ${need}`);
  }
  return dir;
}

/**
 * The headers are the same for every Linux target (per-architecture parts such as
 * OpenSSL's are all included), and the registry has no arm64 package of every release.
 */
function addonHeaders(cache) {
  return nodeDist(cache, 'x64', ADDON_HEADERS_VERSION);
}

/** npm's own node-gyp: the one `npm ci` used for the workspace's better-sqlite3. */
function nodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    path.join(
      path.dirname(process.execPath),
      '..',
      'lib',
      'node_modules',
      'npm',
      'node_modules',
      'node-gyp',
      'bin',
      'node-gyp.js',
    ),
    '/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
    '/usr/local/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
  ];
  const found = candidates.find((p) => p && fs.existsSync(p));
  if (!found) throw new Error(`node-gyp not found (looked in: ${candidates.filter(Boolean).join(', ')})`);
  return found;
}

/** The installed better-sqlite3: its JS goes into the bundle, so the addon must match it. */
function betterSqlite3() {
  const req = createRequire(path.join(EDGE_DIR, 'package.json'));
  const pkgJson = req.resolve('better-sqlite3/package.json');
  const { version } = JSON.parse(fs.readFileSync(pkgJson, 'utf8'));
  return { dir: path.dirname(pkgJson), version };
}

async function compileAddon(cache, target, headersDir, bs3) {
  const t = TARGETS[target];
  const out = path.join(
    cache,
    'addons',
    `better_sqlite3-${bs3.version}-headers${ADDON_HEADERS_VERSION}-${target}.node`,
  );
  if (fs.existsSync(out)) return out;
  if (t.cross && !which(t.cross.CXX)) {
    throw new Error(
      `${target}: ${t.cross.CXX} not found; install it with: apt-get install g++-aarch64-linux-gnu`,
    );
  }
  const t0 = performance.now();
  const work = path.join(cache, 'work', `better-sqlite3-${bs3.version}-${target}-${process.pid}`);
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });
  for (const entry of ['binding.gyp', 'package.json', 'src', 'deps']) {
    fs.cpSync(path.join(bs3.dir, entry), path.join(work, entry), { recursive: true });
  }
  log(`${target}: compiling better-sqlite3 ${bs3.version} against Node ${ADDON_HEADERS_VERSION} headers`);
  const env = {
    ...process.env,
    // The machine's npm config points node-gyp at the system Node's headers; these win.
    npm_config_nodedir: headersDir,
    npm_config_arch: t.gypArch,
    ...(t.cross ?? {}),
  };
  // Asynchronous, so the targets' compiles (each one single-threaded C file) overlap.
  const jobs = String(Math.max(1, os.availableParallelism()));
  try {
    await execFile(process.execPath, [nodeGyp(), 'rebuild', '--release', `--arch=${t.gypArch}`, '-j', jobs], {
      cwd: work,
      env,
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (e) {
    const logFile = path.join(cache, `node-gyp-${target}.log`);
    fs.writeFileSync(logFile, `${e.stdout ?? ''}\n${e.stderr ?? ''}`);
    const tail = String(e.stderr ?? e.message)
      .split('\n')
      .slice(-25)
      .join('\n');
    throw new Error(`${target}: node-gyp failed (${e.code ?? e.signal}); full log in ${logFile}:\n${tail}`);
  }
  const built = path.join(work, 'build', 'Release', ADDON_ASSET);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const tmp = `${out}.tmp-${process.pid}`;
  fs.copyFileSync(built, tmp);
  strip(t.strip, tmp, ['--strip-unneeded']);
  fs.renameSync(tmp, out);
  fs.rmSync(work, { recursive: true, force: true });
  log(`${target}: addon ready in ${since(t0)}`);
  return out;
}

/** Debug symbols are 18 MB of Node's 127 MB and no use on a gateway; .dynsym stays for addons. */
function strip(tool, file, args = []) {
  if (!which(tool)) {
    log(`${tool} not found: leaving ${path.basename(file)} unstripped`);
    return;
  }
  const r = spawnSync(tool, [...args, file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${tool} ${file}: ${r.stderr}`);
}

/** One CommonJS script for every target: the bundle holds no native code. */
async function bundle(buildDir, entry, name = 'ironledger-edge.cjs') {
  const t0 = performance.now();
  const esbuild = await import(createRequire(path.join(REPO_ROOT, 'package.json')).resolve('esbuild'));
  const outfile = path.join(buildDir, name);
  const shim = path.join(HERE, 'native-addon.cjs');
  const result = await esbuild.build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node24',
    // Identifiers kept so stack traces in the agent's logs still name functions.
    minifyWhitespace: true,
    minifySyntax: true,
    keepNames: true,
    legalComments: 'eof',
    logLevel: 'silent',
    metafile: true,
    // The agent is ESM; in a CommonJS bundle import.meta is empty, and SEA's __filename is
    // the executable itself, which is what "where am I" code should see.
    banner: {
      js: "const __seaImportMetaUrl = require('node:url').pathToFileURL(__filename).href;",
    },
    define: {
      'import.meta.url': '__seaImportMetaUrl',
      'import.meta.filename': '__filename',
      'import.meta.dirname': '__dirname',
    },
    plugins: [
      {
        name: 'sea-native-addon',
        setup(b) {
          b.onResolve({ filter: /^bindings$/ }, () => ({ path: shim }));
        },
      },
    ],
  });
  for (const w of result.warnings)
    log(`esbuild: ${w.text}${w.location ? ` (${w.location.file}:${w.location.line})` : ''}`);
  log(
    `bundled ${path.relative(REPO_ROOT, entry)} → ${(fs.statSync(outfile).size / 1e6).toFixed(1)} MB in ${since(t0)}`,
  );
  return outfile;
}

async function makeBlob(buildDir, target, hostNode, main, addon, worker) {
  const t = TARGETS[target];
  const dir = path.join(buildDir, target);
  fs.mkdirSync(dir, { recursive: true });
  const blob = path.join(dir, 'sea-prep.blob');
  // The script's name as given here is what stack traces print: the bare file name, not
  // the build machine's directories.
  fs.copyFileSync(main, path.join(dir, path.basename(main)));
  const config = {
    main: path.basename(main),
    output: 'sea-prep.blob',
    disableExperimentalSEAWarning: true,
    useSnapshot: false,
    useCodeCache: t.arch === process.arch,
    assets: { [ADDON_ASSET]: path.relative(dir, addon), [WORKER_ASSET]: path.relative(dir, worker) },
  };
  const configPath = path.join(dir, 'sea-config.json');
  fs.writeFileSync(configPath, `${JSON.stringify(config, null, 2)}\n`);
  await execFile(hostNode, ['--experimental-sea-config', configPath], { cwd: dir });
  return blob;
}

async function inject(cache, target, nodeDir, blob, outFile) {
  const t = TARGETS[target];
  const postject = await registryPackage(cache, 'postject', POSTJECT_VERSION);
  const { inject: postjectInject } = createRequire(import.meta.url)(path.join(postject, 'dist', 'api.js'));
  const tmp = `${outFile}.tmp-${process.pid}`;
  fs.copyFileSync(path.join(nodeDir, 'bin', 'node'), tmp);
  fs.chmodSync(tmp, 0o755);
  strip(t.strip, tmp);
  // postject prints progress on console.log (stdout carries the build's summary) and LIEF
  // warns once per ELF note it does not know; Node's binary has hundreds. Other warnings pass.
  const { log: origLog, warn: origWarn } = console;
  console.log = () => {};
  console.warn = (...args) => {
    if (!/Can't find string offset for section name/.test(String(args[0]))) origWarn(...args);
  };
  try {
    await postjectInject(tmp, 'NODE_SEA_BLOB', fs.readFileSync(blob), { sentinelFuse: SEA_FUSE });
  } finally {
    console.log = origLog;
    console.warn = origWarn;
  }
  fs.renameSync(tmp, outFile);
}

/** Runs the executable (under qemu when foreign); null when this machine can't run it. */
export function runner(target) {
  const t = TARGETS[target];
  if (t.arch === process.arch) return { cmd: null, prefix: [] };
  const qemu = { arm64: 'qemu-aarch64-static', x64: 'qemu-x86_64-static' }[t.arch];
  const q = qemu && which(qemu);
  if (!q) return null;
  const sysroot = { arm64: '/usr/aarch64-linux-gnu' }[t.arch];
  return { cmd: q, prefix: sysroot && fs.existsSync(sysroot) ? ['-L', sysroot] : [] };
}

function verify(target, exe) {
  const r = runner(target);
  if (!r) {
    log(`${target}: cannot run here (no qemu); not verified`);
    return null;
  }
  const [cmd, args] = r.cmd ? [r.cmd, [...r.prefix, exe, '--sea-info']] : [exe, ['--sea-info']];
  const tmpHome = fs.mkdtempSync(path.join(os.tmpdir(), 'ironledger-sea-verify-'));
  try {
    const res = spawnSync(cmd, args, {
      encoding: 'utf8',
      env: { PATH: '/nonexistent', IRONLEDGER_ADDON_DIR: path.join(tmpHome, 'addon') },
      timeout: 120_000,
    });
    if (res.status !== 0)
      throw new Error(
        `${target}: ${path.basename(exe)} --sea-info failed (${res.status ?? res.signal}): ${res.stderr}`,
      );
    const info = JSON.parse(res.stdout);
    if (info.arch !== TARGETS[target].arch || !info.sqlite)
      throw new Error(`${target}: unexpected --sea-info ${res.stdout}`);
    return info;
  } finally {
    fs.rmSync(tmpHome, { recursive: true, force: true });
  }
}

async function sha256File(file) {
  const h = createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) h.update(chunk);
  return h.digest('hex');
}

async function main() {
  const { values } = parseArgs({
    options: {
      target: { type: 'string', multiple: true },
      'out-dir': { type: 'string', default: path.join(REPO_ROOT, 'dist') },
      entry: { type: 'string', default: path.join(HERE, 'entry.mjs') },
      'no-verify': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      'usage: node edge/sea/build.mjs [--target linux-x64|linux-arm64]... [--out-dir dist] [--entry file] [--no-verify]\n',
    );
    return;
  }
  const targets = values.target ?? Object.keys(TARGETS);
  for (const t of targets)
    if (!TARGETS[t]) throw new Error(`unknown --target ${t} (one of ${Object.keys(TARGETS).join(', ')})`);
  const mainJs = path.join(EDGE_DIR, 'dist', 'main.js');
  if (path.resolve(values.entry) === path.join(HERE, 'entry.mjs') && !fs.existsSync(mainJs))
    throw new Error(`${path.relative(REPO_ROOT, mainJs)} is missing: build the edge first (npm run build)`);

  const t0 = performance.now();
  const cache = cacheDir();
  const outDir = path.resolve(values['out-dir']);
  fs.mkdirSync(outDir, { recursive: true });
  const bs3 = betterSqlite3();
  const hostTarget = `linux-${process.arch}`;
  if (!TARGETS[hostTarget]) throw new Error(`unsupported build machine architecture ${process.arch}`);

  // Fetches first, then the two single-threaded SQLite compiles side by side (2 cores).
  const dists = Object.fromEntries(
    await Promise.all(
      [...new Set([...targets, hostTarget])].map(async (t) => [t, await nodeDist(cache, TARGETS[t].arch)]),
    ),
  );
  const headers = await addonHeaders(cache);
  const addons = Object.fromEntries(
    await Promise.all(targets.map(async (t) => [t, await compileAddon(cache, t, headers, bs3)])),
  );
  // Per run, so concurrent builds never write each other's bundle or blob.
  fs.mkdirSync(path.join(cache, 'build'), { recursive: true });
  const buildDir = fs.mkdtempSync(path.join(cache, 'build', 'run-'));
  const main = await bundle(buildDir, path.resolve(values.entry));
  // The forwarder's thread runs from its own bundle, carried as an asset and started with
  // `eval` (src/sinks/forwarder-thread.ts): a single executable has no file to point a Worker at.
  const worker = await bundle(buildDir, path.join(EDGE_DIR, 'dist', 'sinks', 'forwarder-worker.js'), WORKER_ASSET);
  const hostNode = path.join(dists[hostTarget], 'bin', 'node');

  const built = [];
  for (const target of targets) {
    const t1 = performance.now();
    const blob = await makeBlob(buildDir, target, hostNode, main, addons[target], worker);
    const exe = path.join(outDir, `ironledger-edge-${target}`);
    await inject(cache, target, dists[target], blob, exe);
    const info = values['no-verify'] ? null : verify(target, exe);
    const size = fs.statSync(exe).size;
    built.push({ target, exe, size, sha256: await sha256File(exe), info });
    log(
      `${target}: ${path.relative(REPO_ROOT, exe)} ${(size / 1e6).toFixed(1)} MB in ${since(t1)}${info ? `, runs (Node ${info.node}, SQLite ${info.sqlite})` : ''}`,
    );
  }
  const sums = path.join(outDir, 'SHA256SUMS');
  const previous = fs.existsSync(sums) ? fs.readFileSync(sums, 'utf8').split('\n').filter(Boolean) : [];
  const names = new Set(built.map((b) => path.basename(b.exe)));
  const lines = [
    ...previous.filter((l) => !names.has(l.split(/\s+/)[1])),
    ...built.map((b) => `${b.sha256}  ${path.basename(b.exe)}`),
  ].sort((a, b) => a.split(/\s+/)[1].localeCompare(b.split(/\s+/)[1]));
  fs.writeFileSync(sums, `${lines.join('\n')}\n`);
  // Kept when the build fails, for a look at the bundle and the SEA configs.
  fs.rmSync(buildDir, { recursive: true, force: true });
  log(`done in ${since(t0)}`);
  process.stdout.write(
    `${JSON.stringify({ node: NODE_VERSION, addonHeaders: ADDON_HEADERS_VERSION, betterSqlite3: bs3.version, seconds: Number(((performance.now() - t0) / 1000).toFixed(1)), executables: built.map(({ target, exe, size, sha256 }) => ({ target, path: path.relative(REPO_ROOT, exe), bytes: size, sha256 })) })}\n`,
  );
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    log(`failed: ${e.message}`);
    process.exit(1);
  });
}
