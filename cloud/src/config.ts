/**
 * The cloud's configuration: one strict zod schema with defaults. Precedence is
 * defaults < file < environment (`IRONLEDGER_CLOUD_A__B` → `a.b`; ODOO_* → posting.odoo.*;
 * DATABASE_URL → store.url).
 * Validated once at start-up; every problem is listed by its key; the result is frozen.
 */
import { formatIssues, loadConfig } from '@ironledger/config';
import {
  GatewayIdSchema,
  ProjectSchema,
  RateSchema,
  RoleSchema,
  SiteSchema,
  UnitSchema,
} from '@ironledger/contracts';
import { IronLedgerError } from '@ironledger/errors';
import cron from 'node-cron';
import { z } from 'zod';
import { AempConfigSchema } from './aemp/config.js';
import { PostingConfigSlot } from './posting-config.js';

export const TOKEN_HASH_PATTERN = /^sha256:[0-9a-f]{64}$/;
const TokenHashSchema = z
  .string()
  .regex(TOKEN_HASH_PATTERN, 'a token hash as sha256:<64 hex digits> (see `ironledger-cloud hash-token`)');

export const GatewayConfigSchema = z
  .object({
    gatewayId: GatewayIdSchema,
    tokenHash: TokenHashSchema,
    /** The site whose time zone and geofences apply to this gateway's readings. */
    siteId: z.string().min(1).optional(),
  })
  .strict();
export type GatewayConfig = z.infer<typeof GatewayConfigSchema>;

/**
 * Where the cloud keeps its state. Without `url`, one SQLite file at `path` (one process).
 * With `url: postgres://…`, PostgreSQL, and any number of replicas may share it.
 */
export const StoreConfigSchema = z
  .object({
    path: z.string().min(1).default('./var/cloud.db'),
    /** postgres://user:password@host:5432/db; empty = SQLite at `path`. Also DATABASE_URL. */
    url: z
      .string()
      .default('')
      .refine(
        (u) => u === '' || /^postgres(ql)?:\/\/[^\s]+$/.test(u),
        'a postgres:// or postgresql:// URL, or empty for SQLite',
      ),
    /** Connections per replica (PostgreSQL only). */
    poolMax: z.number().int().min(1).max(100).default(10),
    /** Apply pending schema migrations at start-up (else only `ironledger-cloud migrate` does). */
    migrateOnStart: z.boolean().default(true),
    /** SQLite: batches are stored by a writer thread on its own connection (the second core). */
    ingestThread: z.boolean().default(true),
    /** A PostgreSQL statement running longer than this is cancelled (ms; 0 = no limit). */
    statementTimeoutMs: z
      .number()
      .int()
      .min(0)
      .default(60 * 1000), // 60 s
    /**
     * How long a replica's claim on a dirty unit's consolidation lasts; a replica that dies
     * mid-run leaves the unit to another after this (ms).
     */
    consolidationLeaseMs: z
      .number()
      .int()
      .min(1000)
      .default(2 * 60 * 1000), // 2 min
    /**
     * How long a replica's claim on an allocation's posting lasts: longer than Odoo's slowest
     * answer with its retries; a replica that dies mid-post leaves the allocation to another,
     * which looks it up in Odoo by its ref before sending it again (ms).
     */
    postingLeaseMs: z
      .number()
      .int()
      .min(1000)
      .default(10 * 60 * 1000), // 10 min
  })
  .strict();
export type StoreConfig = z.output<typeof StoreConfigSchema>;
const STORE_DEFAULTS = {
  path: './var/cloud.db',
  url: '',
  poolMax: 10,
  migrateOnStart: true,
  ingestThread: true,
  statementTimeoutMs: 60 * 1000,
  consolidationLeaseMs: 2 * 60 * 1000,
  postingLeaseMs: 10 * 60 * 1000,
};

