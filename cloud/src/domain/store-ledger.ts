/**
 * The PostingLedger the poster reports to: each outcome is one store transaction (allocation
 * status + dead letter + audit + the end of its posting claim together), so a crash never
 * leaves "posted" half-recorded. `actor` names who started the run in progress.
 *
 * What is recorded is exactly what was sent (figures and the version they were read at). When
 * the allocation changed while Odoo was answering, the posted record still keeps what Odoo
 * got, and the store marks the unit dirty so consolidation books the difference as an
 * adjustment that goes through approval (logged as `allocation.changed_while_posting`).
 *
 * Each posted allocation is logged once as `allocation.posted` with its key (Odoo's `ref`),
 * the Odoo record, and the batch ids of the readings behind it: the correlation from the
 * unit's readings through the gateway's batches to the Odoo record.
 */
import type { Logger } from '@ironledger/logger';
import type { PostableAllocation, PostingLedger, PostingOutcomePosted } from '../posting/types.js';
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
  async journalled(id: string): Promise<void> {
    if (!this.logger) return;
    const a = await this.store.getAllocation(id);
    if (!a) return;
    const dayMs = Date.parse(`${a.day}T00:00:00Z`);
    this.logger.info(
      {
        event: 'allocation.journalled',
        allocationId: a.id,
        allocationKey: a.key,
        unitId: a.unitId,
        projectId: a.projectId,
        day: a.day,
        batchIds: await this.store.batchIdsBetween(a.unitId, dayMs - DAY_MS, dayMs + 2 * DAY_MS),
      },
      'allocation journalled (dry run; still approved)',
    );
  }

  async markPosted(sent: PostableAllocation, outcome: PostingOutcomePosted): Promise<void> {
    const r = await this.store.markPosted({
      id: sent.id,
      sent: {
        version: sent.version,
        engineHours: sent.engineHours,
        idleHours: sent.idleHours,
        workingHours: sent.workingHours,
        workingRateMinor: sent.workingRateMinor,
        idleRateMinor: sent.idleRateMinor,
        amountMinor: sent.amountMinor,
        currency: sent.currency,
      },
      outcome,
      at: this.at(),
      actor: this.actor,
    });
    if (r.kind === 'not_found' || r.kind === 'already_posted') {
      // Odoo has the record either way; nothing more to record here.
      this.logger?.warn(
        {
          event: `allocation.post_${r.kind}`,
          allocationId: sent.id,
          allocationKey: sent.key,
          odooId: outcome.odooId,
        },
        r.kind === 'not_found'
          ? 'posted allocation is no longer stored'
          : 'allocation was already recorded as posted',
      );
      return;
    }
    if (!this.logger) return;
    const a = r.allocation;
    if (r.kind === 'posted_changed')
      this.logger.warn(
        {
          event: 'allocation.changed_while_posting',
          allocationKey: a.key,
          sentVersion: sent.version,
          meanwhileVersion: r.meanwhile.version,
          sentEngineHours: sent.engineHours,
          meanwhileEngineHours: r.meanwhile.engineHours,
          sentAmountMinor: sent.amountMinor,
          meanwhileAmountMinor: r.meanwhile.amountMinor,
        },
        'allocation changed while it was being posted: the difference becomes an adjustment',
      );
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
        batchIds: await this.store.batchIdsBetween(a.unitId, dayMs - DAY_MS, dayMs + 2 * DAY_MS),
      },
      'allocation posted',
    );
  }

  async deadLetter(id: string, code: string, message: string): Promise<void> {
    await this.store.deadLetter(id, code, message, this.at(), this.actor);
  }

  async hold(id: string, reason: string): Promise<void> {
    await this.store.hold(id, reason, this.at(), this.actor);
  }

  async clearHold(sent: PostableAllocation): Promise<number | null> {
    const r = await this.store.clearHold({
      id: sent.id,
      expect: { version: sent.version, status: 'approved' },
      at: this.at(),
      actor: this.actor,
    });
    return r.kind === 'cleared' ? r.allocation.version : null;
  }
}
