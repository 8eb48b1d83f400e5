import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCloud, type TestCloud } from '../../testing/harness.js';
import { undocumentedRoutes } from './openapi.js';

describe('GET /v1/openapi.json', () => {
  let t: TestCloud;
  let doc: {
    openapi: string;
    paths: Record<string, Record<string, Record<string, unknown>>>;
  };

  beforeAll(async () => {
    t = await startTestCloud();
    const r = await t.api('GET', '/v1/openapi.json', undefined, '');
    expect(r.status).toBe(200);
    doc = r.json;
  });
  afterAll(() => t.stop());

  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const res = await validator.validate(doc as unknown as object);
    expect(res.errors ?? []).toEqual([]);
    expect(res.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    expect(doc.openapi).toMatch(/^3\.1\./);
  });

  it('describes every route the router registers, and no other', () => {
    const routes = t.cloud.routes();
    expect(routes.length).toBeGreaterThan(30);
    expect(undocumentedRoutes(routes)).toEqual([]);
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`),
    );
    const registered = routes.map((r) => `${r.method} ${r.pattern.replace(/:([A-Za-z]+)/g, '{$1}')}`);
    expect(documented.sort()).toEqual([...new Set(registered)].sort());
  });

  it('carries the request schemas the routes validate with', () => {
    const usage = doc.paths['/v1/usage']!.get! as {
      parameters: Array<{ name: string; schema: { pattern?: string } }>;
    };
    expect(usage.parameters.map((p) => p.name).sort()).toEqual(['from', 'project', 'site', 'to', 'unit']);
    expect(usage.parameters.find((p) => p.name === 'from')!.schema.pattern).toBeDefined();
    const batch = doc.paths['/v1/batches']!.post! as {
      requestBody: { content: { 'application/json': { schema: { required: string[] } } } };
      security: unknown[];
    };
    expect(batch.requestBody.content['application/json'].schema.required.sort()).toEqual([
      'batchId',
      'gatewayId',
      'readings',
    ]);
    expect(batch.security).toEqual([{ gatewayToken: [] }]);
    const release = doc.paths['/v1/held/{id}/release']!.post! as {
      parameters: Array<{ in: string; name: string }>;
    };
    expect(release.parameters).toContainEqual(expect.objectContaining({ in: 'path', name: 'id' }));
  });
});
