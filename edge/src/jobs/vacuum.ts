/**
 * Returns free pages to the file system (incremental vacuum: the file was created with
 * auto_vacuum = INCREMENTAL) and truncates the WAL, on its own schedule: it rewrites pages,
 * so it runs at a quiet hour rather than with every prune.
 */
import type { Logger } from '@ironledger/logger';
import cron, { type ScheduledTask } from 'node-cron';
import type { SqliteBuffer } from '../buffer/sqlite-buffer.js';

export function scheduleVacuum(buffer: SqliteBuffer, schedule: string, log: Logger): ScheduledTask {
  return cron.schedule(
    schedule,
    () => {
      try {
        const before = buffer.usedBytes();
        buffer.vacuum();
        log.info({ event: 'vacuum.done', usedBytes: buffer.usedBytes(), before }, 'vacuum done');
      } catch (e) {
        log.error({ event: 'vacuum.failed', err: e }, 'vacuum failed');
      }
    },
    { name: 'vacuum', noOverlap: true },
  );
}
