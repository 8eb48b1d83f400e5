/** Shared fixtures for posting tests: an in-memory ledger and allocations. */
import type { PostableAllocation, PostingLedger, PostingOutcomePosted } from './types.js';

export class MemoryLedger implements PostingLedger {
  posted = new Map<string, PostingOutcomePosted>();
  dead = new Map<string, { code: string; message: string }>();
  held = new Map<string, string>();
  markPosted(id: string, outcome: PostingOutcomePosted): void {
    this.posted.set(id, outcome);
  }
  deadLetter(id: string, code: string, message: string): void {
    this.dead.set(id, { code, message });
  }
  hold(id: string, reason: string): void {
    this.held.set(id, reason);
  }
  cleared = new Set<string>();
  clearHold(id: string): void {
    this.cleared.add(id);
  }
}

export function allocation(over: Partial<PostableAllocation> & { id: string }): PostableAllocation {
  const unitId = over.unitId ?? 'EXC-0042';
  const projectId = over.projectId ?? 'RIVERSIDE';
  const day = over.day ?? '2026-11-23';
  return {
    key: `IL-${unitId}-${projectId}-${day.replaceAll('-', '')}-1`,
    kind: 'normal',
    unitId,
    projectId,
    day,
    engineHours: 8.7,
    idleHours: 1.2,
    workingHours: 7.5,
    workingRateMinor: 8500,
    idleRateMinor: 1500,
    amountMinor: 65550,
    currency: 'USD',
    ...over,
  };
}
