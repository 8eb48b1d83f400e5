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
import { heldRoutes } from './http/routes/held.js';
import { masterDataSyncer, odooSyncRoutes } from './http/routes/odoo-sync.js';
import { postingRoutes } from './http/routes/posting.js';
import { statusRoutes } from './http/routes/status.js';
import { startHttpServer } from './http/server.js';
import { StoreTokenDirectory } from './http/token-directory.js';
import { type Job, startConsolidationJob } from './jobs/consolidation-job.js';
import { startOdooSyncJob } from './jobs/odoo-sync-job.js';
import { MasterData } from './master-data.js';
import { createMetrics } from './metrics.js';
import { createPoster } from './posting/index.js';
import { SqliteStore } from './store/sqlite/sqlite-store.js';
import type { CloudStore, SeedReport } from './store/store.js';
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
  let seeded: SeedReport;
  try {
    seeded = seed(store, config, new Date(now()).toISOString());
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
  logSeed(logger, seeded);
  // A config change to a site, unit or rate changes attribution or prices of stored readings.
  if ([...seeded.inserted, ...seeded.updated].some((x) => x.kind !== 'project')) runner.markAll();
  const ledger = new StoreLedger(store, now, componentLogger(logger, 'ledger'));
  const poster = createPoster(config.posting, { logger: componentLogger(logger, 'posting'), ledger });

  const router = new Router();
  healthRoutes(router, app);
  batchRoutes(router, app);
  statusRoutes(router, app, runner);
  allocationRoutes(router, app);
  heldRoutes(router, app);
  postingRoutes(router, app, poster, ledger);
  const syncMasterData = masterDataSyncer(app, poster);
  odooSyncRoutes(router, app, syncMasterData, poster);
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
    startOdooSyncJob(
      config.posting.syncCron,
      config.posting.odoo !== undefined,
      syncMasterData,
      componentLogger(logger, 'jobs'),
    ),
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

/**
 * Config seeds the store. Master data: a record the store lacks is inserted; one config put
 * there is updated to what the config says now; one changed through the admin API is left as
 * it is (the API's edit wins, at every restart). Config tokens are inserted once (never
 * un-revoked).
 */
function seed(store: CloudStore, config: CloudConfig, at: string): SeedReport {
  const report = store.seedMasterData({
    sites: config.sites,
    projects: config.projects,
    units: config.units,
    rates: config.rates,
  });
  for (const t of config.auth.tokens)
    store.seedToken({
      id: `config:${t.name}`,
      name: t.name,
      role: t.role,
      tokenHash: t.tokenHash,
      createdAt: at,
      revokedAt: null,
    });
  return report;
}

function logSeed(logger: Logger, r: SeedReport): void {
  const ids = (xs: SeedReport['inserted']) => xs.map((x) => `${x.kind}:${x.id}`);
  if (r.inserted.length || r.updated.length)
    logger.info(
      { event: 'master_data_seeded', inserted: ids(r.inserted), updated: ids(r.updated) },
      'master data seeded from config',
    );
  if (r.keptApiEdits.length)
    logger.info(
      { event: 'master_data_config_ignored', records: ids(r.keptApiEdits) },
      'config differs from records changed through the admin API; the API edits are kept',
    );
}
