/**
 * Composition root: opens the store, seeds master data from config, builds the router and
 * jobs, and starts the HTTP server. `startCloud(config)` → `{ url, port, stop() }`; stop is
 * ordered: refuse new ingests, close HTTP (in-flight requests finish), stop jobs, close store.
 */

import type { ConsolidateResponse } from '@ironledger/contracts';
import { componentLogger, createLogger, type Logger } from '@ironledger/logger';
import { aempFeedRoutes, startAempFeeds } from './aemp/feeds.js';
import { aempRoutes } from './aemp/serve.js';
import { allocationKey, priceFigure } from './allocation/allocate.js';
import { BILL_UNVERIFIED_ACTION, UnverifiedDecisions } from './allocation/unverified-decisions.js';
import type { CloudConfig } from './config.js';
import { ConsolidationRunner } from './consolidation/consolidation-runner.js';
import { UsageWorker, workerFile } from './consolidation/usage-worker-pool.js';
import { type AppContext, DEFAULT_LEASES, type Leases } from './context.js';
import { StoreLedger } from './domain/store-ledger.js';
import { hashToken } from './http/auth.js';
import { Router } from './http/router.js';
import { adminRoutes } from './http/routes/admin.js';
import { allocationRoutes } from './http/routes/allocations.js';
import { batchRoutes } from './http/routes/batches.js';
import { evidenceRoutes } from './http/routes/evidence.js';
import { healthRoutes } from './http/routes/health.js';
import { heldRoutes } from './http/routes/held.js';
import { masterDataSyncer, odooSyncRoutes } from './http/routes/odoo-sync.js';
import { openApiRoutes } from './http/routes/openapi.js';
import { postingRoutes } from './http/routes/posting.js';
import { statusRoutes } from './http/routes/status.js';
import { startHttpServer } from './http/server.js';
import { StoreTokenDirectory } from './http/token-directory.js';
import { type Job, startConsolidationJob } from './jobs/consolidation-job.js';
import { startOdooSyncJob } from './jobs/odoo-sync-job.js';
import { MasterData } from './master-data.js';
import { createMetrics } from './metrics.js';
import { registerOperatorMetrics } from './operator-metrics.js';
import { createPoster } from './posting/index.js';
import { newReplicaId, recoverDeadClaims } from './replica.js';
import { storeLocation } from './store/migrate.js';
import { followMasterData, openStore } from './store/open-store.js';
import type { CloudStore, SeedReport } from './store/store.js';
import { VERSION } from './version.js';

export interface StartCloudOptions {
  logger?: Logger;
  /** The cloud's clock, ms since epoch (tests pin it). */
  now?: () => number;
  /** A bootstrap admin token (plain; only its hash is kept). */
  adminToken?: string | undefined;
  /** Names this replica's claims on shared work (default: host, pid and a random suffix). */
  replicaId?: string | undefined;
  /** Claim leases (tests shorten them). */
  leases?: Partial<Leases> | undefined;
  /** Wraps the store the cloud uses (tests interpose on it to interleave operations). */
  wrapStore?: ((store: CloudStore) => CloudStore) | undefined;
}

export interface RunningCloud {
  url: string;
  port: number;
  store: CloudStore;
  /** Runs consolidation now (what `POST /v1/consolidate` does). */
  consolidate(): Promise<ConsolidateResponse>;
  /** The routes the HTTP server answers, as registered (`/v1/openapi.json` describes each). */
  routes(): Array<{ method: string; pattern: string }>;
  stop(): Promise<void>;
}

