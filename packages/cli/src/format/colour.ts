/**
 * ANSI colour, only where a person is looking: the stream is a TTY, NO_COLOR is unset
 * (https://no-color.org), TERM is not "dumb" and --no-color was not given. FORCE_COLOR=1
 * turns it on regardless (for pagers such as `less -R`).
 */
export interface Palette {
  readonly enabled: boolean;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
}

export function colourEnabled(
  stream: { isTTY?: boolean },
  env: NodeJS.ProcessEnv,
  noColorFlag = false,
): boolean {
  if (noColorFlag) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '' && env.FORCE_COLOR !== '0') return true;
  if (env.TERM === 'dumb') return false;
  return stream.isTTY === true;
}

const wrap = (open: number, close: number) => (s: string) => `\u001b[${open}m${s}\u001b[${close}m`;
const plain = (s: string) => s;

export function palette(enabled: boolean): Palette {
  if (!enabled) {
    return { enabled, red: plain, green: plain, yellow: plain, cyan: plain, dim: plain, bold: plain };
  }
  return {
    enabled,
    red: wrap(31, 39),
    green: wrap(32, 39),
    yellow: wrap(33, 39),
    cyan: wrap(36, 39),
    dim: wrap(2, 22),
    bold: wrap(1, 22),
  };
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching ANSI escapes is the point
const ANSI = /\u001b\[[0-9;]*m/g;

/** Visible width of a string: ANSI escapes removed, one column per code point. */
export function visibleWidth(s: string): number {
  return Array.from(s.replace(ANSI, '')).length;
}
