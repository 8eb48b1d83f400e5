/** Shared fixtures for posting tests: an in-memory ledger and allocations. */
import type { PostableAllocation, PostingLedger, PostingOutcomePosted } from './types.js';

export class MemoryLedger implements PostingLedger {
  posted = new Map<string, PostingOutcomePosted>();
  dead = new Map<string, { code: string; message: string }>();
  held = new Map<string, string>();
  async markPosted(sent: PostableAllocation, outcome: PostingOutcomePosted): Promise<void> {
    this.posted.set(sent.id, outcome);
  }
  async deadLetter(id: string, code: string, message: string): Promise<void> {
    this.dead.set(id, { code, message });
  }
  async hold(id: string, reason: string): Promise<void> {
    this.held.set(id, reason);
  }
  cleared = new Set<string>();
  async clearHold(sent: PostableAllocation): Promise<number | null> {
    this.cleared.add(sent.id);
    return sent.version + 1;
  }
}

export function allocation(over: Partial<PostableAllocation> & { id: string }): PostableAllocation {
  const unitId = over.unitId ?? 'EXC-0042';
  const projectId = over.projectId ?? 'RIVERSIDE';
  const day = over.day ?? '2026-11-23';
  return {
    version: 1,
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
