import type { PostResponse } from '@ironledger/contracts';
import { describe, expect, it } from 'vitest';
import { palette } from '../format/colour.js';
import { decisionExit } from './allocations.js';
import { mergePostResponses, postExit, postSummary } from './post.js';

const part = (over: Partial<PostResponse>): PostResponse => ({
  mode: 'odoo',
  api: 'json2',
  target: 'analytic',
  considered: 0,
  posted: [],
  alreadyInOdoo: [],
  held: [],
  failed: [],
  journal: null,
  ...over,
});

describe('post results', () => {
  it('merges batches', () => {
    const m = mergePostResponses([
      part({ considered: 2, posted: [{ id: 'a', key: 'ka', odooId: 1 }], alreadyInOdoo: ['b'] }),
      part({
        considered: 1,
        failed: [{ id: 'c', code: 'ODOO_VALIDATION', message: 'no project', deadLettered: true }],
      }),
    ])!;
    expect(m.considered).toBe(3);
    expect(m.posted).toHaveLength(1);
    expect(m.alreadyInOdoo).toEqual(['b']);
    expect(m.failed).toHaveLength(1);
    expect(mergePostResponses([])).toBeUndefined();
  });

  it('exits 0 ok, 3 partial, 1 when nothing went through', () => {
    expect(postExit(part({ posted: [{ id: 'a', key: 'k', odooId: 1 }] }))).toBe(0);
    const failed = [{ id: 'c', code: 'X', message: 'm', deadLettered: false }];
    expect(postExit(part({ posted: [{ id: 'a', key: 'k', odooId: 1 }], failed }))).toBe(3);
    expect(postExit(part({ failed }))).toBe(1);
    const held = [{ id: 'h', reason: 'project not found in Odoo' }];
    expect(postExit(part({ posted: [{ id: 'a', key: 'k', odooId: 1 }], held }))).toBe(3);
    expect(postExit(part({ held }))).toBe(1);
  });

  it('summarises a dry run without claiming anything was sent', () => {
    const s = postSummary(
      part({ mode: 'dry-run', posted: [{ id: 'a', key: 'k', odooId: null }], journal: '/tmp/j.jsonl' }),
      palette(false),
    );
    expect(s).toContain('dry run');
    expect(s).toContain('nothing was sent');
    expect(s).toContain('/tmp/j.jsonl');
  });

  it('a decision that named missing ids is a failure, partly missing is partial', () => {
    expect(decisionExit({ changed: ['a'], unchanged: ['b'], refused: [], notFound: [] })).toBe(0);
    expect(decisionExit({ changed: ['a'], unchanged: [], refused: [], notFound: ['x'] })).toBe(3);
    expect(
      decisionExit({ changed: [], unchanged: [], refused: [{ id: 'r', reason: 'rejected' }], notFound: [] }),
    ).toBe(1);
  });
});
