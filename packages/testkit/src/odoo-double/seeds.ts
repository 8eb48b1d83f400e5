/**
 * Starting states of recorded Odoo databases, for a double that must answer a recording's
 * requests with the recording's ids.
 */
import type { OdooSeed } from './world.js';

const AT = '2026-11-30 23:07:54';

/**
 * `odoolab_rec` (transcripts 120–178): a fresh copy of the first recording's start with the
 * Analytic Accounting group granted, plan Equipment (2), analytic accounts EXC-001 (2,
 * Equipment) and JOB-42 (3, Project), equipment category Heavy Equipment (1), equipment 1–4
 * (4 archived), projects Riverside Tower (2, account 4) and Harbor Bridge (3, account 5).
 */
export const ODOOLAB_REC_SEED: OdooSeed = {
  analyticGroup: true,
  records: [
    { model: 'account.analytic.plan', values: { id: 2, name: 'Equipment', parent_id: false } },
    {
      model: 'account.analytic.account',
      values: {
        id: 2,
        name: 'EXC-001 CAT 320 Excavator',
        code: 'EXC-001',
        plan_id: 2,
        company_id: false,
        active: true,
      },
    },
    {
      model: 'account.analytic.account',
      values: {
        id: 3,
        name: 'Job Site 42 - Riverside',
        code: 'JOB-42',
        plan_id: 1,
        company_id: false,
        active: true,
      },
    },
    {
      model: 'account.analytic.account',
      values: { id: 4, name: 'Riverside Tower', code: false, plan_id: 1, company_id: false, active: true },
    },
    {
      model: 'account.analytic.account',
      values: { id: 5, name: 'Harbor Bridge', code: false, plan_id: 1, company_id: false, active: true },
    },
    { model: 'maintenance.equipment.category', values: { id: 1, name: 'Heavy Equipment' } },
    ...(
      [
        [1, 'CAT 320 Excavator', 'EXC-0042', true],
        [2, 'CAT 950 Wheel Loader', 'LDR-0007', true],
        [3, 'Bobcat S650 Skid Steer', 'SKS-0113', true],
        [4, 'CAT 305 Mini Excavator', 'MEX-0005', false],
      ] as const
    ).map(([id, name, serial_no, active]) => ({
      model: 'maintenance.equipment',
      values: { id, name, serial_no, category_id: 1, active, write_date: AT },
    })),
    { model: 'project.project', values: { id: 1, write_date: '2026-11-30 23:01:57' } },
    {
      model: 'project.project',
      values: {
        id: 2,
        name: 'Riverside Tower',
        account_id: 4,
        allow_timesheets: true,
        active: true,
        write_date: AT,
      },
    },
    {
      model: 'project.project',
      values: {
        id: 3,
        name: 'Harbor Bridge',
        account_id: 5,
        allow_timesheets: true,
        active: true,
        write_date: '2026-11-30 23:07:55',
      },
    },
  ],
};
