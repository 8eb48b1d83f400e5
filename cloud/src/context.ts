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
  /** This process among the replicas sharing the store: names its claims. */
  replicaId: string;
  /** How long a claim on shared work lasts before another replica may take it over. */
  leases: Leases;
}

export interface Leases {
  /** A dirty unit's consolidation. */
  consolidationMs: number;
  /** An allocation's posting (covers Odoo's slowest answer with its retries). */
  postingMs: number;
}

export const DEFAULT_LEASES: Leases = {
  consolidationMs: 2 * 60 * 1000, // 2 min
  postingMs: 10 * 60 * 1000, // 10 min
};
