/** The Odoo double seeded for the posting tests (src/testing/: test-only, not in the build). */
import { type OdooDouble, startOdooDouble } from '@ironledger/testkit';

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
