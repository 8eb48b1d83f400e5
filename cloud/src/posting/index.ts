export * from './config.js';
export { API_KEY_PLACEHOLDER, DryRunJournal, executeKwRequest, type JournalEntry } from './journal.js';
export { MasterData } from './master-data.js';
export { createPoster, type PosterDeps } from './poster.js';
export { compare, type LocalPosted, periodBounds, type RemoteFigure } from './reconcile.js';
export * from './types.js';
export * from './vals.js';
