/**
 * The dispatcher: finds the command in argv, parses its options strictly (unknown options are
 * usage errors, never ignored), prints help, runs it and turns every failure into one line of
 * error plus a hint, with the stable exit codes of errors.ts. Stack traces only with --debug.
 */
import { parseArgs } from 'node:util';
import { type Args, type CommandSpec, Ctx, type GlobalFlags, type Io, type OptionSpec } from './command.js';
import { COMMANDS, GROUPS } from './commands/index.js';
import { CliError, EXIT, UsageError } from './errors.js';
import { colourEnabled, palette } from './format/colour.js';
import { parsePositiveInt, suggest } from './values.js';

export const VERSION = '0.1.0';

export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  url: { type: 'string', value: 'url', description: 'Cloud url (default: $IRONLEDGER_URL or the profile)' },
  token: {
    type: 'string',
    value: 'token',
    description: 'API token (default: $IRONLEDGER_TOKEN or the profile)',
  },
  profile: { type: 'string', value: 'name', description: 'Profile from ~/.config/ironledger/config.json' },
  timeout: {
    type: 'string',
    value: 'seconds',
    description: 'Give up on a request after this long (default 30)',
  },
  'no-color': { type: 'boolean', description: 'No colour even on a terminal (also: NO_COLOR=1)' },
  debug: { type: 'boolean', description: 'Show HTTP requests and stack traces' },
  help: { type: 'boolean', short: 'h', description: 'Show help for the command' },
};

const GLOBAL_VALUE_FLAGS = new Set(
  Object.entries(GLOBAL_OPTIONS)
    .filter(([, o]) => o.type === 'string')
    .map(([k]) => `--${k}`),
);

interface Located {
  command?: CommandSpec;
  group?: string;
  /** argv with the command words removed. */
  rest: string[];
  unknown?: { word: string; group?: string };
}

/** Finds the command words: the first non-option word (skipping global flags' values), then a sub-command for groups. */
export function locate(argv: readonly string[]): Located {
  let i = 0;
  while (i < argv.length) {
    const t = argv[i]!;
    if (t === '--') break;
    if (!t.startsWith('-')) break;
    i += GLOBAL_VALUE_FLAGS.has(t) ? 2 : 1;
  }
  const word = argv[i];
  if (word === undefined || word === '--' || word.startsWith('-')) return { rest: [...argv] };
  const without = (idx: number[]) => argv.filter((_, k) => !idx.includes(k));
  if (GROUPS.has(word)) {
    const sub = argv[i + 1];
    // A group that is also a command (`held`) runs it when no sub-command follows.
    const alone = COMMANDS.find((c) => c.name === word);
    if (sub === undefined || sub.startsWith('-'))
      return alone ? { command: alone, rest: without([i]) } : { group: word, rest: without([i]) };
    const command = COMMANDS.find((c) => c.name === `${word} ${sub}`);
    if (!command) return { group: word, rest: without([i, i + 1]), unknown: { word: sub, group: word } };
    return { command, rest: without([i, i + 1]) };
  }
  const command = COMMANDS.find((c) => c.name === word);
  if (!command) return { rest: without([i]), unknown: { word } };
  return { command, rest: without([i]) };
}

export async function run(argv: readonly string[], io: Io): Promise<number> {
  const debug = argv.includes('--debug');
  const noColor = argv.includes('--no-color');
  const ec = palette(colourEnabled(io.stderr, io.env, noColor));
  try {
    return await dispatch(argv, io, noColor);
  } catch (e) {
    return report(e, io, ec, debug);
  }
}

