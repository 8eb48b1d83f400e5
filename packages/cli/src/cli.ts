/**
 * The dispatcher, on commander: the command tree is built from the command definitions
 * (COMMANDS: names, options, help, examples, role), commander parses strictly (an unknown
 * option or command is a usage error, never ignored, with its "did you mean"), prints help,
 * and hands the command its options and arguments. Every failure becomes one line of error
 * plus a hint, with the stable exit codes of errors.ts. Stack traces only with --debug.
 */
import { Command, CommanderError, Option } from 'commander';
import { type Args, type CommandSpec, Ctx, type GlobalFlags, type Io, type OptionSpec } from './command.js';
import { COMMANDS, GROUPS } from './commands/index.js';
import { CliError, EXIT, UsageError } from './errors.js';
import { colourEnabled, type Palette, palette } from './format/colour.js';
import { parsePositiveInt } from './values.js';

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

/** commander's flag syntax for an option: `-o, --out <file>`. */
const flagsOf = (name: string, o: OptionSpec) =>
  `${o.short ? `-${o.short}, ` : ''}--${name}${o.type === 'string' ? ` <${o.value ?? 'value'}>` : ''}`;

/** Adds `options` to `cmd`; returns commander's attribute name → our option name. */
function addOptions(cmd: Command, options: Record<string, OptionSpec>): Map<string, string> {
  const names = new Map<string, string>();
  for (const [name, o] of Object.entries(options)) {
    if (name === 'help') continue; // commander's own -h, --help
    const opt = new Option(flagsOf(name, o), `${o.description}${o.multiple ? ' (repeatable)' : ''}`);
    if (o.multiple) opt.argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]);
    cmd.addOption(opt);
    names.set(opt.attributeName(), name);
  }
  return names;
}

/** commander's option values under our option names (`--no-color` → `'no-color': true`). */
function valuesOf(opts: Record<string, unknown>, names: Map<string, string>): Args['values'] {
  const values: Args['values'] = {};
  for (const [attr, v] of Object.entries(opts)) {
    const name = names.get(attr);
    if (name === 'no-color') values[name] = v === false ? true : undefined;
    else if (name !== undefined) values[name] = v as string | boolean | string[] | undefined;
  }
  return values;
}

