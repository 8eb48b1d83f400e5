export * from './allocate.js';
export * from './money.js';
