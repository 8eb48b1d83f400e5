import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@ironledger/logger';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PostingConfigSchema } from './config.js';
import { createPoster } from './poster.js';
import { allocation, MemoryLedger } from './test-helpers.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'il-dry-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

// biome-ignore lint/suspicious/noExplicitAny: journal lines are free-form JSON, probed by path in assertions
function lines(path: string): Array<Record<string, any>> {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l));
}

describe('dry-run posting', () => {
  it('journals one exact execute_kw call per allocation and leaves it approved', async () => {
    const journalPath = join(dir, 'var', 'journal.jsonl');
    const cfg = PostingConfigSchema.parse({ journalPath, projects: { RIVERSIDE: { analyticAccountId: 3 } } });
    const ledger = new MemoryLedger();
    const poster = createPoster(cfg, {
      logger: silentLogger(),
      ledger,
      now: () => new Date('2026-11-24T06:00:00Z'),
    });
    const a1 = allocation({ id: 'a1' });
    const a2 = allocation({
      id: 'a2',
      unitId: 'EXC-0007',
      amountMinor: 100,
      engineHours: 1,
      idleHours: 0,
      workingHours: 1,
    });
    const res = await poster.post([a1, a2], {});
    expect(res).toMatchObject({
      mode: 'dry-run',
      api: null,
      target: 'analytic',
      considered: 2,
      alreadyInOdoo: [],
    });
    expect(res.posted.map((p) => p.id)).toEqual(['a1', 'a2']);

    const [l1, l2] = lines(journalPath);
    expect(l1).toEqual({
      ts: '2026-11-24T06:00:00.000Z',
      allocationKey: a1.key,
      allocationId: 'a1',
      call: {
        jsonrpc: '2.0',
        method: 'call',
        params: {
          service: 'object',
          method: 'execute_kw',
          args: [
            '<db>',
            '<uid>',
            '<api-key>',
            'account.analytic.line',
            'create',
            [
              [
                {
                  name: expect.any(String),
                  date: '2026-11-23',
                  amount: -655.5,
                  unit_amount: 8.7,
                  account_id: 3,
                  ref: a1.key,
                },
              ],
            ],
            {},
          ],
        },
      },
    });
    expect(l2?.call.params.args[5][0][0]).toMatchObject({ amount: -1, ref: a2.key, account_id: 3 });
    // a preview never consumes an allocation: a later post to a configured Odoo sends it
    expect(ledger.posted.size + ledger.held.size + ledger.dead.size).toBe(0);
  });

  it('--dry-run without Odoo journals and records exactly what the journal target does', async () => {
    const journalPath = join(dir, 'same.jsonl');
    const cfg = PostingConfigSchema.parse({ journalPath, projects: { RIVERSIDE: { analyticAccountId: 3 } } });
    const ledger = new MemoryLedger();
    const p = createPoster(cfg, { logger: silentLogger(), ledger });
    const preview = await p.post([allocation({ id: 'a1' })], { dryRun: true });
    expect(preview.posted.map((x) => x.id)).toEqual(['a1']);
    expect(lines(journalPath)).toHaveLength(1);
    const journalled = await p.post([allocation({ id: 'a1' })], {});
    expect(journalled).toMatchObject({ mode: 'dry-run', alreadyInOdoo: ['a1'], posted: [] });
    expect(lines(journalPath)).toHaveLength(1);
    expect(ledger.posted.size).toBe(0);
  });

  it('writes a key once, across runs and poster instances', async () => {
    const journalPath = join(dir, 'j.jsonl');
    const cfg = PostingConfigSchema.parse({ journalPath });
    const a1 = allocation({ id: 'a1' });
    await createPoster(cfg, { logger: silentLogger(), ledger: new MemoryLedger() }).post([a1], {});
    // a torn line from a crash mid-append is tolerated
    writeFileSync(journalPath, `${readFileSync(journalPath, 'utf8')}{"allocationKey":"IL-tor`);
    const ledger = new MemoryLedger();
    const a2 = allocation({ id: 'a2', day: '2026-11-24' });
    const res = await createPoster(cfg, { logger: silentLogger(), ledger }).post([a1, a2], {});
    expect(res.alreadyInOdoo).toEqual(['a1']);
    expect(res.posted.map((p) => p.id)).toEqual(['a2']);
    const keys = readFileSync(journalPath, 'utf8')
      .split('\n')
      .flatMap((l) => {
        try {
          return [JSON.parse(l).allocationKey as string];
        } catch {
          return [];
        }
      });
    expect(keys).toEqual([a1.key, a2.key]);
    expect(ledger.posted.size).toBe(0);
  });

  it('journals the move and its action_post in move mode, never a secret', async () => {
    const journalPath = join(dir, 'm.jsonl');
    const cfg = PostingConfigSchema.parse({
      journalPath,
      target: 'move',
      odoo: { url: 'http://127.0.0.1:1', db: 'odoolab', login: 'admin', apiKey: 'sekrit-key-123' },
      accounts: { expenseAccountId: 32, recoveryAccountId: 14, journalId: 3 },
      projects: { RIVERSIDE: { analyticAccountId: 3 } },
    });
    const ledger = new MemoryLedger();
    const res = await createPoster(cfg, { logger: silentLogger(), ledger }).post([allocation({ id: 'a1' })], {
      dryRun: true,
    });
    expect(res.mode).toBe('dry-run');
    // a preview against a configured Odoo leaves the allocation approved
    expect(ledger.posted.size).toBe(0);
    const text = readFileSync(journalPath, 'utf8');
    expect(text).not.toContain('sekrit');
    const [l] = lines(journalPath);
    expect(l?.call.params.args.slice(0, 5)).toEqual([
      'odoolab',
      '<uid>',
      '<api-key>',
      'account.move',
      'create',
    ]);
    const move = l?.call.params.args[5][0][0];
    expect(move).toMatchObject({ move_type: 'entry', journal_id: 3, date: '2026-11-23' });
    expect(move.line_ids[0][2]).toMatchObject({
      account_id: 32,
      debit: 655.5,
      credit: 0,
      analytic_distribution: { '3': 100 },
      quantity: 8.7,
    });
    expect(move.line_ids[1][2]).toMatchObject({ account_id: 14, debit: 0, credit: 655.5 });
    expect(l?.followUp?.[0].params.args[4]).toBe('action_post');
  });

  it('config rejects unknown keys and names them', () => {
    const r = PostingConfigSchema.safeParse({ target: 'analytic', bogus: 1 });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toContain('bogus');
  });
});
