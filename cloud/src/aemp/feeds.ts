/**
 * The cloud's AEMP feeds: one poller per configured feed, started with the cloud and stopped
 * before its store closes, and `GET /v1/aemp/feeds` (viewer) with each feed's status.
 */
import type { AempFeedsResponse } from '@ironledger/contracts';
import { componentLogger } from '@ironledger/logger';
import type { AppContext } from '../context.js';
import { requireRole } from '../http/auth.js';
import type { Router } from '../http/router.js';
import { AempPoller } from './poller.js';

export interface AempFeeds {
  pollers: AempPoller[];
  stop(): Promise<void>;
}

export function startAempFeeds(app: AppContext, opts: { autoStart?: boolean } = {}): AempFeeds {
  const logger = componentLogger(app.logger, 'aemp');
  const pollers = app.config.aemp.feeds.map(
    (feed) =>
      new AempPoller({
        feed,
        store: app.store,
        units: () => app.master.units.values(),
        logger,
        now: app.now,
      }),
  );
  if (opts.autoStart !== false) for (const p of pollers) p.start();
  return {
    pollers,
    stop: async () => {
      await Promise.all(pollers.map((p) => p.stop()));
    },
  };
}

export function aempFeedRoutes(router: Router, app: AppContext, feeds: AempFeeds): void {
  router.on('GET', '/v1/aemp/feeds', async (ctx) => {
    await requireRole(ctx.req, app.tokens, 'viewer');
    const body: AempFeedsResponse = { feeds: feeds.pollers.map((p) => p.status()) };
    return { status: 200, body };
  });
}
