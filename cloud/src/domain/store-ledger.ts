/**
 * The PostingLedger the poster reports to: each outcome is one store transaction (allocation
 * status + dead letter + audit together), so a crash never leaves "posted" half-recorded.
 * Posting runs are serialized, so `actor` names who started the run in progress.
 *
 * Each posted allocation is logged once as `allocation.posted` with its key (Odoo's `ref`),
 * the Odoo record, and the batch ids of the readings behind it: the correlation from the
 * unit's readings through the gateway's batches to the Odoo record.
 */
import type { Logger } from '@ironledger/logger';
import type { PostingLedger, PostingOutcomePosted } from '../posting/types.js';
import type { CloudStore } from '../store/store.js';

const DAY_MS = 24 * 3600 * 1000;

export class StoreLedger implements PostingLedger {
  actor = 'poster';

  constructor(
    private readonly store: CloudStore,
    private readonly now: () => number,
    private readonly logger?: Logger,
  ) {}

  private at(): string {
    return new Date(this.now()).toISOString();
  }

  /** A dry run journalled it: the same correlation trace as a post, the status unchanged. */
  journalled(id: string): void {
    const a = this.logger ? this.store.getAllocation(id) : null;
    if (!a || !this.logger) return;
    const dayMs = Date.parse(`${a.day}T00:00:00Z`);
    this.logger.info(
      {
        event: 'allocation.journalled',
        allocationId: a.id,
        allocationKey: a.key,
        unitId: a.unitId,
        projectId: a.projectId,
        day: a.day,
        batchIds: this.store.batchIdsBetween(a.unitId, dayMs - DAY_MS, dayMs + 2 * DAY_MS),
      },
      'allocation journalled (dry run; still approved)',
    );
  }

  markPosted(id: string, outcome: PostingOutcomePosted): void {
    this.store.markPosted(id, outcome, this.at(), this.actor);
    const a = this.logger ? this.store.getAllocation(id) : null;
    if (!a || !this.logger) return;
    // The day is site-local: readings from a day either side (UTC) cover every time zone.
    const dayMs = Date.parse(`${a.day}T00:00:00Z`);
    this.logger.info(
      {
        event: 'allocation.posted',
        allocationId: a.id,
        allocationKey: a.key,
        unitId: a.unitId,
        projectId: a.projectId,
        day: a.day,
        odooModel: outcome.model,
        odooId: outcome.odooId,
        odooDate: outcome.date,
        alreadyInOdoo: outcome.alreadyInOdoo,
        batchIds: this.store.batchIdsBetween(a.unitId, dayMs - DAY_MS, dayMs + 2 * DAY_MS),
      },
      'allocation posted',
    );
  }

  deadLetter(id: string, code: string, message: string): void {
    this.store.deadLetter(id, code, message, this.at(), this.actor);
  }

  hold(id: string, reason: string): void {
    this.store.hold(id, reason, this.at(), this.actor);
  }

  clearHold(id: string): void {
    this.store.clearHold(id, this.at(), this.actor);
  }
}
