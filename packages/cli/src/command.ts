/**
 * What a command is (its help, options, examples and the role it needs) and the context it
 * runs in (streams, colour, the API client, confirmation, interrupts). Commands never touch
 * process.* directly, so they run the same under tests and from the terminal.
 */
import readline from 'node:readline';
import type { Role } from '@ironledger/contracts';
import { ApiClient } from './client.js';
import { CliError, UsageError } from './errors.js';
import type { Palette } from './format/colour.js';
import { resolveConnection } from './profile.js';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** Placeholder shown in help: `--from <day>`. */
  value?: string;
  description: string;
}

export type OptionValues = Record<string, string | boolean | string[] | undefined>;

export interface Args {
  values: OptionValues;
  positionals: string[];
}

export interface CommandSpec {
  /** Words after `ironledger`: `status`, `allocations approve`. */
  name: string;
  summary: string;
  description?: string;
  /** Positional synopsis for help: `[<id>...]`. */
  args?: string;
  minPositionals?: number;
  maxPositionals?: number;
  /** Least role the server asks for (shown in help and in 403 messages). */
  role: Role;
  options?: Record<string, OptionSpec>;
  /** [what it does, command line]. */
  examples: [string, string][];
  run(ctx: Ctx, args: Args): Promise<number>;
}

export interface OutStream {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface Io {
  stdout: OutStream;
  stderr: OutStream;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  /** Subscribes to Ctrl-C; while any subscriber exists the process is not killed by it. */
  onInterrupt(fn: () => void): () => void;
  now(): Date;
}

export interface GlobalFlags {
  url?: string | undefined;
  token?: string | undefined;
  profile?: string | undefined;
  timeoutMs?: number | undefined;
  debug: boolean;
}

export class Ctx {
  constructor(
    readonly io: Io,
    readonly flags: GlobalFlags,
    /** Colour for stdout. */
    readonly c: Palette,
    /** Colour for stderr. */
    readonly ec: Palette,
    readonly command: CommandSpec,
    readonly version: string,
  ) {}

  out(s: string): void {
    this.io.stdout.write(s);
  }

  /** Exactly the server's JSON, pretty-printed, and nothing else on stdout. */
  json(raw: unknown): void {
    this.io.stdout.write(`${JSON.stringify(raw, null, 2)}\n`);
  }

  err(s: string): void {
    this.io.stderr.write(s);
  }

  note(s: string): void {
    this.io.stderr.write(`${s}\n`);
  }

  warn(s: string): void {
    this.io.stderr.write(`${this.ec.yellow('warning:')} ${s}\n`);
  }

  debug(s: string): void {
    if (this.flags.debug) this.io.stderr.write(`${this.ec.dim(`debug: ${s}`)}\n`);
  }

  now(): Date {
    return this.io.now();
  }

  private client: ApiClient | undefined;

  api(): ApiClient {
    if (this.client) return this.client;
    const conn = resolveConnection(this.flags, this.io.env);
    if (!conn.url) {
      throw new UsageError(
        'no server url: set IRONLEDGER_URL or pass --url',
        'e.g. export IRONLEDGER_URL=https://ledger.example.com (or use --profile with ~/.config/ironledger/config.json)',
      );
    }
    if (!conn.token) {
      throw new UsageError(
        'no token: set IRONLEDGER_TOKEN or pass --token',
        'an admin can issue one with `ironledger tokens create --name <you> --role viewer`',
      );
    }
    this.client = new ApiClient({
      baseUrl: conn.url,
      token: conn.token,
      urlSource: conn.urlSource,
      timeoutMs: this.flags.timeoutMs,
      role: this.command.role,
      userAgent: `ironledger-cli/${this.version}`,
      debug: this.flags.debug ? (l) => this.debug(l) : undefined,
    });
    return this.client;
  }

  /**
   * Asks a yes/no question on the terminal. Without a terminal there is nobody to ask: the
   * command refuses (exit 2) and tells the caller to pass --yes.
   */
  async confirm(question: string): Promise<boolean> {
    if (!this.io.stdin.isTTY) {
      throw new UsageError(
        `${question.replace(/\?$/, '')}: refusing without confirmation (no terminal to ask)`,
        'pass --yes to confirm in scripts',
      );
    }
    const rl = readline.createInterface({
      input: this.io.stdin,
      output: this.io.stderr as NodeJS.WritableStream,
    });
    try {
      const answer = await new Promise<string>((resolve) => rl.question(`${question} [y/N] `, resolve));
      return /^y(es)?$/i.test(answer.trim());
    } finally {
      rl.close();
    }
  }
}

// ---- option access ---------------------------------------------------------------------

export function str(a: Args, name: string): string | undefined {
  const v = a.values[name];
  return typeof v === 'string' ? v : undefined;
}

export function bool(a: Args, name: string): boolean {
  return a.values[name] === true;
}

export function list(a: Args, name: string): string[] {
  const v = a.values[name];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}

export function required(a: Args, name: string, hint: string): string {
  const v = str(a, name);
  if (v === undefined || v.trim() === '') throw new UsageError(`--${name} is required`, hint);
  return v;
}

/** --json and --csv exclude each other. */
export function outputMode(a: Args): 'table' | 'json' | 'csv' {
  if (bool(a, 'json') && bool(a, 'csv'))
    throw new UsageError('--json and --csv cannot be used together', 'pick one output format');
  return bool(a, 'json') ? 'json' : bool(a, 'csv') ? 'csv' : 'table';
}

export const JSON_OPTION: Record<string, OptionSpec> = {
  json: { type: 'boolean', description: "Print the server's JSON answer (for scripts)" },
};
export const CSV_OPTION: Record<string, OptionSpec> = {
  csv: { type: 'boolean', description: 'Print CSV (RFC 4180) for spreadsheets' },
};

export function assertNever(x: never): never {
  throw new CliError(`unexpected ${String(x)}`);
}
