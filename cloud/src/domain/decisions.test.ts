import { describe, expect, it } from 'vitest';
import { newAllocation } from '../store/store.contract.js';
import { decideApprove, settleDecision } from './decisions.js';
import type { AllocationRecord } from './types.js';

const record = (id: string, over: Partial<AllocationRecord> = {}): AllocationRecord => ({
  ...newAllocation('EXC-1', { day: '2026-11-23', seq: Number(id) }),
  id,
  version: 1,
  ...over,
});

describe('approval decisions', () => {
  it('each change is a compare-and-set on the version and status the approver saw', () => {
    const d = decideApprove([record('1'), record('2', { version: 4 })], [], {
      actor: 'alex',
      now: '2026-11-24T12:00:00.000Z',
      lockedPeriods: new Set(),
    });
    expect(d.changes.map((c) => [c.id, c.expect])).toEqual([
      ['1', { version: 1, status: 'pending' }],
      ['2', { version: 4, status: 'pending' }],
    ]);
    expect(d.changes[0]!.audit[0]).toMatchObject({ action: 'allocation.approve', actor: 'alex' });
    expect(JSON.parse(d.changes[1]!.audit[0]!.detail!)).toMatchObject({ version: 4, engineHours: 5 });
  });

  it('a change the store found stale is refused with the figures as they are now', () => {
    const d = decideApprove([record('1'), record('2')], ['x'], {
      actor: 'alex',
      now: '2026-11-24T12:00:00.000Z',
      lockedPeriods: new Set(),
    });
    const now = record('2', { version: 2, engineHours: 9, amountMinor: 65700 });
    expect(settleDecision(d, [{ id: '2', current: now }])).toEqual({
      changed: ['1'],
      unchanged: [],
      notFound: ['x'],
      refused: [
        {
          id: '2',
          reason:
            'changed meanwhile (version 1 pending → version 2 pending, engine 9 h, amount 65700): list it again and decide',
        },
      ],
    });
    expect(settleDecision(d, [{ id: '1', current: null }]).refused).toEqual([
      { id: '1', reason: 'no longer exists' },
    ]);
    expect(settleDecision(d, [])).toBe(d.response);
  });
});
