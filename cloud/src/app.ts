/**
 * Composition root: opens the store, seeds master data from config, builds the router and
 * jobs, and starts the HTTP server. `startCloud(config)` → `{ url, port, stop() }`; stop is
 * ordered: refuse new ingests, close HTTP (in-flight requests finish), stop jobs, close store.
 */
import type { ConsolidateResponse } from '@ironledger/contracts';
import { componentLogger, createLogger, type Logger } from '@ironledger/logger';
import { allocationKey, priceUsage } from './allocation/allocate.js';
import type { CloudConfig } from './config.js';
import type { AppContext } from './context.js';
import { StoreLedger } from './domain/store-ledger.js';
import { hashToken } from './http/auth.js';
import { Router } from './http/router.js';
import { adminRoutes } from './http/routes/admin.js';
import { allocationRoutes } from './http/routes/allocations.js';
import { batchRoutes } from './http/routes/batches.js';
import { healthRoutes } from './http/routes/health.js';
import { postingRoutes } from './http/routes/posting.js';
import { statusRoutes } from './http/routes/status.js';
import { startHttpServer } from './http/server.js';
import { StoreTokenDirectory } from './http/token-directory.js';
import { type Job, startConsolidationJob } from './jobs/consolidation-job.js';
import { MasterData } from './master-data.js';
import { createMetrics } from './metrics.js';
import { createPoster } from './posting/index.js';
import { SqliteStore } from './store/sqlite/sqlite-store.js';
import type { CloudStore } from './store/store.js';
import { ConsolidationRunner } from './usage/consolidation-runner.js';
import { VERSION } from './version.js';

export interface StartCloudOptions {
  logger?: Logger;
  /** The cloud's clock, ms since epoch (tests pin it). */
  now?: () => number;
  /** A bootstrap admin token (plain; only its hash is kept). */
  adminToken?: string | undefined;
}

export interface RunningCloud {
  url: string;
  port: number;
  store: CloudStore;
  /** Runs consolidation now (what `POST /v1/consolidate` does). */
  consolidate(): Promise<ConsolidateResponse>;
  stop(): Promise<void>;
}

export async function startCloud(config: CloudConfig, opts: StartCloudOptions = {}): Promise<RunningCloud> {
  const logger =
    opts.logger ?? createLogger({ service: 'ironledger-cloud', version: VERSION, level: config.log.level });
  const now = opts.now ?? Date.now;
  const store = new SqliteStore(config.store.path);
  try {
    seed(store, config, new Date(now()).toISOString());
  } catch (e) {
    store.close();
    throw e;
  }
  const master = new MasterData(store);
  const metrics = createMetrics({
    lagSeconds: () => {
      const oldest = store.dirtyUnits()[0];
      return oldest ? Math.max(0, (now() - Date.parse(oldest.markedAt)) / 1000) : 0;
    },
  });
  const app: AppContext = {
    config,
    store,
    master,
    metrics,
    logger,
    tokens: new StoreTokenDirectory(store, opts.adminToken ? hashToken(opts.adminToken) : null),
    gatewayByTokenHash: new Map(config.gateways.map((g) => [g.tokenHash, g])),
    now,
    stopping: { value: false },
  };

  const runner = new ConsolidationRunner({
    store,
    master,
    pricing: { price: priceUsage, key: allocationKey },
    logger: componentLogger(logger, 'consolidation'),
    metrics,
    now,
  });
  const ledger = new StoreLedger(store, now);
  const poster = createPoster(config.posting, { logger: componentLogger(logger, 'posting'), ledger });

  const router = new Router();
  healthRoutes(router, app);
  batchRoutes(router, app);
  statusRoutes(router, app, runner);
  allocationRoutes(router, app);
  postingRoutes(router, app, poster, ledger);
  adminRoutes(router, app, runner);

  let server: Awaited<ReturnType<typeof startHttpServer>>;
  try {
    server = await startHttpServer({
      host: config.http.host,
      port: config.http.port,
      router,
      logger: componentLogger(logger, 'http'),
      metrics,
    });
  } catch (e) {
    await poster.close();
    store.close();
    throw e;
  }
  const jobs: Job[] = [
    startConsolidationJob(config.consolidation.cron, runner, componentLogger(logger, 'jobs')),
  ];
  logger.info(
    { event: 'ready', httpPort: server.port, url: server.url, store: config.store.path },
    'cloud ready',
  );

  let stopped: Promise<void> | null = null;
  return {
    url: server.url,
    port: server.port,
    store,
    consolidate: () => runner.run(),
    stop: () => {
      stopped ??= (async () => {
        app.stopping.value = true;
        await server.close();
        for (const j of jobs) await j.stop();
        // A run in progress finishes its current unit's transaction before the store closes.
        await runner.idle();
        await poster.close();
        store.close();
        logger.info({ event: 'stopped' }, 'cloud stopped');
      })();
      return stopped;
    },
  };
}

/** Config seeds the store: master data is upserted, config tokens inserted once (never un-revoked). */
function seed(store: CloudStore, config: CloudConfig, at: string): void {
  for (const s of config.sites) store.upsertSite(s);
  for (const p of config.projects) store.upsertProject(p);
  for (const u of config.units) store.upsertUnit(u);
  for (const r of config.rates) store.upsertRate(r);
  for (const t of config.auth.tokens)
    store.seedToken({
      id: `config:${t.name}`,
      name: t.name,
      role: t.role,
      tokenHash: t.tokenHash,
      createdAt: at,
      revokedAt: null,
    });
}
