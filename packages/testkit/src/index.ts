/**
 * Test helpers shared by every workspace: temporary directories, free ports, real child
 * processes (spawned, waited on, killed with SIGKILL), and waitFor for conditions.
 */

export * from './bench-args.js';
export * from './fault-proxy.js';
export * from './mqtt-bytes.js';
export * from './odoo-double/index.js';
export * from './paths.js';
export * from './pg.js';
export * from './pipeline.js';
export * from './ports.js';
export * from './process.js';
export * from './proxy.js';
export * from './sqlite-lock.js';
export * from './temp.js';
export * from './wait.js';
