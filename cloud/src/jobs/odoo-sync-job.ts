/**
 * The scheduled read of master data from Odoo (node-cron, `posting.syncCron`), the same sync
 * `ironledger sync` runs; a failed run is logged and retried at the next tick.
 */
import type { OdooSyncResponse } from '@ironledger/contracts';
import type { Logger } from '@ironledger/logger';
import cron from 'node-cron';
import type { Job } from './consolidation-job.js';

export function startOdooSyncJob(
  expression: string,
  enabled: boolean,
  sync: (actor: string) => Promise<OdooSyncResponse>,
  logger: Logger,
): Job {
  if (expression.trim() === '' || !enabled) return { stop: async () => {} };
  const task = cron.schedule(expression, () => {
    sync('odoo-sync-job').catch((e: unknown) => {
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
