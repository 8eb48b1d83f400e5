import { type ChildProcess, spawn } from 'node:child_process';
import { waitFor } from './wait.js';

export interface SpawnedProcess {
  readonly child: ChildProcess;
  readonly name: string;
  /** Everything written to stdout so far. */
  stdout(): string;
  stderr(): string;
  /** Parsed pino JSON lines from stdout (non-JSON lines skipped). */
  logs(): Record<string, unknown>[];
  /** Waits for a stdout/stderr line matching `re`. */
  waitForOutput(re: RegExp, timeoutMs?: number): Promise<string>;
  /** Waits for a pino log line with this `event` (and matching fields). */
  waitForEvent(
    event: string,
    match?: Record<string, unknown>,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
  /** SIGKILL: no cleanup, as a power cut. */
  kill9(): Promise<number | string>;
  /** SIGTERM and wait for a graceful exit. */
  stop(timeoutMs?: number): Promise<number | string>;
}

export interface SpawnOptions {
  name?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Echo output to the test's stderr (debugging). */
  echo?: boolean;
  /** Its own process group (signal it with `process.kill(-pid, sig)`, as a shell's job control does). */
  detached?: boolean;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

/** Spawns `node <script> ...args` (or any command when `script` is absolute and not .js). */
export function spawnNode(script: string, args: string[] = [], opts: SpawnOptions = {}): SpawnedProcess {
  return spawnCommand(process.execPath, [script, ...args], opts);
}

export function spawnCommand(cmd: string, args: string[] = [], opts: SpawnOptions = {}): SpawnedProcess {
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: opts.detached,
  });
  live.add(child);
  const name = opts.name ?? cmd;
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    if (opts.echo) process.stderr.write(`[${name}] ${d}`);
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    err += d;
    if (opts.echo) process.stderr.write(`[${name}!] ${d}`);
  });
  const exited = new Promise<number | string>((resolve) => {
    child.on('exit', (code, signal) => {
      live.delete(child);
      resolve(code ?? signal ?? -1);
    });
  });
  const logs = () =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as Record<string, unknown>];
        } catch {
          return [];
        }
      });
  return {
    child,
    name,
    stdout: () => out,
    stderr: () => err,
    logs,
    exited,
    waitForOutput: (re, timeoutMs = 30_000) =>
      waitFor(
        () => {
          const m = (out + err).match(re);
          if (m) return m[0];
          if (child.exitCode !== null)
            throw new Error(`${name} exited (${child.exitCode}): ${err.slice(-2000)}`);
          return null;
        },
        { timeoutMs, what: `${name} output ${re}` },
      ),
    waitForEvent: (event, match = {}, timeoutMs = 30_000) =>
      waitFor(
        () => {
          const hit = logs().find(
            (l) => l.event === event && Object.entries(match).every(([k, v]) => l[k] === v),
          );
          if (hit) return hit;
          if (child.exitCode !== null)
            throw new Error(`${name} exited (${child.exitCode}): ${err.slice(-2000)}`);
          return null;
        },
        { timeoutMs, what: `${name} event ${event}` },
      ),
    kill9: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      return exited;
    },
    stop: async (timeoutMs = 15_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const r = await exited;
      clearTimeout(t);
      return r;
    },
  };
}
