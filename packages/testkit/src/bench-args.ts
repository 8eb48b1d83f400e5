/**
 * Command-line options of the benchmark scripts. A script's usage is the comment block at its
 * top (after the `#!` line), so the text `--help` prints is the one a reader of the file sees.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type ParseArgsConfig, parseArgs } from 'node:util';

/** The leading `//` comment block of the script at `scriptUrl`, without the slashes. */
export function scriptUsage(scriptUrl: string): string {
  const lines = fs.readFileSync(fileURLToPath(scriptUrl), 'utf8').split('\n');
  const out: string[] = [];
  for (const line of lines.slice(lines[0]?.startsWith('#!') ? 1 : 0)) {
    if (!line.startsWith('//')) break;
    out.push(line.replace(/^\/\/ ?/, ''));
  }
  return out.join('\n');
}

/**
 * `parseArgs` for a benchmark script: `--help` (or `-h`) prints its usage and exits 0; an
 * unknown option or a missing value prints one line naming it and exits 2, not a stack trace.
 */
export function benchArgs(
  scriptUrl: string,
  options: NonNullable<ParseArgsConfig['options']>,
  argv: string[] = process.argv.slice(2),
): { values: Record<string, string | boolean | Array<string | boolean> | undefined> } {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(scriptUsage(scriptUrl));
    process.exit(0);
  }
  try {
    return { values: parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values };
  } catch (e) {
    console.error(`${(e as Error).message}\n(--help lists the options)`);
    process.exit(2);
  }
}
