export * from './types.js';
export * from './config.js';
export { createPoster, type PosterDeps } from './poster.js';
export { DryRunJournal, API_KEY_PLACEHOLDER, executeKwRequest, type JournalEntry } from './journal.js';
export * from './vals.js';
