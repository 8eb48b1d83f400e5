/**
 * ANSI colour, only where a person is looking: the stream is a TTY, NO_COLOR is unset
 * (https://no-color.org), TERM is not "dumb" and --no-color was not given. FORCE_COLOR=1
 * turns it on regardless (for pagers such as `less -R`).
 */
import { styleText } from 'node:util';
import stringWidth from 'string-width';

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

type Style = 'red' | 'green' | 'yellow' | 'cyan' | 'dim' | 'bold';
// Whether to colour is decided above, per stream; styleText must not decide again from
// process.stdout (Node 22 validates the stream by default).
const style = (format: Style) => (s: string) => styleText(format, s, { validateStream: false });
const plain = (s: string) => s;

export function palette(enabled: boolean): Palette {
  if (!enabled) {
    return { enabled, red: plain, green: plain, yellow: plain, cyan: plain, dim: plain, bold: plain };
  }
  return {
    enabled,
    red: style('red'),
    green: style('green'),
    yellow: style('yellow'),
    cyan: style('cyan'),
    dim: style('dim'),
    bold: style('bold'),
  };
}

/**
 * Columns a string takes on a terminal: ANSI escapes take none, East Asian wide characters
 * and most emoji take two, combining marks none (string-width).
 */
export function visibleWidth(s: string): number {
  return stringWidth(s);
}
