/**
 * The completion scripts run in the real shells: bash's completion function with COMP_WORDS,
 * zsh's with `words`/CURRENT and stand-ins for the completion builtins that print what they
 * were offered (zsh is skipped with a message when absent; .ci/run installs it).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { GLOBAL_OPTIONS, run, summaryOf } from '../cli.js';
import type { Io } from '../command.js';
import { bashScript, completionModel, zshScript } from './completion.js';
import { COMMANDS } from './index.js';

async function script(shell: string): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: Io = {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    stdin: Readable.from([]) as unknown as Io['stdin'],
    env: {},
    now: () => new Date(),
    onInterrupt: () => () => {},
  };
  const code = await run(['completion', shell], io);
  return { code, out, err };
}

const hasZsh = spawnSync('zsh', ['-c', 'true']).status === 0;
if (!hasZsh) process.stderr.write('zsh not found: skipping the zsh completion checks\n');

function bashComplete(scriptText: string, line: string[], cwd?: string): string[] {
  const r = spawnSync(
    'bash',
    [
      '-c',
      `${scriptText}\nCOMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _ironledger; printf '%s\\n' "\${COMPREPLY[@]}"`,
      'bash',
      ...line,
    ],
    { encoding: 'utf8', cwd },
  );
  expect(r.stderr).toBe('');
  return r.stdout.split('\n').filter(Boolean);
}

function zshComplete(scriptText: string, line: string[]): string[] {
  const stubs = `compdef() { :; }\n_describe() { print -l -- "\${(@P)\${@[-1]}}" }\n_files() { print -- '<files>' }\n`;
  const r = spawnSync(
    'zsh',
    ['-f', '-c', `${stubs}${scriptText}\nwords=("$@"); CURRENT=$#; _ironledger`, 'zsh', ...line],
    { encoding: 'utf8' },
  );
  expect(r.stderr).toBe('');
  // _describe filters by the typed prefix in a real shell; the stand-in prints every item.
  const prefix = line.at(-1)!;
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => (l === '<files>' ? l : l.replace(/(?<!\\):.*$/, '')))
    .filter((w) => w === '<files>' || w.startsWith(prefix));
}

describe('ironledger completion', () => {
  it('prints a script for bash and zsh, and refuses another shell (exit 2)', async () => {
    const bash = await script('bash');
    expect(bash.code).toBe(0);
    expect(bash.out).toContain('complete -F _ironledger ironledger');
    const zsh = await script('zsh');
    expect(zsh.code).toBe(0);
    expect(zsh.out.startsWith('#compdef ironledger')).toBe(true);
    const fish = await script('fish');
    expect(fish.code).toBe(2);
    expect(fish.err).toContain("unknown shell 'fish'");
  });

  it('bash: commands, sub-commands, flags, values skipped, files where a flag takes a file', async () => {
    const s = (await script('bash')).out;
    expect(bashComplete(s, ['ironledger', 'sta'])).toEqual(['status']);
    expect(bashComplete(s, ['ironledger', 'allocations', 'ap'])).toEqual(['approve']);
    expect(bashComplete(s, ['ironledger', '--url', 'http://x', 'allocations', 'approve', '--y'])).toEqual([
      '--yes',
    ]);
    expect(bashComplete(s, ['ironledger', 'usage', '--from', '2026-11-01', '--pro'])).toEqual([
      '--project',
      '--profile',
    ]);
    // The value of --from is not a command word: `usage` is still the command.
    expect(bashComplete(s, ['ironledger', 'usage', '--from', ''])).toEqual([]);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ironledger-completion-'));
    fs.writeFileSync(path.join(dir, 'nov-report.html'), '');
    expect(bashComplete(s, ['ironledger', 'report', '--out', 'nov'], dir)).toEqual(['nov-report.html']);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('bash: every flag of every command completes (the script comes from the definitions)', async () => {
    const s = (await script('bash')).out;
    for (const c of COMMANDS) {
      const offered = new Set(bashComplete(s, ['ironledger', ...c.name.split(' '), '--']));
      for (const flag of [...Object.keys(c.options ?? {}), ...Object.keys(GLOBAL_OPTIONS)])
        expect(offered.has(`--${flag}`), `${c.name} --${flag}`).toBe(true);
    }
    const top = bashComplete(s, ['ironledger', '']);
    expect(top).toEqual([...new Set(COMMANDS.map((c) => c.name.split(' ')[0]))]);
  });

  it.skipIf(!hasZsh)('zsh: commands with descriptions, sub-commands, flags, files', async () => {
    const s = (await script('zsh')).out;
    expect(spawnSync('zsh', ['-n', '-c', s]).status).toBe(0);
    expect(zshComplete(s, ['ironledger', 'sta'])).toEqual(['status']);
    expect(zshComplete(s, ['ironledger', 'allocations', 'ap'])).toEqual(['approve']);
    expect(zshComplete(s, ['ironledger', 'usage', '--from', '2026-11-01', '--pro'])).toEqual([
      '--project',
      '--profile',
    ]);
    expect(zshComplete(s, ['ironledger', 'report', '--out', ''])).toEqual(['<files>']);
    const model = completionModel(COMMANDS, GLOBAL_OPTIONS, summaryOf);
    expect(zshScript(model)).toContain(`'status:${summaryOf('status')}'`);
    expect(bashScript(model)).toContain('_ironledger()');
  });
});
