import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { buildProgram, locate, run } from './cli.js';
import type { Io } from './command.js';
import { COMMANDS } from './commands/index.js';
import { palette } from './format/colour.js';
import { resolveConnection } from './profile.js';

function memoryIo(env: NodeJS.ProcessEnv = {}): Io & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const stdin = Readable.from([]) as unknown as NodeJS.ReadableStream & { isTTY?: boolean };
  return {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    stdin,
    env,
    now: () => new Date('2026-11-23T10:00:00.000Z'),
    onInterrupt: () => () => {},
    out: () => out,
    err: () => err,
  };
}

async function cli(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const io = memoryIo(env);
  const code = await run(argv, io);
  return { code, out: io.out(), err: io.err() };
}

describe('dispatch', () => {
  it('finds commands and sub-commands around global flags', () => {
    expect(locate(['--url', 'http://x', 'status', '--json']).command?.name).toBe('status');
    expect(locate(['allocations', 'approve', 'a1']).command?.name).toBe('allocations approve');
    expect(locate(['allocations', 'approve', 'a1']).rest).toEqual(['a1']);
    expect(locate(['allocations']).group).toBe('allocations');
    expect(locate(['nope']).unknown).toEqual({ word: 'nope' });
    // `held` lists on its own and is the group of `held release`.
    expect(locate(['held']).command?.name).toBe('held');
    expect(locate(['held', '--unit', 'EXC-1']).command?.name).toBe('held');
    expect(locate(['held', 'release', '7']).command?.name).toBe('held release');
    expect(locate(['held', 'relase']).unknown).toEqual({ word: 'relase', group: 'held' });
  });

  it('gives every command a summary, examples and a role', () => {
    for (const c of COMMANDS) {
      expect(c.summary, c.name).not.toBe('');
      expect(c.examples.length, c.name).toBeGreaterThan(0);
      for (const [, line] of c.examples)
        expect(line.startsWith(`ironledger ${c.name}`), `${c.name}: ${line}`).toBe(true);
    }
  });

  it('prints help with examples for every command, exit 0', async () => {
    for (const c of COMMANDS) {
      const r = await cli([...c.name.split(' '), '--help']);
      expect(r.code, c.name).toBe(0);
      expect(r.out).toContain(`ironledger ${c.name}`);
      expect(r.out).toContain('EXAMPLES');
    }
    const root = await cli(['--help']);
    expect(root.code).toBe(0);
    expect(root.out).toContain('allocations');
  });

  it('an unknown command is a usage error with a suggestion', async () => {
    const r = await cli(['stauts']);
    expect(r.code).toBe(2);
    expect(r.err.split('\n')[0]).toBe("error: unknown command 'stauts'");
    expect(r.err).toContain("did you mean 'status'");
    const sub = await cli(['allocations', 'aprove']);
    expect(sub.code).toBe(2);
    expect(sub.err).toContain("did you mean 'allocations approve'");
  });

  it('an unknown option is a usage error naming the command', async () => {
    const r = await cli(['usage', '--form', '2026-11-01']);
    expect(r.code).toBe(2);
    expect(r.err).toContain("unknown option '--form' for 'ironledger usage'");
    expect(r.err).toContain("did you mean '--from'");
  });

  it('checks arguments before any network call', async () => {
    const env = { IRONLEDGER_URL: 'http://127.0.0.1:9', IRONLEDGER_TOKEN: 't' };
    const reject = await cli(['allocations', 'reject', 'a1'], env);
    expect(reject.code).toBe(2);
    expect(reject.err).toContain('--reason is required');
    expect(reject.err).toContain('hint:');
    const date = await cli(['usage', '--from', '2026-02-30'], env);
    expect(date.code).toBe(2);
    expect(date.err).toContain("bad date '2026-02-30' for --from");
    const both = await cli(['usage', '--json', '--csv'], env);
    expect(both.code).toBe(2);
    const period = await cli(['reconcile'], env);
    expect(period.code).toBe(2);
    expect(period.err).toContain('--period is required');
    const extra = await cli(['status', 'extra'], env);
    expect(extra.code).toBe(2);
    const neither = await cli(['held', 'release', '7', '--reason', 'x'], env);
    expect(neither.code).toBe(2);
    expect(neither.err).toContain('exactly one of --rebase-ts <iso> or --as-is');
    const twice = await cli(['held', 'release', '7', '--as-is', '--rebase-ts', '2026-06-01T10:00:00Z'], env);
    expect(twice.code).toBe(2);
    const badTs = await cli(
      ['held', 'release', '7', '--rebase-ts', '2026-06-01 10:00', '--reason', 'x'],
      env,
    );
    expect(badTs.err).toContain("bad instant '2026-06-01 10:00' for --rebase-ts");
    const noReason = await cli(['held', 'release', '7', '--as-is'], env);
    expect(noReason.err).toContain('--reason is required');
    const keep = await cli(['conflicts', 'resolve', '3', '--keep', 'third', '--reason', 'x'], env);
    expect(keep.code).toBe(2);
    expect(keep.err).toContain("bad value 'third' for --keep");
    expect((await cli(['conflicts', 'list', '--status', 'closed'], env)).code).toBe(2);
    expect((await cli(['allocations', 'reopen', 'a1'], env)).err).toContain('--reason is required');
  });

  it('refuses a bulk approval without a terminal unless --yes', async () => {
    const r = await cli(['allocations', 'approve', '--all'], {
      IRONLEDGER_URL: 'http://127.0.0.1:9',
      IRONLEDGER_TOKEN: 't',
    });
    expect(r.code).toBe(2);
    expect(r.err).toContain('without confirmation');
    expect(r.err).toContain('--yes');
  });

  it('asks for a url and a token when none is configured', async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'il-cli-'));
    const noUrl = await cli(['status'], { HOME: home });
    expect(noUrl.code).toBe(2);
    expect(noUrl.err).toContain('IRONLEDGER_URL');
    const noToken = await cli(['status'], { HOME: home, IRONLEDGER_URL: 'http://127.0.0.1:9' });
    expect(noToken.code).toBe(2);
    expect(noToken.err).toContain('IRONLEDGER_TOKEN');
  });

  it('an unreachable server is exit 1 with the url, and no stack without --debug', async () => {
    const r = await cli(['status', '--url', 'http://127.0.0.1:9', '--token', 't']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('cannot reach the IronLedger server at http://127.0.0.1:9');
    expect(r.err).not.toMatch(/\n\s+at /);
    const d = await cli(['status', '--url', 'http://127.0.0.1:9', '--token', 't', '--debug']);
    expect(d.code).toBe(1);
    expect(d.err).toMatch(/\n\s+at /);
  });
});

