import fs from 'node:fs';

/** The package version, read from cloud/package.json next to dist/ and src/. */
export const VERSION: string = (() => {
  try {
    return (
      JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
    ).version;
  } catch {
    return '0.0.0';
  }
})();
