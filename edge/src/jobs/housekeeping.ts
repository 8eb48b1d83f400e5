/**
 * Housekeeping on node-cron: sent readings past their retention and old quarantine entries
 * are deleted. Only readings the cloud acknowledged are ever pruned (buffer.ts). While the
 * disk budget is reached, `relieve` prunes every acknowledged reading at once — they are
 * safe at the cloud, and only the dedupe window for late resends shrinks (the cloud
 * deduplicates too) — so room comes back as soon as the uplink drains the backlog.
 */
import type { Logger } from '@ironledger/logger';
import cron, { type ScheduledTask } from 'node-cron';
import type { SqliteBuffer } from '../buffer/sqlite-buffer.js';
import type { EdgeConfig } from '../config.js';

const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;

export function runHousekeeping(
  buffer: SqliteBuffer,
  cfg: EdgeConfig['housekeeping'],
  log: Logger,
  nowMs = Date.now(),
) {
  const sentPruned = buffer.pruneSent(nowMs - cfg.sentRetentionHours * HOUR_MS);
  const quarantinePruned = buffer.pruneQuarantine(nowMs - cfg.quarantineRetentionDays * DAY_MS);
  buffer.refreshFull();
  log.info({ event: 'housekeeping.done', sentPruned, quarantinePruned }, 'housekeeping done');
  return { sentPruned, quarantinePruned };
}

/** Over budget: drop every acknowledged reading now, then re-check the budget. */
export function relieve(buffer: SqliteBuffer, log: Logger, nowMs = Date.now()): boolean {
  const pruned = buffer.pruneSent(nowMs + 1);
  if (pruned > 0)
    log.warn({ event: 'buffer.relieved', pruned }, 'disk budget reached: pruned acknowledged readings early');
  return buffer.refreshFull();
}

export function scheduleHousekeeping(
  buffer: SqliteBuffer,
  cfg: EdgeConfig['housekeeping'],
  log: Logger,
): ScheduledTask {
  return cron.schedule(
    cfg.schedule,
    () => {
      try {
        runHousekeeping(buffer, cfg, log);
      } catch (e) {
        log.error({ event: 'housekeeping.failed', err: e }, 'housekeeping failed');
      }
    },
    { name: 'housekeeping', noOverlap: true },
  );
}
