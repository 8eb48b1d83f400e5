export * from './allocate.js';
export * from './money.js';
export * from './rate-engine.js';
export * from './status-hours.js';
