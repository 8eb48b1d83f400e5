/**
 * Main script of the gateway executable. It answers `--sea-info` itself (what is inside
 * this file: Node, architecture, SQLite, where the addon was unpacked), which support asks
 * for first and which proves the addon loads on that box; everything else goes to the
 * agent's own command line, unchanged.
 */
import Database from 'better-sqlite3';

function seaInfo() {
  const db = new Database(':memory:');
  try {
    const sqlite = db.prepare('select sqlite_version() as v').get().v;
    return {
      executable: process.execPath,
      node: process.versions.node,
      arch: process.arch,
      platform: process.platform,
      glibc: process.report?.getReport?.().header?.glibcVersionRuntime ?? null,
      sqlite,
    };
  } finally {
    db.close();
  }
}

if (process.argv[2] === '--sea-info') {
  process.stdout.write(`${JSON.stringify(seaInfo())}\n`);
} else {
  // Loaded lazily so `--sea-info` never starts the agent. The agent's main reads argv and
  // runs the chosen subcommand on import.
  import('../dist/main.js').catch((err) => {
    process.stderr.write(`ironledger-edge: ${err?.stack ?? err}\n`);
    process.exitCode = 70; // EX_SOFTWARE
  });
}
