/** Shared fixtures for posting tests: an in-memory ledger, allocations, a seeded Odoo double. */
import { type OdooDouble, startOdooDouble } from '@ironledger/testkit';
import type { PostableAllocation, PostingLedger, PostingOutcomePosted } from './types.js';

/**
 * The Odoo double as the posting tests meet it: project "Riverside Tower" (hr_timesheet gives
 * it a Project-plan analytic account), an Equipment plan with EXC-0042's analytic account, and
 * the equipment itself (serial EXC-0042).
 */
export async function startSeededOdoo(): Promise<{
  odoo: OdooDouble;
  projectAccount: number;
  equipmentAccount: number;
}> {
  const odoo = await startOdooDouble({ today: '2026-11-30' });
  const w = odoo.world;
  w.create('project.project', { name: 'Riverside Tower' });
  const project = odoo.records('project.project').find((p) => p.name === 'Riverside Tower');
  if (!project || !Array.isArray(project.account_id)) throw new Error('the project got no analytic account');
  const plan = w.create('account.analytic.plan', { name: 'Equipment' });
  const equipmentAccount = w.create('account.analytic.account', {
    name: 'EXC-0042 CAT 320',
    code: 'EXC-0042',
    plan_id: plan.id,
  }).id;
  w.create('maintenance.equipment', { name: 'CAT 320 Excavator', serial_no: 'EXC-0042' });
  return { odoo, projectAccount: project.account_id[0] as number, equipmentAccount };
}

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
