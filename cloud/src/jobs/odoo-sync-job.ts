/**
 * The scheduled read of master data from Odoo (node-cron, `posting.syncCron`), the same sync
 * `ironledger sync` runs; a failed run is logged and retried at the next tick. With several
 * replicas every replica's cron fires and the tick is claimed in the store first: one runs it.
 */
import type { OdooSyncResponse } from '@ironledger/contracts';
import type { Logger } from '@ironledger/logger';
import cron from 'node-cron';
import { type Job, type TickClaim, tickOf } from './consolidation-job.js';

/** One firing: runs the sync if this replica is the first to claim the tick. */
export async function odooSyncTick(
  sync: (actor: string) => Promise<OdooSyncResponse>,
  claim: TickClaim,
): Promise<'ran' | 'claimed_elsewhere'> {
  const nowMs = claim.now();
  const won = await claim.store.claimJobTick(
    'odoo-sync',
    tickOf(nowMs),
    claim.owner,
    new Date(nowMs).toISOString(),
  );
  if (!won) return 'claimed_elsewhere';
  await sync('odoo-sync-job');
  return 'ran';
}

export function startOdooSyncJob(
  expression: string,
  enabled: boolean,
  sync: (actor: string) => Promise<OdooSyncResponse>,
  logger: Logger,
  claim: TickClaim,
): Job {
  if (expression.trim() === '' || !enabled) return { stop: async () => {} };
  const task = cron.schedule(expression, () => {
    odooSyncTick(sync, claim).catch((e: unknown) => {
      logger.warn(
        { event: 'master_data.sync_failed', err: e instanceof Error ? e.message : String(e) },
        'reading master data from Odoo failed; retried at the next tick',
      );
    });
  });
  logger.info(
    { event: 'job_scheduled', job: 'odoo-sync', cron: expression },
    'Odoo master-data sync scheduled',
  );
  return {
    stop: async () => {
      await task.stop();
    },
  };
}
