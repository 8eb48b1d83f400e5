/**
 * Master data from Odoo (admin): `POST /v1/master-data/sync` reads maintenance.equipment and
 * project.project into the store's mirror (incremental, see posting/odoo-sync.ts) and answers
 * what was added, changed and left unmatched. Runs are serialized with each other and with the
 * scheduled job (`posting.syncCron`).
 */
import type { OdooSyncResponse } from '@ironledger/contracts';
import type { AppContext } from '../../context.js';
import type { OdooMirror } from '../../posting/odoo-sync.js';
import type { Poster } from '../../posting/types.js';
import { type CloudStore, odooSyncCursorKey } from '../../store/store.js';
import { requireRole } from '../auth.js';
import { HttpProblem } from '../problem.js';
import type { Router } from '../router.js';

/** The store as the sync's mirror; writes are audited as `actor`. */
export function storeMirror(store: CloudStore, now: () => number, actor: string): OdooMirror {
  return {
    cursor: (model) => store.getMeta(odooSyncCursorKey(model)),
    list: (model) => store.listOdooRecords(model),
    apply: (model, records, since, cursor) =>
      store.applyOdooSync({ model, records, since, cursor, at: new Date(now()).toISOString(), actor }),
  };
}

/** One sync at a time, whoever starts it (the CLI or the scheduled job). */
export function masterDataSyncer(
  app: AppContext,
  poster: Poster,
): (actor: string) => Promise<OdooSyncResponse> {
  let running: Promise<OdooSyncResponse> | null = null;
  return (actor) => {
    running ??= poster
      .syncMasterData(storeMirror(app.store, app.now, actor), {
        units: [...app.master.units.values()],
        projects: [...app.master.projects.values()],
      })
      .finally(() => {
        running = null;
      });
    return running;
  };
}

export function odooSyncRoutes(
  router: Router,
  app: AppContext,
  sync: (actor: string) => Promise<OdooSyncResponse>,
  poster?: Poster,
): void {
  router.on('GET', '/v1/odoo/status', async (ctx) => {
    await requireRole(ctx.req, app.tokens, 'viewer');
    if (!poster) throw new HttpProblem(404, 'NOT_FOUND', 'Odoo status is not served here');
    return { status: 200, body: await poster.odooStatus() };
  });
  router.on('POST', '/v1/master-data/sync', async (ctx) => {
    const who = await requireRole(ctx.req, app.tokens, 'admin');
    return { status: 200, body: await sync(who.name) };
  });
}