describe('profiles', () => {
  it('flags > --profile > env > default profile', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'il-cli-'));
    const file = path.join(dir, 'config.json');
    fs.writeFileSync(
      file,
      JSON.stringify({
        defaultProfile: 'prod',
        profiles: {
          prod: { url: 'https://prod', token: 'p' },
          dev: { url: 'http://dev', tokenFile: path.join(dir, 'tok') },
        },
      }),
    );
    fs.writeFileSync(path.join(dir, 'tok'), 'dev-token\n');
    const env = { IRONLEDGER_CONFIG: file };
    expect(resolveConnection({}, env)).toMatchObject({ url: 'https://prod', token: 'p' });
    expect(
      resolveConnection({}, { ...env, IRONLEDGER_URL: 'http://env', IRONLEDGER_TOKEN: 'e' }),
    ).toMatchObject({ url: 'http://env', token: 'e' });
    expect(resolveConnection({ profile: 'dev' }, { ...env, IRONLEDGER_URL: 'http://env' })).toMatchObject({
      url: 'http://dev',
      token: 'dev-token',
    });
    expect(resolveConnection({ profile: 'dev', url: 'http://flag' }, env)).toMatchObject({
      url: 'http://flag',
      urlSource: '--url',
    });
    expect(() => resolveConnection({ profile: 'nope' }, env)).toThrow(/no profile 'nope'/);
  });
});

describe('the commander program built from the definitions', () => {
  const parse = async (argv: string[]) => {
    let selected:
      | { spec: { name: string }; values: Record<string, unknown>; positionals: string[] }
      | undefined;
    await buildProgram(palette(false), (s) => {
      selected = s;
    }).parseAsync(argv, { from: 'user' });
    return selected!;
  };

  it('gives each command its own flags, global flags before or after the command word', async () => {
    // `held` and `held release` both take --json: it belongs to the word it follows.
    const release = await parse([
      '--no-color',
      'held',
      'release',
      '7',
      '--reason',
      'r',
      '--json',
      '--url',
      'u',
    ]);
    expect(release.spec.name).toBe('held release');
    expect(release.values).toEqual({ 'no-color': true, reason: 'r', json: true, url: 'u' });
    expect(release.positionals).toEqual(['7']);
    const list = await parse(['held', '--json', '--unit', 'EXC-1']);
    expect(list.spec.name).toBe('held');
    expect(list.values).toEqual({ json: true, unit: 'EXC-1' });
  });

  it('collects a repeatable flag', async () => {
    const add = await parse(['sites', 'add', '--id', 'S', '--geofence', 'a', '--geofence', 'b']);
    expect(add.values.geofence).toEqual(['a', 'b']);
  });
});
