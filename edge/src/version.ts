/**
 * The agent's version: a constant, so it is the same in `dist/`, in an esbuild bundle and in
 * the single executable, with no file to find at run time. `version.test.ts` fails when it
 * differs from package.json's `version` (bump both together).
 */
export const VERSION = '0.1.0';
