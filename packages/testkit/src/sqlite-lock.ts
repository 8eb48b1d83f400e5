import { type SpawnedProcess, spawnCommand } from './process.js';

/** The child: takes the write lock, holds it, signalling the test's process meanwhile, commits. */
const HOLDER = `
const [file, mod, holdMs, pid, signal] = process.argv.slice(1);
const Database = require(mod);
const db = new Database(file);
db.exec('BEGIN IMMEDIATE');
process.stdout.write('locked\\n');
const nap = new Int32Array(new SharedArrayBuffer(4));
const end = Date.now() + Number(holdMs);
while (Date.now() < end) {
  if (pid !== '0') process.kill(Number(pid), signal);
  Atomics.wait(nap, 0, 0, 1);
}
db.exec('COMMIT');
db.close();
process.stdout.write('released\\n');
`;

export interface SqliteLockHolder {
  readonly process: SpawnedProcess;
  /** When the child had the lock (performance.now() of this process). */
  readonly lockedAt: number;
}

/**
 * Another process holding a SQLite file's write lock (`BEGIN IMMEDIATE`) for `holdMs`, as a
 * second replica or the edge's other connection does while it commits. With `signalPid` it sends
 * `signal` to that process every millisecond meanwhile, as a sampling profiler does. Resolves once
 * the lock is held; the child prints `released` and exits 0 after its commit.
 * `betterSqlite3` is the module's resolved path (the caller's copy).
 */
export async function holdSqliteWriteLock(opts: {
  file: string;
  betterSqlite3: string;
  holdMs: number;
  signalPid?: number;
  signal?: NodeJS.Signals;
}): Promise<SqliteLockHolder> {
  const p = spawnCommand(
    process.execPath,
    [
      '-e',
      HOLDER,
      opts.file,
      opts.betterSqlite3,
      String(opts.holdMs),
      String(opts.signalPid ?? 0),
      opts.signal ?? 'SIGURG',
    ],
    { name: 'sqlite-lock-holder' },
  );
  await p.waitForOutput(/locked/, 10_000);
  return { process: p, lockedAt: performance.now() };
}

/**
 * Runs `write` while another process holds the file's write lock for `holdMs` and signals this
 * process every millisecond (SIGURG, handled here meanwhile, as a profiler's SIGPROF would be).
 * Resolves with what `write` returned, how long after the holder took the lock it returned, and
 * the holder's exit code (0 once it committed and let go).
 */
export async function writeWhileLockHeld<T>(
  opts: { file: string; betterSqlite3: string; holdMs: number },
  write: () => T | Promise<T>,
): Promise<{ result: T; waitedMs: number; holderExit: number | string }> {
  const handled = () => {};
  process.on('SIGURG', handled);
  try {
    const holder = await holdSqliteWriteLock({ ...opts, signalPid: process.pid, signal: 'SIGURG' });
    const result = await write();
    const waitedMs = performance.now() - holder.lockedAt;
    return { result, waitedMs, holderExit: await holder.process.exited };
  } finally {
    process.off('SIGURG', handled);
  }
}
