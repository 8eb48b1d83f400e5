import {
  PeriodLockResponseSchema,
  ProblemSchema,
  SitesResponseSchema,
  TokenCreateResponseSchema,
  TokensResponseSchema,
} from '@ironledger/contracts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestCloud, type TestCloud, TOKENS } from '../../testing/harness.js';

let t: TestCloud;
beforeEach(async () => {
  t = await startTestCloud();
});
afterEach(async () => {
  await t.stop();
});

describe('admin API: roles, tokens, master data, audit', () => {
  it('401 for unknown tokens, 403 for a role too low, problem+json either way', async () => {
    const none = await t.api('GET', '/v1/status', undefined, 'nope');
    expect(none.status).toBe(401);
    expect(ProblemSchema.parse(none.json).code).toBe('AUTH_INVALID');
    expect((await t.api('GET', '/v1/status', undefined, TOKENS.viewer)).status).toBe(200);
    const low = await t.api('POST', '/v1/consolidate', {}, TOKENS.viewer);
    expect(low.status).toBe(403);
    expect(ProblemSchema.parse(low.json).code).toBe('AUTH_FORBIDDEN');
    expect((await t.api('GET', '/v1/tokens', undefined, TOKENS.approver)).status).toBe(403);
    expect((await t.api('GET', '/v1/nowhere')).status).toBe(404);
    expect((await t.api('DELETE', '/v1/status')).status).toBe(405);
  });

  it('creates a token shown once, lists it without secrets, revokes it (then 401), all audited', async () => {
    const created = TokenCreateResponseSchema.parse(
      (await t.api('POST', '/v1/tokens', { name: 'sam', role: 'approver' })).json,
    );
    expect(created.token.length).toBeGreaterThan(30);
    expect((await t.api('GET', '/v1/allocations', undefined, created.token)).status).toBe(200);
    const list = TokensResponseSchema.parse((await t.api('GET', '/v1/tokens')).json);
    expect(list.tokens.map((x) => x.name).sort()).toEqual(['alex', 'sam', 'vera']);
    expect(JSON.stringify((await t.api('GET', '/v1/tokens')).json)).not.toContain('sha256');
    expect((await t.api('DELETE', `/v1/tokens/${created.id}`)).status).toBe(200);
    expect((await t.api('GET', '/v1/allocations', undefined, created.token)).status).toBe(401);
    expect((await t.api('DELETE', '/v1/tokens/tok_missing')).status).toBe(404);
    const actions = (await t.api('GET', '/v1/audit')).json.entries.map((e: { action: string }) => e.action);
    expect(actions).toEqual(['token.create', 'token.revoke']);
    expect((await t.api('POST', '/v1/tokens', { name: '', role: 'god' })).status).toBe(400);
  });

  it('adds master data (validated, cross-checked) and lists it', async () => {
    const site = { siteId: 'NYC', timeZone: 'America/New_York', defaultProjectId: 'P-LDN', geofences: [] };
    expect((await t.api('POST', '/v1/sites', site, TOKENS.approver)).status).toBe(403);
    expect((await t.api('POST', '/v1/sites', site)).status).toBe(201);
    expect((await t.api('POST', '/v1/sites', site)).json).toMatchObject({ created: false });
    expect((await t.api('POST', '/v1/sites', { ...site, timeZone: 'Mars/Olympus' })).status).toBe(400);
    expect((await t.api('POST', '/v1/sites', { ...site, defaultProjectId: 'P-NONE' })).status).toBe(422);
    const sites = SitesResponseSchema.parse((await t.api('GET', '/v1/sites', undefined, TOKENS.viewer)).json);
    expect(sites.sites.map((s) => s.siteId)).toEqual(['LDN', 'NYC']);
    expect((await t.api('POST', '/v1/periods/2026-13/lock')).status).toBe(400);
    expect(PeriodLockResponseSchema.parse((await t.api('POST', '/v1/periods/2026-12/lock')).json)).toEqual({
      period: '2026-12',
      locked: true,
      changed: true,
    });
  });
});
