/** Programmatic surface of the edge agent, for tests and tools that generate configs. */
export { type Agent, type AgentStatus, type StartOptions, startAgent } from './agent.js';
export type {
  AppendItem,
  AppendOutcome,
  BufferStats,
  OutboundBatch,
  ReadingBuffer,
} from './buffer/buffer.js';
export { MIGRATIONS, migrate, SCHEMA_VERSION } from './buffer/migrations.js';
export { contentHash, SqliteBuffer } from './buffer/sqlite-buffer.js';
export {
  type EdgeConfig,
  type EdgeConfigInput,
  EdgeConfigSchema,
  loadEdgeConfig,
  parseEdgeConfig,
} from './config.js';
export { hashSecret, verifySecret, verifySecretAsync } from './secrets.js';
export {
  type BackoffPolicy,
  backoffDelayMs,
  type Decision,
  decide,
  parseRetryAfterMs,
} from './sinks/retry-policy.js';
export { decodeMessage } from './sources/decoders/index.js';
export { VERSION } from './version.js';