export const CloudConfigSchema = z
  .object({
    http: z
      .object({
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(8080),
        /** Upper bound on a request body, compressed and decompressed alike (bytes). */
        bodyLimitBytes: z
          .number()
          .int()
          .positive()
          .default(16 * 1024 * 1024), // 16 MiB
        /** Ingests in flight beyond this are answered 503 with Retry-After. */
        maxConcurrentIngests: z.number().int().positive().default(8),
        /** Seconds a client is told to wait when the cloud is overloaded. */
        retryAfterS: z.number().int().positive().default(5),
        /** A request body not fully received within this is answered 408 and the connection closed (ms). */
        bodyTimeoutMs: z.number().int().positive().default(30_000), // 30 s
        /** Ingests one gateway may have in flight; the rest of the slots stay free for the others. */
        maxIngestsPerGateway: z.number().int().positive().default(4),
        /** Serve HTTPS with these PEM files instead of plain HTTP. */
        tls: z
          .object({ certFile: z.string().min(1), keyFile: z.string().min(1) })
          .strict()
          .optional(),
      })
      .strict()
      .default({
        host: '127.0.0.1',
        port: 8080,
        bodyLimitBytes: 16 * 1024 * 1024,
        maxConcurrentIngests: 8,
        retryAfterS: 5,
        bodyTimeoutMs: 30_000,
        maxIngestsPerGateway: 4,
      }),
    store: StoreConfigSchema.default(STORE_DEFAULTS),
    gateways: z.array(GatewayConfigSchema).default([]),
    auth: z
      .object({
        tokens: z
          .array(z.object({ name: z.string().min(1), role: RoleSchema, tokenHash: TokenHashSchema }).strict())
          .default([]),
      })
      .strict()
      .default({ tokens: [] }),
    sites: z.array(SiteSchema).default([]),
    projects: z.array(ProjectSchema).default([]),
    units: z.array(UnitSchema).default([]),
    rates: z.array(RateSchema).default([]),
    allocation: z
      .object({ granularity: z.literal('day').default('day') })
      .strict()
      .default({ granularity: 'day' }),
    consolidation: z
      .object({
        /** node-cron expression; empty string disables the schedule (on demand only). */
        cron: z.string().default('*/5 * * * *'),
        /** A unit (or gateway) not heard from for this long is listed as silent/stale (s). */
        silentUnitAfterS: z
          .number()
          .int()
          .positive()
          .default(6 * 3600), // 6 h
      })
      .strict()
      .default({ cron: '*/5 * * * *', silentUnitAfterS: 6 * 3600 }),
    posting: PostingConfigSlot,
    /** Contract 3: the AEMP 2.0 endpoint served and the makers' feeds polled. */
    aemp: AempConfigSchema,
    log: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      })
      .strict()
      .default({ level: 'info' }),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.consolidation.cron.trim() !== '' && !cron.validate(c.consolidation.cron))
      ctx.addIssue({
        code: 'custom',
        path: ['consolidation', 'cron'],
        message: `not a cron expression: ${c.consolidation.cron}`,
      });
    const siteIds = new Set(c.sites.map((s) => s.siteId));
    const projectIds = new Set(c.projects.map((p) => p.projectId));
    const dup = (list: string[], key: string, field: string) => {
      const seen = new Set<string>();
      list.forEach((id, i) => {
        if (seen.has(id))
          ctx.addIssue({ code: 'custom', path: [key, i, field], message: `duplicate ${field} ${id}` });
        seen.add(id);
      });
    };
    dup(
      c.gateways.map((g) => g.gatewayId),
      'gateways',
      'gatewayId',
    );
    dup(
      c.sites.map((s) => s.siteId),
      'sites',
      'siteId',
    );
    dup(
      c.units.map((u) => u.unitId),
      'units',
      'unitId',
    );
    dup(
      c.auth.tokens.map((t) => t.name),
      'auth',
      'tokens.name',
    );
    c.gateways.forEach((g, i) => {
      if (g.siteId !== undefined && !siteIds.has(g.siteId))
        ctx.addIssue({
          code: 'custom',
          path: ['gateways', i, 'siteId'],
          message: `unknown site ${g.siteId}`,
        });
    });
    const gatewayIds = new Set(c.gateways.map((g) => g.gatewayId));
    c.aemp.feeds.forEach((f, i) => {
      if (gatewayIds.has(f.feedId))
        ctx.addIssue({
          code: 'custom',
          path: ['aemp', 'feeds', i, 'feedId'],
          message: `feed ${f.feedId} has a configured gateway's id`,
        });
      if (f.siteId !== undefined && !siteIds.has(f.siteId))
        ctx.addIssue({
          code: 'custom',
          path: ['aemp', 'feeds', i, 'siteId'],
          message: `unknown site ${f.siteId}`,
        });
    });
    dup(
      c.aemp.feeds.map((f) => f.feedId),
      'aemp',
      'feeds.feedId',
    );
    c.units.forEach((u, i) => {
      if (u.siteId !== undefined && !siteIds.has(u.siteId))
        ctx.addIssue({ code: 'custom', path: ['units', i, 'siteId'], message: `unknown site ${u.siteId}` });
    });
    if (c.projects.length > 0) {
      c.sites.forEach((s, i) => {
        if (!projectIds.has(s.defaultProjectId))
          ctx.addIssue({
            code: 'custom',
            path: ['sites', i, 'defaultProjectId'],
            message: `unknown project ${s.defaultProjectId}`,
          });
        s.geofences.forEach((g, j) => {
          if (!projectIds.has(g.projectId))
            ctx.addIssue({
              code: 'custom',
              path: ['sites', i, 'geofences', j, 'projectId'],
              message: `unknown project ${g.projectId}`,
            });
        });
      });
    }
  });
export type CloudConfig = z.output<typeof CloudConfigSchema>;
export type CloudConfigInput = z.input<typeof CloudConfigSchema>;

export const ENV_PREFIX = 'IRONLEDGER_CLOUD';
/** Variables that do not follow the prefix rule; `NAME_FILE` is honoured for each. */
export const ENV_MAP: Record<string, string> = {
  ODOO_URL: 'posting.odoo.url',
  ODOO_DB: 'posting.odoo.db',
  ODOO_LOGIN: 'posting.odoo.login',
  ODOO_API_KEY: 'posting.odoo.apiKey',
  DATABASE_URL: 'store.url',
};

export function loadCloudConfig(file: string | undefined, env: NodeJS.ProcessEnv): CloudConfig {
  return loadConfig(CloudConfigSchema, { file, env, envPrefix: ENV_PREFIX, envMap: ENV_MAP }) as CloudConfig;
}

/** Parses an in-memory config (tests, embedding): defaults applied, problems listed. */
export function parseCloudConfig(input: CloudConfigInput): CloudConfig {
  const r = CloudConfigSchema.safeParse(input);
  if (!r.success) {
    const lines = formatIssues(r.error.issues);
    throw new IronLedgerError('CONFIG_INVALID', `invalid configuration:\n  ${lines.join('\n  ')}`, {
      details: { problems: lines },
    });
  }
  return r.data;
}
