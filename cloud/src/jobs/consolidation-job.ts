/** The scheduled consolidation (node-cron); a failed run is logged and retried at the next tick. */
import type { Logger } from '@ironledger/logger';
import cron from 'node-cron';
import type { ConsolidationRunner } from '../usage/consolidation-runner.js';

export interface Job {
  stop(): Promise<void>;
}

export function startConsolidationJob(expression: string, runner: ConsolidationRunner, logger: Logger): Job {
  if (expression.trim() === '') return { stop: async () => {} };
  const task = cron.schedule(expression, () => {
    runner.run().catch(() => {
      // Already logged by the runner; the next tick retries.
    });
  });
  logger.info({ event: 'job_scheduled', job: 'consolidation', cron: expression }, 'consolidation scheduled');
  return {
    stop: async () => {
      await task.stop();
    },
  };
}
