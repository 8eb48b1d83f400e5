/**
 * Master data (GET viewer, POST admin), API tokens, period locks and the audit trail.
 * Site and rate changes re-open every unit for consolidation: attribution and prices depend
 * on them (posted allocations are still never edited; differences become adjustments).
 */
import { randomBytes } from 'node:crypto';
import {
  PeriodSchema,
  ProjectSchema,
  RateSchema,
  SiteSchema,
  TokenCreateRequestSchema,
  UnitSchema,
  type UpsertResponse,
} from '@ironledger/contracts';
import { z } from 'zod';
import type { ConsolidationRunner } from '../../consolidation/consolidation-runner.js';
import type { AppContext } from '../../context.js';
import { hashToken, requireRole } from '../auth.js';
import { readJson, readQuery } from '../json.js';
import { HttpProblem } from '../problem.js';
import type { Router } from '../router.js';

export function adminRoutes(router: Router, app: AppContext, runner: ConsolidationRunner): void {
  const at = () => new Date(app.now()).toISOString();

  const master = <S extends z.ZodType>(
    path: string,
    kind: UpsertResponse['kind'],
    listKey: string,
    schema: S,
    idOf: (x: z.output<S>) => string,
    exists: (id: string) => boolean,
    upsert: (x: z.output<S>) => Promise<void>,
    list: () => Promise<unknown[]>,
    validate: (x: z.output<S>) => string | null,
    reopensAll: boolean,
  ) => {
    router.on('GET', path, async (ctx) => {
      await requireRole(ctx.req, app.tokens, 'viewer');
      return { status: 200, body: { [listKey]: await list() } };
    });
    router.on('POST', path, async (ctx) => {
      const who = await requireRole(ctx.req, app.tokens, 'admin');
      const item = await readJson(ctx, schema);
      const problem = validate(item);
      if (problem)
        throw new HttpProblem(422, 'MASTER_DATA_INVALID', problem, { title: 'inconsistent master data' });
      const id = idOf(item);
      const created = !exists(id);
      await upsert(item);
      await app.store.audit(
        {
          actor: who.name,
          action: `${kind}.${created ? 'create' : 'update'}`,
          target: id,
          detail: JSON.stringify(item),
        },
        at(),
      );
      await app.master.reload();
      if (reopensAll) await runner.markAll();
      const body: UpsertResponse = { kind, id, created };
      return { status: created ? 201 : 200, body };
    });
  };

  master(
    '/v1/sites',
    'site',
    'sites',
    SiteSchema,
    (s) => s.siteId,
    (id) => app.master.sites.has(id),
    (s) => app.store.upsertSite(s),
    () => app.store.listSites(),
    (s) => {
      if (app.master.projects.size === 0) return null;
      const missing = [s.defaultProjectId, ...s.geofences.map((g) => g.projectId)].filter(
        (p) => !app.master.projects.has(p),
      );
      return missing.length ? `unknown project(s): ${[...new Set(missing)].join(', ')}` : null;
    },
    true,
  );
  master(
    '/v1/projects',
    'project',
    'projects',
    ProjectSchema,
    (p) => p.projectId,
    (id) => app.master.projects.has(id),
    (p) => app.store.upsertProject(p),
    () => app.store.listProjects(),
    () => null,
    false,
  );
  master(
    '/v1/units',
    'unit',
    'units',
    UnitSchema,
    (u) => u.unitId,
    (id) => app.master.units.has(id),
    (u) => app.store.upsertUnit(u),
    () => app.store.listUnits(),
    (u) => (u.siteId !== undefined && !app.master.sites.has(u.siteId) ? `unknown site ${u.siteId}` : null),
    true,
  );
  master(
    '/v1/rates',
    'rate',
    'rates',
    RateSchema,
    (r) => r.rateId,
    (id) => app.master.rates.some((r) => r.rateId === id),
    (r) => app.store.upsertRate(r),
    () => app.store.listRates(),
    () => null,
    true,
  );

  // ---- tokens --------------------------------------------------------------------------
  router.on('GET', '/v1/tokens', async (ctx) => {
    await requireRole(ctx.req, app.tokens, 'admin');
    const tokens = (await app.store.listTokens()).map(({ tokenHash: _h, ...t }) => t);
    return { status: 200, body: { tokens } };
  });
  router.on('POST', '/v1/tokens', async (ctx) => {
    const who = await requireRole(ctx.req, app.tokens, 'admin');
    const req = await readJson(ctx, TokenCreateRequestSchema);
    // 32 random bytes: the token is shown once; only its hash is stored.
    const token = `il_${randomBytes(32).toString('base64url')}`;
    const id = `tok_${randomBytes(6).toString('hex')}`;
    await app.store.createToken(
      { id, name: req.name, role: req.role, tokenHash: hashToken(token), createdAt: at(), revokedAt: null },
      who.name,
    );
    return { status: 201, body: { id, name: req.name, role: req.role, token } };
  });
  router.on('DELETE', '/v1/tokens/:id', async (ctx) => {
    const who = await requireRole(ctx.req, app.tokens, 'admin');
    const id = ctx.params.id!;
    if (id === 'bootstrap')
      throw HttpProblem.from(
        'CONFLICT',
        'the bootstrap token comes from IRONLEDGER_ADMIN_TOKEN; unset it and restart',
      );
    const r = await app.store.revokeToken(id, who.name, at());
    if (r === 'not_found') throw HttpProblem.from('NOT_FOUND', `token ${id} not found`);
    return { status: 200, body: { id, revoked: true, changed: r === 'revoked' } };
  });

  // ---- periods -------------------------------------------------------------------------
  router.on('GET', '/v1/periods', async (ctx) => {
    await requireRole(ctx.req, app.tokens, 'viewer');
    return { status: 200, body: { locked: (await app.store.lockedPeriods()).map((period) => ({ period })) } };
  });
  for (const action of ['lock', 'unlock'] as const) {
    router.on('POST', `/v1/periods/:period/${action}`, async (ctx) => {
      const who = await requireRole(ctx.req, app.tokens, 'admin');
      const p = PeriodSchema.safeParse(ctx.params.period);
      if (!p.success)
        throw new HttpProblem(400, 'REQUEST_INVALID', `period: ${p.error.issues[0]!.message}`, {
          errors: [{ path: 'period', message: p.error.issues[0]!.message }],
        });
      const changed = await app.store.setPeriodLock(p.data, action === 'lock', who.name, at());
      return { status: 200, body: { period: p.data, locked: action === 'lock', changed } };
    });
  }

  // ---- audit ---------------------------------------------------------------------------
  router.on('GET', '/v1/audit', async (ctx) => {
    await requireRole(ctx.req, app.tokens, 'viewer');
    const q = readQuery(
      ctx,
      z
        .object({
          from: z.string().optional(),
          to: z.string().optional(),
          actor: z.string().optional(),
          action: z.string().optional(),
        })
        .strict(),
    );
    return { status: 200, body: { entries: await app.store.listAudit(q) } };
  });
}