async function dispatch(argv: readonly string[], io: Io, noColor: boolean): Promise<number> {
  const c = palette(colourEnabled(io.stdout, io.env, noColor));
  const loc = locate(argv);
  if (loc.unknown) {
    const candidates = loc.unknown.group
      ? COMMANDS.filter((k) => k.name.startsWith(`${loc.unknown!.group} `)).map((k) => k.name.split(' ')[1]!)
      : [...new Set(COMMANDS.map((k) => k.name.split(' ')[0]!))];
    const near = suggest(loc.unknown.word, candidates);
    const full = loc.unknown.group ? `${loc.unknown.group} ${loc.unknown.word}` : loc.unknown.word;
    throw new UsageError(
      `unknown command '${full}'`,
      `${near ? `did you mean '${loc.unknown.group ? `${loc.unknown.group} ` : ''}${near}'? ` : ''}run 'ironledger ${loc.unknown.group ?? ''}${loc.unknown.group ? ' ' : ''}--help' for the list`,
    );
  }
  if (!loc.command) {
    const { values } = safeParse(
      loc.rest,
      { ...GLOBAL_OPTIONS, version: { type: 'boolean', description: '' } },
      'ironledger',
    );
    if (values.version) {
      io.stdout.write(`ironledger ${VERSION}\n`);
      return EXIT.OK;
    }
    if (loc.group) {
      // Asked for: help on stdout. A group without its sub-command is a usage error: stderr.
      if (values.help) {
        io.stdout.write(groupHelp(loc.group, c));
        return EXIT.OK;
      }
      io.stderr.write(groupHelp(loc.group, palette(colourEnabled(io.stderr, io.env, noColor))));
      return EXIT.USAGE;
    }
    io.stdout.write(rootHelp(c));
    return EXIT.OK;
  }
  const cmd = loc.command;
  const { values, positionals } = safeParse(
    loc.rest,
    { ...GLOBAL_OPTIONS, ...(cmd.options ?? {}) },
    `ironledger ${cmd.name}`,
  );
  if (values.help) {
    io.stdout.write(commandHelp(cmd, c));
    return EXIT.OK;
  }
  const min = cmd.minPositionals ?? 0;
  const max = cmd.maxPositionals ?? 0;
  if (positionals.length < min) {
    throw new UsageError(
      `'ironledger ${cmd.name}' needs ${cmd.args ?? 'an argument'}`,
      `see 'ironledger ${cmd.name} --help'`,
    );
  }
  if (positionals.length > max) {
    throw new UsageError(
      `unexpected argument '${positionals[max]}' for 'ironledger ${cmd.name}'`,
      `see 'ironledger ${cmd.name} --help'`,
    );
  }
  const flags: GlobalFlags = {
    url: values.url as string | undefined,
    token: values.token as string | undefined,
    profile: values.profile as string | undefined,
    timeoutMs:
      typeof values.timeout === 'string' ? parsePositiveInt(values.timeout, 'timeout') * 1000 : undefined,
    debug: values.debug === true,
  };
  const ctx = new Ctx(io, flags, c, palette(colourEnabled(io.stderr, io.env, noColor)), cmd, VERSION);
  return cmd.run(ctx, { values, positionals } as Args);
}

function safeParse(args: string[], options: Record<string, OptionSpec>, where: string) {
  const config: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const [k, o] of Object.entries(options)) {
    config[k] = {
      type: o.type,
      ...(o.short ? { short: o.short } : {}),
      ...(o.multiple ? { multiple: true } : {}),
    };
  }
  try {
    return parseArgs({ args, options: config, allowPositionals: true, strict: true });
  } catch (e) {
    const err = e as { code?: string; message: string };
    const opt = /'(-{1,2}[^' ]+)/.exec(err.message)?.[1];
    if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const near = opt ? suggest(opt.replace(/^-+/, ''), Object.keys(options)) : undefined;
      throw new UsageError(
        `unknown option '${opt ?? '?'}' for '${where}'`,
        `${near ? `did you mean '--${near}'? ` : ''}see '${where} --help'`,
      );
    }
    if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      const name = /--([a-z-]+)/.exec(err.message)?.[1];
      const spec = name ? options[name] : undefined;
      throw new UsageError(
        spec?.type === 'string'
          ? `option '--${name}' needs a value`
          : `option '--${name ?? '?'}' does not take a value`,
        `see '${where} --help'`,
      );
    }
    throw new UsageError(err.message.split('\n')[0]!, `see '${where} --help'`);
  }
}

function report(e: unknown, io: Io, ec: ReturnType<typeof palette>, debug: boolean): number {
  const err = e instanceof CliError ? e : undefined;
  const message = err ? err.message : `unexpected failure: ${(e as Error)?.message ?? String(e)}`;
  io.stderr.write(`${ec.red('error:')} ${message.split('\n')[0]}\n`);
  const hint = err ? err.hint : 'run again with --debug and report the output';
  if (hint) io.stderr.write(`${ec.dim(`hint: ${hint}`)}\n`);
  if (debug) {
    let cur: unknown = e;
    for (let depth = 0; cur && depth < 5; depth++) {
      io.stderr.write(`${ec.dim(String((cur as Error).stack ?? cur))}\n`);
      cur = (cur as { cause?: unknown }).cause;
    }
  }
  return err ? err.exitCode : EXIT.FAILURE;
}

// ---- help ------------------------------------------------------------------------------

function optionLines(options: Record<string, OptionSpec>): string[] {
  const entries = Object.entries(options).map(([k, o]) => {
    const left = `${o.short ? `-${o.short}, ` : '    '}--${k}${o.type === 'string' ? ` <${o.value ?? 'value'}>` : ''}`;
    return [left, `${o.description}${o.multiple ? ' (repeatable)' : ''}`] as const;
  });
  const w = Math.max(0, ...entries.map(([l]) => l.length));
  return entries.map(([l, d]) => `  ${l.padEnd(w)}  ${d}`);
}

