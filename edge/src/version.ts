import fs from 'node:fs';

/** The agent's version, from its package.json (absent inside the single executable's bundle). */
export const VERSION: string = (() => {
  try {
    const pkg = JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? '0.0.0';
  } catch {
    return process.env.IRONLEDGER_EDGE_BUILD_VERSION ?? '0.0.0';
  }
})();
