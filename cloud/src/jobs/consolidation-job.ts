/**
 * The scheduled consolidation (node-cron); a failed run is logged and retried at the next tick.
 * With several replicas on one store every replica's cron fires, and the tick is claimed in
 * the store first: one replica runs it. (The units themselves are claimed one by one as well,
 * so a replica killed mid-run leaves its units to the next tick on any replica.)
 */
import type { Logger } from '@ironledger/logger';
import cron from 'node-cron';
import type { ConsolidationRunner } from '../consolidation/consolidation-runner.js';
import type { CloudStore } from '../store/store.js';

export interface Job {
  stop(): Promise<void>;
}

export interface TickClaim {
  store: CloudStore;
  /** This replica, as recorded with the tick it claims. */
  owner: string;
  now: () => number;
}

/** The scheduled instant a firing belongs to, the same on every replica: its nearest whole second. */
export function tickOf(nowMs: number): string {
  return new Date(Math.round(nowMs / 1000) * 1000).toISOString();
}

/** One firing: runs consolidation if this replica is the first to claim the tick. */
export async function consolidationTick(
  runner: Pick<ConsolidationRunner, 'run'>,
  claim: TickClaim,
): Promise<'ran' | 'claimed_elsewhere'> {
  const nowMs = claim.now();
  const won = await claim.store.claimJobTick(
    'consolidation',
    tickOf(nowMs),
    claim.owner,
    new Date(nowMs).toISOString(),
  );
  if (!won) return 'claimed_elsewhere';
  await runner.run();
  return 'ran';
}

export function startConsolidationJob(
  expression: string,
  runner: ConsolidationRunner,
  logger: Logger,
  claim: TickClaim,
): Job {
  if (expression.trim() === '') return { stop: async () => {} };
  const task = cron.schedule(expression, () => {
    consolidationTick(runner, claim).catch((e) => {
      // A failed run is already logged by the runner; the next tick retries.
      logger.warn({ event: 'job_tick_failed', job: 'consolidation', err: e }, 'consolidation tick failed');
    });
  });
  logger.info({ event: 'job_scheduled', job: 'consolidation', cron: expression }, 'consolidation scheduled');
  return {
    stop: async () => {
      await task.stop();
    },
  };
}
