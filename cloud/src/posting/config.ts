/**
 * Posting configuration. Secrets (`odoo.apiKey`) come from the environment, mapped by the
 * cloud's config loader (ODOO_URL, ODOO_DB, ODOO_LOGIN, ODOO_API_KEY / ODOO_API_KEY_FILE).
 * Without `odoo`, posting is a dry run that writes the calls it would make to `journalPath`.
 */
import cron from 'node-cron';
import { z } from 'zod';

/**
 * A name or secret that may look like a number: `db: 2024` in YAML, or
 * `IRONLEDGER_CLOUD_POSTING__ODOO__DB=2024`, reads back as a number; a whole number that is
 * exactly representable is taken as its digits. (ODOO_DB, ODOO_LOGIN and ODOO_API_KEY are
 * always read as strings.) A longer all-digit value must be quoted in YAML.
 */
const textual = () =>
  z.preprocess(
    (v) => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? String(v) : v),
    z.string({ error: 'a string (quote an all-digit value in YAML)' }).min(1),
  );

export const OdooConnectionSchema = z
  .object({
    url: z.string().url(),
    db: textual(),
    login: textual(),
    apiKey: textual(),
    /** `auto` asks the server its version and prefers /json/2 on Odoo 19+. */
    api: z.enum(['auto', 'json2', 'jsonrpc']).default('auto'),
    timeoutMs: z.number().int().positive().default(30_000), // 30 s per HTTP call
    /** The API key's name in Odoo (res.users.apikeys), to watch its expiry; else the soonest to expire. */
    apiKeyName: z.string().min(1).optional(),
    /** `ironledger status` warns this many days before the API key expires. */
    apiKeyWarnDays: z.number().int().positive().default(14),
    retries: z.number().int().nonnegative().default(4),
  })
  .strict();

export const PostingAccountsSchema = z
  .object({
    /** account.account debited with the cost (move target). */
    expenseAccountId: z.number().int().positive(),
    /** account.account credited: the equipment cost recovered from the project. */
    recoveryAccountId: z.number().int().positive(),
    /** account.journal (a miscellaneous journal). */
    journalId: z.number().int().positive(),
    /**
     * Internal rental (Vista EM): account.account credited with the equipment's rental revenue,
     * on the unit's Equipment-plan analytic account, instead of `recoveryAccountId`. The job's
     * debit line then carries the project's account alone, so the machine's earnings and the
     * project's equipment cost both read true. Needs `equipmentPlanField`.
     */
    equipmentRevenueAccountId: z.number().int().positive().optional(),
  })
  .strict();

export const PostingProjectSchema = z
  .object({
    analyticAccountId: z.number().int().positive().optional(),
    /** project.project name to look up in Odoo when no analytic account id is given. */
    odooProjectName: z.string().min(1).optional(),
  })
  .strict();

export const PostingConfigSchema = z
  .object({
    target: z.enum(['analytic', 'move']).default('analytic'),
    journalPath: z.string().min(1).default('./var/odoo-journal.jsonl'),
    odoo: OdooConnectionSchema.optional(),
    accounts: PostingAccountsSchema.optional(),
    /** Post journal entries (`action_post`) or leave them draft. */
    movePost: z.boolean().default(true),
    /** account.analytic.line column of the Equipment plan, e.g. `x_plan2_id`. */
    equipmentPlanField: z
      .string()
      .regex(/^x_plan\d+_id$|^[a-z_][a-z0-9_]*$/, 'a field name such as x_plan2_id')
      .optional(),
    projects: z.record(z.string(), PostingProjectSchema).default({}),
    /** Records per `create` call. */
    batchSize: z.number().int().min(1).max(500).default(50),
    /**
     * When to read master data from Odoo (maintenance.equipment, project.project) into
     * IronLedger, as `ironledger sync` does: a cron expression, '' = only on demand.
     */
    syncCron: z
      .string()
      .default('')
      .refine((c) => c.trim() === '' || cron.validate(c), 'a cron expression such as "7 * * * *", or \'\''),
    /** How long master data (projects, equipment, lock date) read from Odoo stays fresh. */
    masterDataRefreshMs: z
      .number()
      .int()
      .nonnegative()
      .default(5 * 60_000), // 5 min
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.target === 'move' && c.odoo && !c.accounts) {
      ctx.addIssue({
        code: 'custom',
        path: ['accounts'],
        message: 'target "move" needs accounts.{expenseAccountId, recoveryAccountId, journalId}',
      });
    }
    if (c.accounts?.equipmentRevenueAccountId && !c.equipmentPlanField) {
      ctx.addIssue({
        code: 'custom',
        path: ['equipmentPlanField'],
        message:
          'accounts.equipmentRevenueAccountId credits each unit on its Equipment-plan analytic account: set equipmentPlanField (e.g. x_plan2_id)',
      });
    }
  });

export type PostingConfig = z.infer<typeof PostingConfigSchema>;
export type PostingConfigInput = z.input<typeof PostingConfigSchema>;
export type OdooConnection = z.infer<typeof OdooConnectionSchema>;
