/**
 * `GET /v1/openapi.json`: an OpenAPI 3.1 description of the cloud's HTTP API, generated from
 * the zod contracts the routes validate with (`z.toJSONSchema`, JSON Schema 2020-12, which is
 * OpenAPI 3.1's schema dialect). Request bodies and query strings are described as the
 * schemas accept them (`io: 'input'`), answers as the server writes them (`io: 'output'`).
 *
 * One table, OPERATIONS, says per route who may call it and which schemas it speaks. The
 * document covers every route the router registers: a registered route missing from the
 * table is still listed (so the document never hides one) and `undocumentedRoutes` names it;
 * a test keeps that list empty. Unauthenticated; built once, on the first request.
 */
import {
  AempFeedsResponseSchema,
  AllocationFilterSchema,
  AllocationSchema,
  AllocationsResponseSchema,
  ApproveRequestSchema,
  AuditQuerySchema,
  AuditResponseSchema,
  BatchAnswerSchema,
  BatchSchema,
  BillUnverifiedRequestSchema,
  BillUnverifiedResponseSchema,
  ConflictResolveRequestSchema,
  ConflictSchema,
  ConflictsQuerySchema,
  ConflictsResponseSchema,
  ConsolidateRequestSchema,
  ConsolidateResponseSchema,
  DeadLettersResponseSchema,
  DecisionResponseSchema,
  EvidenceResponseSchema,
  HeartbeatSchema,
  HeldQuerySchema,
  HeldReadingsResponseSchema,
  HeldReleaseRequestSchema,
  HeldReleaseResponseSchema,
  OdooStatusResponseSchema,
  OdooSyncResponseSchema,
  PeriodLockResponseSchema,
  PeriodQuerySchema,
  PeriodsResponseSchema,
  PostRequestSchema,
  PostResponseSchema,
  ProblemSchema,
  ProjectSchema,
  ProjectsResponseSchema,
  RateSchema,
  RatesResponseSchema,
  ReconcileResponseSchema,
  RejectRequestSchema,
  ReopenRequestSchema,
  ReplayRequestSchema,
  ReportResponseSchema,
  type Role,
  SiteSchema,
  SitesResponseSchema,
  StatusResponseSchema,
  TokenCreateRequestSchema,
  TokenCreateResponseSchema,
  TokensResponseSchema,
  UnitSchema,
  UnitsResponseSchema,
  UpsertResponseSchema,
  UsageQuerySchema,
  UsageResponseSchema,
  VerifyQuerySchema,
  VerifyResponseSchema,
} from '@ironledger/contracts';
import { z } from 'zod';
import { VERSION } from '../../version.js';
import type { Router } from '../router.js';

/** Who may call a route: a person's role, a gateway's token, or anyone (health, metrics). */
type Caller = Role | 'gateway' | 'public';

interface Operation {
  summary: string;
  caller: Caller;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** Status of the success answer (200 unless said). */
  status?: number;
  /** The success answer's JSON; absent for text answers. */
  answer?: z.ZodType;
  /** A non-JSON success answer (e.g. Prometheus exposition). */
  text?: string;
}

const HeartbeatAnswerSchema = z.object({ gatewayId: z.string(), receivedAt: z.string() });
const TokenRevokeAnswerSchema = z.object({ id: z.string(), revoked: z.literal(true), changed: z.boolean() });

const master = (kind: string, item: z.ZodType, list: z.ZodType): Record<string, Operation> => ({
  [`GET /v1/${kind}`]: { summary: `List ${kind}`, caller: 'viewer', answer: list },
  [`POST /v1/${kind}`]: {
    summary: `Create or update one of the ${kind} (by id)`,
    caller: 'admin',
    body: item,
    answer: UpsertResponseSchema,
  },
});

