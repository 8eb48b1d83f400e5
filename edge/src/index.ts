/** Programmatic surface of the edge agent, for tests and tools that generate configs. */
export { startAgent, type Agent, type AgentStatus, type StartOptions } from './agent.js';
export { EdgeConfigSchema, loadEdgeConfig, parseEdgeConfig, type EdgeConfig, type EdgeConfigInput } from './config.js';
export { hashSecret, verifySecret, verifySecretAsync } from './secrets.js';
export { SqliteBuffer, contentHash } from './buffer/sqlite-buffer.js';
export type { ReadingBuffer, AppendItem, AppendOutcome, OutboundBatch, BufferStats } from './buffer/buffer.js';
export { decodeMessage } from './sources/decoders/index.js';
export { decide, backoffDelayMs, parseRetryAfterMs, type BackoffPolicy, type Decision } from './sinks/retry-policy.js';
export { MIGRATIONS, SCHEMA_VERSION, migrate } from './buffer/migrations.js';
export { VERSION } from './version.js';
