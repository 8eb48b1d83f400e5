/** What route handlers and jobs share: built once by app.ts (the composition root). */
import type { Logger } from '@ironledger/logger';
import type { CloudConfig, GatewayConfig } from './config.js';
import type { TokenDirectory } from './http/auth.js';
import type { MasterData } from './master-data.js';
import type { Metrics } from './metrics.js';
import type { CloudStore } from './store/store.js';

export interface AppContext {
  config: CloudConfig;
  store: CloudStore;
  master: MasterData;
  metrics: Metrics;
  logger: Logger;
  tokens: TokenDirectory;
  /** Gateway by token hash (configured gateways only). */
  gatewayByTokenHash: Map<string, GatewayConfig>;
  /** The cloud's clock (ms since epoch); tests may pin it. */
  now: () => number;
  /** Set once shutdown begins: readiness fails and new ingests get 503. */
  stopping: { value: boolean };
}
