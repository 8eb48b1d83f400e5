/** The cloud ingestor as a library: start it in-process (tests, embedding) or via main.ts. */
export { type RunningCloud, type StartCloudOptions, startCloud } from './app.js';
export {
  type CloudConfig,
  type CloudConfigInput,
  CloudConfigSchema,
  ENV_MAP,
  ENV_PREFIX,
  loadCloudConfig,
  parseCloudConfig,
} from './config.js';
export { hashToken } from './http/auth.js';
export { VERSION } from './version.js';
