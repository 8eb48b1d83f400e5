/**
 * Contract 3 configuration (`aemp:` in the cloud config): the AEMP 2.0 endpoint the cloud
 * serves, and the makers' feeds it polls. A feed is a virtual gateway: its `feedId` is the
 * gateway id its readings are stored under, and must not be a configured gateway's.
 */
import fs from 'node:fs';
import {
  AEMP_DIALECT_NAMES,
  AEMP_ELEMENTS,
  type AempDialectName,
  AempDialectSchema,
  GatewayIdSchema,
} from '@ironledger/contracts';
import { z } from 'zod';

const secret = (what: string) =>
  z
    .object({ value: z.string().min(1).optional(), file: z.string().min(1).optional() })
    .strict()
    .refine((s) => (s.value === undefined) !== (s.file === undefined), {
      message: `${what}: give exactly one of value or file`,
    });

export const AempAuthSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('none') }).strict(),
  z.object({ kind: z.literal('basic'), username: z.string().min(1), password: secret('password') }).strict(),
  /** A static API token sent as `Authorization: Bearer` (e.g. another IronLedger's viewer token). */
  z.object({ kind: z.literal('bearer'), token: secret('token') }).strict(),
  z
    .object({
      kind: z.literal('oauth2'),
      /** OAuth2 client-credentials token endpoint (RFC 6749 §4.4). */
      tokenUrl: z.url(),
      clientId: z.string().min(1),
      clientSecret: secret('clientSecret'),
      scope: z.string().optional(),
    })
    .strict(),
]);
export type AempAuth = z.infer<typeof AempAuthSchema>;

export const AempFeedConfigSchema = z
  .object({
    /** The virtual gateway id the feed's readings are stored under (also its status line). */
    feedId: GatewayIdSchema,
    /** Base URL of the feed: `{url}/Fleet/{page}` is its fleet snapshot. */
    url: z.url(),
    auth: AempAuthSchema.default({ kind: 'none' }),
    /** One of the named dialects (iso, json, zero-paged, index-page, idle-minutes, …). */
    dialect: z.enum(AEMP_DIALECT_NAMES as [AempDialectName, ...AempDialectName[]]).default('iso'),
    /** Overrides of single dialect hints (firstPage, idleUnit, namespace, …). */
    hints: AempDialectSchema.partial().default({}),
    /** Seconds between polls; makers allow about one request per URL per 15 min. */
    pollIntervalS: z.number().int().positive().default(900), // 15 min
    /** Client-side budget: at most `requests` per `perS` seconds, whatever the feed says. */
    quota: z
      .object({ requests: z.number().int().positive(), perS: z.number().positive() })
      .strict()
      .default({ requests: 50, perS: 1 }),
    /** Fetch time series (every reading) after each snapshot, when the feed offers them. */
    timeSeries: z.boolean().default(true),
    /** Elements read (a reading needs CumulativeOperatingHours). */
    elements: z
      .array(z.enum(AEMP_ELEMENTS))
      .min(1)
      .default([...AEMP_ELEMENTS])
      .refine((e) => e.includes('CumulativeOperatingHours'), 'must include CumulativeOperatingHours'),
    /** First poll: how far back time series are read (hours). */
    backfillHours: z.number().positive().default(168), // 7 days
    /** The site whose time zone and geofences apply (else each unit's siteId). */
    siteId: z.string().min(1).optional(),
    /** Stops paging after this many pages of one listing (a feed that links in a loop). */
    maxPages: z.number().int().positive().default(1000),
    /** Largest response body read (bytes). */
    maxBodyBytes: z
      .number()
      .int()
      .positive()
      .default(16 * 1024 * 1024), // 16 MiB
    /** One request's time limit (ms). */
    timeoutMs: z.number().int().positive().default(30_000), // 30 s
    /** Longest Retry-After honoured before the poll gives up until the next one (s). */
    maxRetryAfterS: z.number().int().positive().default(3600), // 1 h
  })
  .strict();
export type AempFeedConfig = z.infer<typeof AempFeedConfigSchema>;

export const AempConfigSchema = z
  .object({
    serve: z
      .object({
        /** Serve `/aemp/2.0/...` (viewer token). */
        enabled: z.boolean().default(true),
        /** Machines per fleet page and instants per time-series page (ISO: about 100). */
        pageSize: z.number().int().positive().max(1000).default(100),
        /** Absolute base of the Links hrefs; default: from the request's Host header. */
        baseUrl: z.url().optional(),
      })
      .strict()
      .default({ enabled: true, pageSize: 100 }),
    feeds: z.array(AempFeedConfigSchema).default([]),
  })
  .strict()
  .default({ serve: { enabled: true, pageSize: 100 }, feeds: [] });
export type AempConfig = z.infer<typeof AempConfigSchema>;

/** A secret's value: inline, or read from its file (trailing newline dropped). */
export function secretValue(s: { value?: string | undefined; file?: string | undefined }): string {
  if (s.value !== undefined) return s.value;
  return fs.readFileSync(s.file as string, 'utf8').replace(/\r?\n$/, '');
}