export async function startCloud(config: CloudConfig, opts: StartCloudOptions = {}): Promise<RunningCloud> {
  const logger =
    opts.logger ?? createLogger({ service: 'ironledger-cloud', version: VERSION, level: config.log.level });
  const now = opts.now ?? Date.now;
  const replicaId = opts.replicaId ?? newReplicaId();
  const leases: Leases = {
    ...DEFAULT_LEASES,
    consolidationMs: config.store.consolidationLeaseMs,
    postingMs: config.store.postingLeaseMs,
    ...opts.leases,
  };
  const opened: CloudStore = await openStore(config.store, {
    onIdleError: (e) =>
      logger.warn({ event: 'store_connection_lost', err: e }, 'idle store connection failed'),
  });
  const store = opts.wrapStore ? opts.wrapStore(opened) : opened;
  let seeded: SeedReport;
  let master: MasterData;
  let unfollow: () => Promise<void>;
  try {
    seeded = await seed(store, config, new Date(now()).toISOString());
    // A predecessor on this host that crashed left claims: take its work over now.
    await recoverDeadClaims(store, replicaId, componentLogger(logger, 'claims'));
    master = await MasterData.load(store);
    // Replicas on one database: a master-data change through any of them reloads this one.
    unfollow = await followMasterData(opened, master, componentLogger(logger, 'master-data'));
  } catch (e) {
    await store.close();
    throw e;
  }
  const metrics = createMetrics({
    lagSeconds: async () => {
      const oldest = (await store.dirtyUnits())[0];
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
    replicaId,
    leases,
  };
  registerOperatorMetrics(app);

  const usageWorker = consolidationWorker(config);
  const decisions = new UnverifiedDecisions().load(await store.listAudit({ action: BILL_UNVERIFIED_ACTION }));
  const runner = new ConsolidationRunner({
    store,
    master,
    // Contractor pricing on the master data's rates as they are now (reloaded on admin changes).
    pricing: {
      price: (fig, unit) => priceFigure(fig, unit, master.rates, decisions.get(fig)),
      key: allocationKey,
    },
    logger: componentLogger(logger, 'consolidation'),
    metrics,
    now,
    replicaId,
    leases,
    // Another replica may have recorded a decision since: every run prices with all of them.
    beforeRun: async () => {
      decisions.load(await store.listAudit({ action: BILL_UNVERIFIED_ACTION }));
    },
    worker: usageWorker,
  });
  logSeed(logger, seeded);
  // A config change to a site, unit or rate changes attribution or prices of stored readings.
  if ([...seeded.inserted, ...seeded.updated].some((x) => x.kind !== 'project')) await runner.markAll();
  const ledger = new StoreLedger(store, now, componentLogger(logger, 'ledger'));
  const poster = createPoster(config.posting, { logger: componentLogger(logger, 'posting'), ledger });

  const router = new Router();
  healthRoutes(router, app);
  batchRoutes(router, app);
  statusRoutes(router, app, runner);
  allocationRoutes(router, app);
  heldRoutes(router, app);
  evidenceRoutes(router, app, { runner, decisions });
  postingRoutes(router, app, poster, ledger);
  const syncMasterData = masterDataSyncer(app, poster);
  odooSyncRoutes(router, app, syncMasterData, poster);
  adminRoutes(router, app, runner);
  openApiRoutes(router);
  const aempFeeds = startAempFeeds(app, { autoStart: false });
  aempRoutes(router, app);
  aempFeedRoutes(router, app, aempFeeds);

  let server: Awaited<ReturnType<typeof startHttpServer>>;
  try {
    server = await startHttpServer({
      host: config.http.host,
      port: config.http.port,
      tls: config.http.tls,
      router,
      logger: componentLogger(logger, 'http'),
      metrics,
    });
  } catch (e) {
    await poster.close();
    await store.close();
    throw e;
  }
  const jobs: Job[] = [
    // Ticks follow the wall clock cron fires on, not the (possibly pinned) app clock.
    startConsolidationJob(config.consolidation.cron, runner, componentLogger(logger, 'jobs'), {
      store,
      owner: replicaId,
      now: Date.now,
    }),
    startOdooSyncJob(
      config.posting.syncCron,
      config.posting.odoo !== undefined,
      syncMasterData,
      componentLogger(logger, 'jobs'),
      { store, owner: replicaId, now: Date.now },
    ),
  ];
  for (const p of aempFeeds.pollers) p.start();
  logger.info(
    { event: 'ready', httpPort: server.port, url: server.url, store: storeLocation(config.store), replicaId },
    'cloud ready',
  );

  let stopped: Promise<void> | null = null;
  return {
    url: server.url,
    port: server.port,
    store,
    consolidate: () => runner.run(),
    routes: () => router.list(),
    stop: () => {
      stopped ??= (async () => {
        app.stopping.value = true;
        await server.close();
        await aempFeeds.stop();
        for (const j of jobs) await j.stop();
        // A run in progress finishes its current unit's transaction before the store closes.
        await runner.idle();
        await usageWorker?.close();
        await poster.close();
        await unfollow();
        await store.close();
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
async function seed(store: CloudStore, config: CloudConfig, at: string): Promise<SeedReport> {
  const report = await store.seedMasterData({
    sites: config.sites,
    projects: config.projects,
    units: config.units,
    rates: config.rates,
  });
  for (const t of config.auth.tokens)
    await store.seedToken({
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

/**
 * The consolidation worker thread, so a long run never holds the event loop that answers
 * batches: it reads a SQLite file store itself (its own read-only connection), or is sent the
 * readings of a PostgreSQL store. None for an in-memory SQLite store, which another connection
 * cannot see, or when the compiled worker is missing (then units are computed on the event loop).
 */
function consolidationWorker(config: CloudConfig): UsageWorker | null {
  const file = workerFile();
  if (!file) return null;
  if (config.store.url) return new UsageWorker(file, null);
  if (config.store.path === ':memory:' || config.store.path.startsWith('file:')) return null;
  return new UsageWorker(file, config.store.path);
}
