export * from './money.js';
export * from './allocate.js';