/** Every route, keyed `METHOD pattern` exactly as the router registers it. */
export const OPERATIONS: Record<string, Operation> = {
  'GET /healthz': { summary: 'Liveness', caller: 'public', answer: z.object({ ok: z.literal(true) }) },
  'GET /readyz': {
    summary: 'Readiness: the store answers and the process is not stopping (503 otherwise)',
    caller: 'public',
    answer: z.object({ ready: z.literal(true) }),
  },
  'GET /metrics': { summary: 'Prometheus metrics', caller: 'public', text: 'text/plain; version=0.0.4' },
  'GET /v1/openapi.json': { summary: 'This document', caller: 'public', answer: z.object({}).loose() },
  'POST /v1/batches': {
    summary: 'A gateway batch of readings (Contract 2), gzip or identity; 200 only once durably stored',
    caller: 'gateway',
    body: BatchSchema,
    answer: BatchAnswerSchema,
  },
  'POST /v1/gateways/:gatewayId/heartbeat': {
    summary: "A gateway's backlog figures",
    caller: 'gateway',
    body: HeartbeatSchema,
    answer: HeartbeatAnswerSchema,
  },
  'GET /v1/status': {
    summary: 'Gateways, silent units, pipeline figures',
    caller: 'viewer',
    answer: StatusResponseSchema,
  },
  'GET /v1/usage': {
    summary: 'Usage per unit, site-local day and project',
    caller: 'viewer',
    query: UsageQuerySchema,
    answer: UsageResponseSchema,
  },
  'POST /v1/consolidate': {
    summary: 'Consolidate dirty units now (all: every unit)',
    caller: 'approver',
    body: ConsolidateRequestSchema,
    answer: ConsolidateResponseSchema,
  },
  'GET /v1/report': {
    summary: "A period's report figures",
    caller: 'viewer',
    query: PeriodQuerySchema,
    answer: ReportResponseSchema,
  },
  'GET /v1/allocations': {
    summary: 'Allocations',
    caller: 'viewer',
    query: AllocationFilterSchema,
    answer: AllocationsResponseSchema,
  },
  'GET /v1/allocations/:id': {
    summary: 'One allocation by id or key',
    caller: 'viewer',
    answer: AllocationSchema,
  },
  'GET /v1/evidence/:key': {
    summary:
      'One allocation (by key or id) with the readings, gaps, resets, status hours and rate lines behind it',
    caller: 'viewer',
    answer: EvidenceResponseSchema,
  },
  'POST /v1/evidence/:key/bill-unverified': {
    summary: "Bill an allocation's unverified hours (409 if they changed since the approver looked)",
    caller: 'approver',
    body: BillUnverifiedRequestSchema,
    answer: BillUnverifiedResponseSchema,
  },
  'GET /v1/aemp/feeds': {
    summary: 'Each configured AEMP 2.0 feed: last and next poll, quota left, errors, cursor',
    caller: 'viewer',
    answer: AempFeedsResponseSchema,
  },
  'GET /aemp/2.0/Fleet/:page': {
    summary: 'ISO 15143-3 fleet snapshot page (XML by default, JSON by Accept)',
    caller: 'viewer',
    text: 'application/xml',
  },
  'GET /aemp/2.0/Fleet/Equipment/:id': {
    summary: "ISO 15143-3 snapshot of one unit's latest usable reading",
    caller: 'viewer',
    text: 'application/xml',
  },
  'GET /aemp/2.0/Fleet/Equipment/:id/:element/:start/:end/:page': {
    summary: 'ISO 15143-3 time series of one element between two UTC instants, paged',
    caller: 'viewer',
    text: 'application/xml',
  },
  'GET /v1/verify': {
    summary: 'Every posted allocation: do the stored readings behind it still hash the same?',
    caller: 'viewer',
    query: VerifyQuerySchema,
    answer: VerifyResponseSchema,
  },
  'POST /v1/allocations/approve': {
    summary: 'Approve allocations (ids, filter or all)',
    caller: 'approver',
    body: ApproveRequestSchema,
    answer: DecisionResponseSchema,
  },
  'POST /v1/allocations/reject': {
    summary: 'Reject allocations with a reason',
    caller: 'approver',
    body: RejectRequestSchema,
    answer: DecisionResponseSchema,
  },
  'POST /v1/allocations/reopen': {
    summary: 'Send approved allocations back to pending, with a reason',
    caller: 'approver',
    body: ReopenRequestSchema,
    answer: DecisionResponseSchema,
  },
  'GET /v1/held': {
    summary: 'Readings held out of usage, and conflict versions',
    caller: 'viewer',
    query: HeldQuerySchema,
    answer: HeldReadingsResponseSchema,
  },
  'POST /v1/held/:id/release': {
    summary: 'Let a held reading into usage (rebased or as is), with a reason',
    caller: 'approver',
    body: HeldReleaseRequestSchema,
    answer: HeldReleaseResponseSchema,
  },
  'GET /v1/conflicts': {
    summary: 'Conflicting versions of one reading identity',
    caller: 'viewer',
    query: ConflictsQuerySchema,
    answer: ConflictsResponseSchema,
  },
  'POST /v1/conflicts/:id/resolve': {
    summary: 'Keep one version of a conflict, with a reason',
    caller: 'approver',
    body: ConflictResolveRequestSchema,
    answer: ConflictSchema,
  },
  'POST /v1/post': {
    summary: 'Post approved allocations to Odoo (dryRun: preview)',
    caller: 'approver',
    body: PostRequestSchema,
    answer: PostResponseSchema,
  },
  'GET /v1/deadletters': { summary: 'Dead letters', caller: 'viewer', answer: DeadLettersResponseSchema },
  'POST /v1/deadletters/replay': {
    summary: 'Replay dead letters (ids or all)',
    caller: 'approver',
    body: ReplayRequestSchema,
    answer: PostResponseSchema,
  },
  'GET /v1/reconcile': {
    summary: 'Local against Odoo per project for a period, to the cent',
    caller: 'viewer',
    query: PeriodQuerySchema,
    answer: ReconcileResponseSchema,
  },
  'POST /v1/master-data/sync': {
    summary: 'Read equipment and projects from Odoo (incremental): added, changed, unmatched',
    caller: 'admin',
    answer: OdooSyncResponseSchema,
  },
  'GET /v1/odoo/status': {
    summary: "The Odoo connection and its API key's expiry",
    caller: 'viewer',
    answer: OdooStatusResponseSchema,
  },
  ...master('sites', SiteSchema, SitesResponseSchema),
  ...master('projects', ProjectSchema, ProjectsResponseSchema),
  ...master('units', UnitSchema, UnitsResponseSchema),
  ...master('rates', RateSchema, RatesResponseSchema),
  'GET /v1/tokens': {
    summary: 'API tokens (never their values)',
    caller: 'admin',
    answer: TokensResponseSchema,
  },
  'POST /v1/tokens': {
    summary: 'Create an API token (its value is shown once)',
    caller: 'admin',
    body: TokenCreateRequestSchema,
    status: 201,
    answer: TokenCreateResponseSchema,
  },
  'DELETE /v1/tokens/:id': {
    summary: 'Revoke an API token',
    caller: 'admin',
    answer: TokenRevokeAnswerSchema,
  },
  'GET /v1/periods': { summary: 'Locked periods', caller: 'viewer', answer: PeriodsResponseSchema },
  'POST /v1/periods/:period/lock': {
    summary: 'Lock a period (YYYY-MM)',
    caller: 'admin',
    answer: PeriodLockResponseSchema,
  },
  'POST /v1/periods/:period/unlock': {
    summary: 'Unlock a period (YYYY-MM)',
    caller: 'admin',
    answer: PeriodLockResponseSchema,
  },
  'GET /v1/audit': {
    summary: 'Audit trail: who approved, rejected, posted what and why',
    caller: 'viewer',
    query: AuditQuerySchema,
    answer: AuditResponseSchema,
  },
};

