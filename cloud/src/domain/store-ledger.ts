/**
 * The PostingLedger the poster reports to: each outcome is one store transaction (allocation
 * status + dead letter + audit together), so a crash never leaves "posted" half-recorded.
 * Posting runs are serialized, so `actor` names who started the run in progress.
 */
import type { PostingLedger, PostingOutcomePosted } from '../posting/types.js';
import type { CloudStore } from '../store/store.js';

export class StoreLedger implements PostingLedger {
  actor = 'poster';

  constructor(
    private readonly store: CloudStore,
    private readonly now: () => number,
  ) {}

  private at(): string {
    return new Date(this.now()).toISOString();
  }

  markPosted(id: string, outcome: PostingOutcomePosted): void {
    this.store.markPosted(id, outcome, this.at(), this.actor);
  }

  deadLetter(id: string, code: string, message: string): void {
    this.store.deadLetter(id, code, message, this.at(), this.actor);
  }

  hold(id: string, reason: string): void {
    this.store.hold(id, reason, this.at(), this.actor);
  }
}
