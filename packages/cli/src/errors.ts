/**
 * The CLI's failures and its exit codes. Exit codes are part of the interface scripts rely on
 * and never change meaning:
 *   0 ok · 1 failure · 2 usage error · 3 partial (some of the work failed) · 130 interrupted.
 */
export const EXIT = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  PARTIAL: 3,
  /** 128 + SIGINT, as shells report a command stopped with Ctrl-C. */
  INTERRUPTED: 130,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export interface CliErrorOptions {
  exitCode?: number;
  /** One line telling the user what to try next. */
  hint?: string;
  cause?: unknown;
}

/** A failure the CLI explains in one line (plus a hint); never printed with a stack unless --debug. */
export class CliError extends Error {
  readonly exitCode: number;
  readonly hint: string | undefined;

  constructor(message: string, opts: CliErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'CliError';
    this.exitCode = opts.exitCode ?? EXIT.FAILURE;
    this.hint = opts.hint;
  }
}

/** The command line itself is wrong: unknown command or option, bad value, missing flag. */
export class UsageError extends CliError {
  constructor(message: string, hint?: string) {
    super(message, { exitCode: EXIT.USAGE, hint });
    this.name = 'UsageError';
  }
}

/** The server answered with an error status (problem+json). */
export class ApiError extends CliError {
  readonly status: number;
  readonly code: string | undefined;

  constructor(message: string, status: number, code: string | undefined, hint?: string) {
    super(message, { exitCode: EXIT.FAILURE, hint });
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}