function commandHelpText(spec: CommandSpec, c: Palette): string {
  const lines = ['', c.bold('EXAMPLES')];
  for (const [what, line] of spec.examples) lines.push(`  ${c.dim(`# ${what}`)}`, `  $ ${line}`, '');
  lines.push(
    c.bold('ROLE'),
    `  needs ${spec.role === 'viewer' ? 'a' : 'an'} ${spec.role} token (viewer < approver < admin)`,
    '',
  );
  return lines.join('\n');
}

const ROOT_HELP_AFTER = (c: Palette) =>
  [
    '',
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
  ].join('\n');

/** Help as the CLI always printed it: no re-wrapping of the definitions' own lines, bold titles. */
const helpLayout = (c: Palette) => ({
  showGlobalOptions: true,
  sortSubcommands: false,
  helpWidth: 10_000,
  subcommandTerm: (cmd: Command) => cmd.name(),
  styleTitle: (t: string) => c.bold(t.toUpperCase()),
});

interface Selected {
  spec: CommandSpec;
  values: Args['values'];
  positionals: string[];
}

/**
 * The command tree from COMMANDS: one commander command per definition, groups (`allocations`)
 * as parents of their sub-commands; a group that is also a command (`held`) runs it when no
 * sub-command follows. `select` receives the command the user asked for.
 */
export function buildProgram(c: Palette, select: (s: Selected) => void): Command {
  const program = new Command('ironledger')
    .description('ironledger: engine hours from the fleet to cost allocations in Odoo.')
    .usage('<command> [subcommand] [flags]')
    .version(`ironledger ${VERSION}`, '--version', 'Print the version')
    .helpOption('-h, --help', 'Show help for the command')
    .helpCommand(false)
    // Flags belong to the command word before them; each command also takes the global flags.
    .enablePositionalOptions()
    .showSuggestionAfterError(true)
    .configureHelp(helpLayout(c))
    .addHelpText('after', ROOT_HELP_AFTER(c));
  program.optionsGroup('GLOBAL FLAGS:');
  const globals = addOptions(program, GLOBAL_OPTIONS);
  const sectionOf = new Map(SECTIONS.flatMap(([title, words]) => words.map((w) => [w, title] as const)));

  const leaf = (parent: Command, word: string, spec: CommandSpec) => {
    const cmd = parent
      .command(word)
      .summary(spec.summary)
      .description(spec.description ?? spec.summary)
      .usage(`${spec.args ? `${spec.args} ` : ''}[flags]`)
      .allowExcessArguments(true)
      .configureHelp({ ...helpLayout(c), showGlobalOptions: false })
      .addHelpText('after', commandHelpText(spec, c));
    const names = addOptions(cmd, spec.options ?? {});
    cmd.optionsGroup('GLOBAL FLAGS:');
    const own = addOptions(cmd, GLOBAL_OPTIONS);
    cmd.action((_opts: unknown, self: Command) => {
      // Global flags before the command word are the program's; after it, the command's.
      const values: Args['values'] = {};
      for (const [opts, map] of [
        [program.opts(), globals],
        [self.opts(), own],
        [self.opts(), names],
      ] as const)
        for (const [k, v] of Object.entries(valuesOf(opts, map))) if (v !== undefined) values[k] = v;
      select({ spec, values, positionals: [...self.args] });
    });
    return cmd;
  };

  for (const word of [...new Set(COMMANDS.map((k) => k.name.split(' ')[0]!))]) {
    const alone = COMMANDS.find((k) => k.name === word);
    let cmd: Command;
    if (GROUPS.has(word)) {
      cmd = alone
        ? leaf(program, word, alone)
        : program
            .command(word)
            .summary(summaryOf(word))
            .description(summaryOf(word))
            .usage('<subcommand> [flags]')
            .configureHelp(helpLayout(c));
      cmd.commandsGroup('SUBCOMMANDS:').showSuggestionAfterError(true).helpCommand(false);
      // `held --json` and `held release --json`: the group's own flags only before its sub-command.
      cmd.enablePositionalOptions();
      for (const sub of COMMANDS.filter((k) => k.name.startsWith(`${word} `)))
        leaf(cmd, sub.name.slice(word.length + 1), sub);
    } else {
      cmd = leaf(program, word, alone!);
    }
    cmd.helpGroup(`${sectionOf.get(word) ?? 'COMMANDS'}:`);
  }
  return program;
}

async function dispatch(argv: readonly string[], io: Io, noColor: boolean): Promise<number> {
  const c = palette(colourEnabled(io.stdout, io.env, noColor));
  const loc = locate(argv);
  let selected: Selected | undefined;
  let out = '';
  let err = '';
  const program = buildProgram(c, (s) => {
    selected = s;
  });
  const capture = (cmd: Command) => {
    cmd.exitOverride().configureOutput({
      writeOut: (t) => {
        out += t;
      },
      writeErr: (t) => {
        err += t;
      },
      outputError: () => {}, // reported below, as one line and a hint
    });
    for (const sub of cmd.commands) capture(sub);
  };
  capture(program);
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    return commanderOutcome(e, loc, io, { out, err });
  }
  if (!selected) {
    // No command word: the overview, on stdout.
    io.stdout.write(program.helpInformation());
    return EXIT.OK;
  }
  const { spec, values, positionals } = selected;
  if (loc.unknown?.group === spec.name) {
    // `held relase`: a group that is also a command got a word that is none of its sub-commands.
    throw new UsageError(
      `unknown command '${loc.unknown.group} ${loc.unknown.word}'`,
      `run 'ironledger ${loc.unknown.group} --help' for the list`,
    );
  }
  const min = spec.minPositionals ?? 0;
  const max = spec.maxPositionals ?? 0;
  if (positionals.length < min) {
    throw new UsageError(
      `'ironledger ${spec.name}' needs ${spec.args ?? 'an argument'}`,
      `see 'ironledger ${spec.name} --help'`,
    );
  }
  if (positionals.length > max) {
    throw new UsageError(
      `unexpected argument '${positionals[max]}' for 'ironledger ${spec.name}'`,
      `see 'ironledger ${spec.name} --help'`,
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
  const ctx = new Ctx(io, flags, c, palette(colourEnabled(io.stderr, io.env, noColor)), spec, VERSION);
  return spec.run(ctx, { values, positionals });
}

/** What commander stopped for: help and version (exit 0), or a usage error in our words. */
function commanderOutcome(
  e: CommanderError,
  loc: Located,
  io: Io,
  written: { out: string; err: string },
): number {
  const where = loc.command
    ? `ironledger ${loc.command.name}`
    : loc.group
      ? `ironledger ${loc.group}`
      : 'ironledger';
  const near = /\(Did you mean ([^?]+)\?\)/.exec(e.message)?.[1];
  switch (e.code) {
    case 'commander.helpDisplayed':
    case 'commander.version':
      io.stdout.write(written.out);
      return EXIT.OK;
    case 'commander.help':
      // `ironledger` alone: the overview. A group without its sub-command: its help, as a usage error.
      if (!loc.command && !loc.group) {
        io.stdout.write(written.err);
        return EXIT.OK;
      }
      io.stderr.write(written.err);
      return EXIT.USAGE;
    case 'commander.unknownCommand': {
      const word = loc.unknown?.word ?? /'([^']+)'/.exec(e.message)?.[1] ?? '?';
      const group = loc.unknown?.group;
      const full = group ? `${group} ${word}` : word;
      throw new UsageError(
        `unknown command '${full}'`,
        `${near ? `did you mean '${group ? `${group} ` : ''}${near}'? ` : ''}run 'ironledger ${group ? `${group} ` : ''}--help' for the list`,
      );
    }
    case 'commander.unknownOption': {
      const opt = /'([^']+)'/.exec(e.message)?.[1] ?? '?';
      throw new UsageError(
        `unknown option '${opt}' for '${where}'`,
        `${near ? `did you mean '${near}'? ` : ''}see '${where} --help'`,
      );
    }
    case 'commander.optionMissingArgument': {
      const opt = /'(-{1,2}[^' ]+)/.exec(e.message.replace(/^error: option '(-\w, )?/, "'"))?.[1] ?? '?';
      throw new UsageError(`option '${opt}' needs a value`, `see '${where} --help'`);
    }
    default:
      throw new UsageError(e.message.replace(/^error: /, '').split('\n')[0]!, `see '${where} --help'`);
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