export function commandHelp(cmd: CommandSpec, c: ReturnType<typeof palette>): string {
  const lines: string[] = [];
  lines.push(cmd.description ?? cmd.summary, '');
  lines.push(
    c.bold('USAGE'),
    `  ironledger ${cmd.name}${cmd.args ? ` ${cmd.args}` : ''}${cmd.options && Object.keys(cmd.options).length ? ' [flags]' : ''}`,
    '',
  );
  if (cmd.options && Object.keys(cmd.options).length)
    lines.push(c.bold('FLAGS'), ...optionLines(cmd.options), '');
  lines.push(c.bold('GLOBAL FLAGS'), ...optionLines(GLOBAL_OPTIONS), '');
  lines.push(c.bold('EXAMPLES'));
  for (const [what, line] of cmd.examples) lines.push(`  ${c.dim(`# ${what}`)}`, `  $ ${line}`, '');
  lines.push(
    c.bold('ROLE'),
    `  needs ${cmd.role === 'viewer' ? 'a' : 'an'} ${cmd.role} token (viewer < approver < admin)`,
    '',
  );
  return `${lines.join('\n')}`;
}

const SECTIONS: [string, string[]][] = [
  ['WATCH', ['status', 'usage', 'held', 'conflicts', 'audit', 'report']],
  ['APPROVE & POST', ['consolidate', 'allocations', 'post', 'reconcile', 'deadletters']],
  ['ADMIN', ['sites', 'projects', 'units', 'rates', 'periods', 'tokens']],
  ['SHELL', ['completion']],
];

export function summaryOf(word: string): string {
  const cmd = COMMANDS.find((k) => k.name === word);
  if (cmd) return cmd.summary;
  const subs = COMMANDS.filter((k) => k.name.startsWith(`${word} `)).map((k) => k.name.split(' ')[1]);
  return GROUP_SUMMARY[word] ?? subs.join(', ');
}

const GROUP_SUMMARY: Record<string, string> = {
  allocations: 'List, show, approve, reject and reopen cost allocations',
  conflicts: 'Different readings with the same unit and time: list, resolve',
  deadletters: 'Postings Odoo refused: list and replay',
  sites: 'Sites (time zone, default project, geofences): list, add',
  projects: 'Projects (Odoo project / analytic account): list, add',
  periods: 'Month locks: list, lock, unlock',
  units: 'Telematics units: list, add',
  rates: 'Working and idle rates: list, add',
  tokens: 'API tokens: create, list, revoke',
};

export function rootHelp(c: ReturnType<typeof palette>): string {
  const lines: string[] = [];
  lines.push('ironledger: engine hours from the fleet to cost allocations in Odoo.', '');
  lines.push(c.bold('USAGE'), '  ironledger <command> [subcommand] [flags]', '');
  const w = Math.max(...SECTIONS.flatMap(([, ws]) => ws.map((x) => x.length)));
  for (const [title, words] of SECTIONS) {
    lines.push(c.bold(title));
    for (const word of words) lines.push(`  ${word.padEnd(w)}  ${summaryOf(word)}`);
    lines.push('');
  }
  lines.push(c.bold('GLOBAL FLAGS'), ...optionLines(GLOBAL_OPTIONS), '');
  lines.push(
    c.bold('ENVIRONMENT'),
    '  IRONLEDGER_URL, IRONLEDGER_TOKEN   server and token (flags and --profile win)',
    '  IRONLEDGER_PROFILE                 profile to use from the config file',
    '  IRONLEDGER_CONFIG                  config file (default ~/.config/ironledger/config.json)',
    '  NO_COLOR                           no colour',
    '',
    c.bold('EXIT CODES'),
    '  0 ok · 1 failure · 2 usage error · 3 partial (some of the work failed) · 130 interrupted',
    '',
    c.bold('EXAMPLES'),
    '  $ ironledger status',
    '  $ ironledger usage --from 2026-11-01 --to 2026-11-30 --project P-RIVERSIDE',
    '  $ ironledger allocations approve --all',
    '  $ ironledger post',
    '',
    "Run 'ironledger <command> --help' for a command's flags and examples.",
    '',
  );
  return lines.join('\n');
}

export function groupHelp(group: string, c: ReturnType<typeof palette>): string {
  const subs = COMMANDS.filter((k) => k.name.startsWith(`${group} `));
  const w = Math.max(...subs.map((k) => k.name.length - group.length - 1));
  return [
    GROUP_SUMMARY[group] ?? group,
    '',
    c.bold('USAGE'),
    `  ironledger ${group} <subcommand> [flags]`,
    '',
    c.bold('SUBCOMMANDS'),
    ...subs.map((k) => `  ${k.name.slice(group.length + 1).padEnd(w)}  ${k.summary}`),
    '',
    `Run 'ironledger ${group} <subcommand> --help' for details.`,
    '',
  ].join('\n');
}