type JsonSchema = Record<string, unknown>;

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

const openApiPath = (pattern: string) => pattern.replace(/:([A-Za-z]+)/g, '{$1}');

/** Registered routes that OPERATIONS does not describe (a test keeps this empty). */
export function undocumentedRoutes(routes: Array<{ method: string; pattern: string }>): string[] {
  return routes.map((r) => `${r.method} ${r.pattern}`).filter((k) => !(k in OPERATIONS));
}

export function buildOpenApiDocument(routes: Array<{ method: string; pattern: string }>): JsonSchema {
  const problem = {
    description: 'An error (RFC 9457 problem details with a stable `code`)',
    content: { 'application/problem+json': { schema: jsonSchema(ProblemSchema, 'output') } },
  };
  const paths: Record<string, Record<string, unknown>> = {};
  for (const { method, pattern } of routes) {
    const key = `${method} ${pattern}`;
    const op = OPERATIONS[key];
    const parameters: unknown[] = [...pattern.matchAll(/:([A-Za-z]+)/g)].map(([, name]) => ({
      name,
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    if (op?.query) {
      const q = jsonSchema(op.query, 'input') as {
        properties?: Record<string, unknown>;
        required?: string[];
      };
      for (const [name, schema] of Object.entries(q.properties ?? {}))
        parameters.push({ name, in: 'query', required: q.required?.includes(name) ?? false, schema });
    }
    const operation: Record<string, unknown> = {
      operationId: `${method.toLowerCase()}${pattern.replace(/[^A-Za-z0-9]+(.)?/g, (_, c?: string) => (c ?? '').toUpperCase())}`,
      summary: op?.summary ?? 'not described yet',
      ...(op ? { 'x-ironledger-caller': op.caller } : { 'x-ironledger-undocumented': true }),
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(op?.body
        ? {
            requestBody: {
              required: op.caller === 'gateway',
              content: { 'application/json': { schema: jsonSchema(op.body, 'input') } },
            },
          }
        : {}),
      responses: {
        [String(op?.status ?? 200)]: {
          description: 'success',
          ...(op?.answer
            ? { content: { 'application/json': { schema: jsonSchema(op.answer, 'output') } } }
            : op?.text
              ? { content: { [op.text]: { schema: { type: 'string' } } } }
              : {}),
        },
        default: problem,
      },
      ...(op && op.caller !== 'public'
        ? { security: [{ [op.caller === 'gateway' ? 'gatewayToken' : 'personToken']: [] }] }
        : {}),
    };
    paths[openApiPath(pattern)] = { ...paths[openApiPath(pattern)], [method.toLowerCase()]: operation };
  }
  return {
    openapi: '3.1.1',
    info: {
      title: 'IronLedger cloud',
      version: VERSION,
      description:
        'Gateways post batches and heartbeats (Contract 2); people use the admin API with a token whose role ' +
        '(viewer < approver < admin, `x-ironledger-caller`) the server enforces: 401 unknown or revoked token, ' +
        '403 role too low.',
    },
    paths,
    components: {
      securitySchemes: {
        gatewayToken: { type: 'http', scheme: 'bearer', description: "A gateway's token" },
        personToken: { type: 'http', scheme: 'bearer', description: 'A viewer, approver or admin token' },
      },
    },
  };
}

/** Registers `GET /v1/openapi.json`; call it after every other route is registered. */
export function openApiRoutes(router: Router): void {
  let document: string | null = null;
  router.on('GET', '/v1/openapi.json', () => {
    document ??= JSON.stringify(buildOpenApiDocument(router.list()));
    return { status: 200, text: document, contentType: 'application/json; charset=utf-8' };
  });
}
