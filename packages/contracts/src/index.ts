export * from './admin.js';
export * from './aemp.js';
export * from './batch.js';
export * from './cloud.js';
export * from './master.js';
export * from './reading.js';
export * from './sim.js';
export * from './topics.js';
