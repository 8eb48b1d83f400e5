/**
 * Field metadata as Odoo 19 reports it through fields_get (account.analytic.line with the
 * hr_timesheet and project modules installed; the lock-date fields of res.company).
 */
import type { FieldDef } from './orm.js';

export const ANALYTIC_LINE_FIELDS: Array<[string, FieldDef]> = [
  ['id', { type: 'integer', string: 'ID', required: false, readonly: true }],
  ['display_name', { type: 'char', string: 'Display Name', required: false, readonly: true }],
  [
    'account_id',
    {
      type: 'many2one',
      string: 'Project Account',
      required: false,
      readonly: false,
      relation: 'account.analytic.account',
    },
  ],
  [
    'auto_account_id',
    {
      type: 'many2one',
      string: 'Analytic Account',
      required: false,
      readonly: false,
      relation: 'account.analytic.account',
    },
  ],
  ['name', { type: 'char', string: 'Description', required: true, readonly: false }],
  ['date', { type: 'date', string: 'Date', required: true, readonly: false }],
  ['amount', { type: 'monetary', string: 'Amount', required: true, readonly: false }],
  ['unit_amount', { type: 'float', string: 'Quantity', required: false, readonly: false }],
  [
    'product_uom_id',
    { type: 'many2one', string: 'Unit', required: false, readonly: false, relation: 'uom.uom' },
  ],
  [
    'partner_id',
    { type: 'many2one', string: 'Partner', required: false, readonly: false, relation: 'res.partner' },
  ],
  ['user_id', { type: 'many2one', string: 'User', required: false, readonly: false, relation: 'res.users' }],
  [
    'company_id',
    { type: 'many2one', string: 'Company', required: true, readonly: true, relation: 'res.company' },
  ],
  [
    'currency_id',
    { type: 'many2one', string: 'Currency', required: false, readonly: true, relation: 'res.currency' },
  ],
  ['category', { type: 'selection', string: 'Category', required: false, readonly: false }],
  ['fiscal_year_search', { type: 'boolean', string: 'Fiscal Year Search', required: false, readonly: false }],
  [
    'analytic_distribution',
    { type: 'json', string: 'Analytic Distribution', required: false, readonly: false },
  ],
  ['analytic_precision', { type: 'integer', string: 'Analytic Precision', required: false, readonly: false }],
  [
    'create_uid',
    { type: 'many2one', string: 'Created by', required: false, readonly: true, relation: 'res.users' },
  ],
  ['create_date', { type: 'datetime', string: 'Created on', required: false, readonly: true }],
  [
    'write_uid',
    { type: 'many2one', string: 'Last Updated by', required: false, readonly: true, relation: 'res.users' },
  ],
  ['write_date', { type: 'datetime', string: 'Last Updated on', required: false, readonly: true }],
  [
    'product_id',
    { type: 'many2one', string: 'Product', required: false, readonly: false, relation: 'product.product' },
  ],
  [
    'general_account_id',
    {
      type: 'many2one',
      string: 'Financial Account',
      required: false,
      readonly: false,
      relation: 'account.account',
    },
  ],
  [
    'journal_id',
    {
      type: 'many2one',
      string: 'Financial Journal',
      required: false,
      readonly: true,
      relation: 'account.journal',
    },
  ],
  [
    'move_line_id',
    {
      type: 'many2one',
      string: 'Journal Item',
      required: false,
      readonly: false,
      relation: 'account.move.line',
    },
  ],
  ['code', { type: 'char', string: 'Code', required: false, readonly: false }],
  ['ref', { type: 'char', string: 'Ref.', required: false, readonly: false }],
  [
    'task_id',
    { type: 'many2one', string: 'Task', required: false, readonly: false, relation: 'project.task' },
  ],
  [
    'parent_task_id',
    { type: 'many2one', string: 'Parent Task', required: false, readonly: true, relation: 'project.task' },
  ],
  [
    'project_id',
    { type: 'many2one', string: 'Project', required: false, readonly: false, relation: 'project.project' },
  ],
  [
    'employee_id',
    { type: 'many2one', string: 'Employee', required: false, readonly: false, relation: 'hr.employee' },
  ],
  ['job_title', { type: 'char', string: 'Job Title', required: false, readonly: true }],
  [
    'department_id',
    { type: 'many2one', string: 'Department', required: false, readonly: true, relation: 'hr.department' },
  ],
  [
    'manager_id',
    { type: 'many2one', string: 'Manager', required: false, readonly: true, relation: 'hr.employee' },
  ],
  [
    'encoding_uom_id',
    { type: 'many2one', string: 'Encoding Uom', required: false, readonly: true, relation: 'uom.uom' },
  ],
  ['readonly_timesheet', { type: 'boolean', string: 'Readonly Timesheet', required: false, readonly: true }],
  [
    'milestone_id',
    { type: 'many2one', string: 'Milestone', required: false, readonly: true, relation: 'project.milestone' },
  ],
  [
    'message_partner_ids',
    {
      type: 'many2many',
      string: 'Message Partner',
      required: false,
      readonly: true,
      relation: 'res.partner',
    },
  ],
  [
    'calendar_display_name',
    { type: 'char', string: 'Calendar Display Name', required: false, readonly: true },
  ],
];

export const COMPANY_LOCK_FIELDS: Array<[string, FieldDef]> = [
  [
    'fiscalyear_lock_date',
    {
      type: 'date',
      string: 'Global Lock Date',
      required: false,
      readonly: false,
      help: "Any entry up to and including that date will be postponed to a later time, in accordance with its journal's sequence.",
    },
  ],
  [
    'sale_lock_date',
    {
      type: 'date',
      string: 'Sales Lock Date',
      required: false,
      readonly: false,
      help: "Any sales entry prior to and including this date will be postponed to a later date, in accordance with its journal's sequence.",
    },
  ],
  [
    'purchase_lock_date',
    {
      type: 'date',
      string: 'Purchase Lock date',
      required: false,
      readonly: false,
      help: "Any purchase entry prior to and including this date will be postponed to a later date, in accordance with its journal's sequence.",
    },
  ],
  [
    'tax_lock_date',
    {
      type: 'date',
      string: 'Tax Return Lock Date',
      required: false,
      readonly: false,
      help: "Any entry with taxes up to and including that date will be postponed to a later time, in accordance with its journal's sequence. The tax lock date is automatically set when the tax closing entry is posted.",
    },
  ],
  [
    'hard_lock_date',
    {
      type: 'date',
      string: 'Hard Lock Date',
      required: false,
      readonly: false,
      help: 'Any entry up to and including that date will be postponed to a later time, in accordance with its journal sequence. This lock date is irreversible and does not allow any exception.',
    },
  ],
];
