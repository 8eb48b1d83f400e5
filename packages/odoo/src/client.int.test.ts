import { Writable } from 'node:stream';
import { type IronLedgerError, isIronLedgerError } from '@ironledger/errors';
import { createLogger } from '@ironledger/logger';
import { type OdooDouble, startOdooDouble } from '@ironledger/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OdooClient, type OdooClientOptions } from './client.js';

let odoo: OdooDouble;
const clients: OdooClient[] = [];
beforeEach(async () => {
  odoo = await startOdooDouble({ today: '2026-11-23' });
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await odoo.stop();
});

function client(over: Partial<OdooClientOptions> = {}): OdooClient {
  const c = new OdooClient({
    url: odoo.url,
    db: odoo.db,
    login: odoo.login,
    apiKey: odoo.apiKey,
    retryBaseMs: 1,
    retryMaxMs: 5,
    sleep: async () => {},
    ...over,
  });
  clients.push(c);
  return c;
}

async function caught(p: Promise<unknown>): Promise<IronLedgerError> {
  try {
    await p;
  } catch (e) {
    if (isIronLedgerError(e)) return e;
    throw e;
  }
  throw new Error('expected a failure');
}

for (const api of ['json2', 'jsonrpc'] as const) {
  describe(`OdooClient over ${api}`, () => {
    it('connects, creates in a batch with ids in order, and reads back by ref', async () => {
      const c = client({ api });
      const info = await c.connect();
      expect(info).toMatchObject({ api, uid: 2, version: { major: 19 } });
      const vals = [1, 2, 3].map((i) => ({
        name: `line ${i}`,
        date: `2026-11-2${i}`,
        amount: -10 * i,
        unit_amount: i,
        account_id: 1,
        ref: `R-${i}`,
      }));
      const ids = await c.create('account.analytic.line', vals);
      expect(ids).toHaveLength(3);
      expect(ids[1]).toBe((ids[0] as number) + 1);
      const rows = await c.searchRead<{
        id: number;
        ref: string;
        amount: number;
        account_id: [number, string];
      }>('account.analytic.line', [['ref', 'in', ['R-1', 'R-2', 'R-3']]], ['ref', 'amount', 'account_id'], {
        order: 'id',
      });
      expect(rows.map((r) => [r.id, r.ref, r.amount, r.account_id[0]])).toEqual([
        [ids[0], 'R-1', -10, 1],
        [ids[1], 'R-2', -20, 1],
        [ids[2], 'R-3', -30, 1],
      ]);
      expect(odoo.calls.filter((k) => k.method === 'create').every((k) => k.api === api)).toBe(true);
      expect(await c.searchCount('account.analytic.line', [['ref', 'like', 'R-']])).toBe(3);
    });

    it('posts a move and reads totals with formatted_read_group', async () => {
      const c = client({ api });
      const [moveId] = await c.create('account.move', [
        {
          move_type: 'entry',
          journal_id: 3,
          date: '2026-11-20',
          ref: 'M-1',
          line_ids: [
            [
              0,
              0,
              {
                name: 'cost',
                account_id: 32,
                debit: 637.5,
                credit: 0,
                analytic_distribution: { '1': 100 },
                quantity: 7.5,
              },
            ],
            [0, 0, { name: 'cost', account_id: 14, debit: 0, credit: 637.5 }],
          ],
        },
      ]);
      expect(await c.callRecords('account.move', 'action_post', [moveId as number])).toBe(false);
      const [m] = await c.read<{ name: string; state: string }>(
        'account.move',
        [moveId as number],
        ['name', 'state'],
      );
      expect(m).toMatchObject({ name: 'MISC/2026/11/0001', state: 'posted' });
      const groups = await c.readGroup(
        'account.analytic.line',
        [['ref', '=', 'M-1']],
        ['account_id'],
        ['amount:sum', 'unit_amount:sum', '__count'],
      );
      expect(groups).toEqual([
        {
          account_id: [1, 'Internal'],
          __extra_domain: [['account_id', '=', 1]],
          'amount:sum': -637.5,
          'unit_amount:sum': 7.5,
          __count: 1,
        },
      ]);
    });

    it('classifies Odoo errors', async () => {
      const c = client({ api });
      const missing = await caught(
        c.create('account.analytic.line', [{ account_id: 1, date: '2026-11-23', amount: -1 }]),
      );
      expect(missing.code).toBe('ODOO_VALIDATION');
      expect(missing.message).toContain("Missing required value for the field 'Description' (name)");
      expect((await caught(c.create('account.move', [{ x_engine_hours: 1 }]))).code).toBe('ODOO_VALIDATION');
      expect((await caught(c.searchRead('x_no.such.model', [], []))).code).toBe('ODOO_NOT_FOUND');
      expect((await caught(c.read('account.move', [999], ['name']))).code).toBe('ODOO_NOT_FOUND');
      expect(
        (await caught(c.call('account.analytic.line', '_read_group', [[]], { groupby: ['account_id'] })))
          .code,
      ).toBe('ODOO_ACCESS');
      const [moveId] = await c.create('account.move', [
        { journal_id: 3, date: '2026-11-23', ref: 'X', line_ids: [] },
      ]);
      await c.callRecords('account.move', 'action_post', [moveId as number]);
      const posted = await caught(c.unlink('account.move', [moveId as number]));
      expect(posted.code).toBe('ODOO_USER_ERROR');
      expect(posted.message).toContain("You can't delete a posted journal item");
    });

    it('fails authentication with ODOO_AUTH and never shows the key', async () => {
      const lines: string[] = [];
      const logger = createLogger({
        service: 't',
        level: 'debug',
        destination: new Writable({
          write: (ch, _e, cb) => {
            lines.push(String(ch));
            cb();
          },
        }),
      });
      const c = client({ api, apiKey: 'not-the-key-0123456789', logger });
      const e = await caught(c.connect());
      expect(e.code).toBe('ODOO_AUTH');
      expect(e.message).not.toContain('not-the-key');
      expect(JSON.stringify(e.details)).not.toContain('not-the-key');
      expect(lines.join('')).not.toContain('not-the-key');
    });

    it('retries transient failures, honouring Retry-After, and gives up after the budget', async () => {
      const waits: number[] = [];
      const c = client({ api, retries: 3, sleep: async (ms) => void waits.push(ms) });
      await c.connect();
      odoo.failNext(2, { status: 503, retryAfterS: 2 });
      const rows = await c.searchRead('res.partner', [], ['name']);
      expect(rows.length).toBeGreaterThan(0);
      expect(waits).toEqual([2000, 2000]);
      odoo.failNext(10, { status: 502 });
      const e = await caught(c.searchRead('res.partner', [], ['name']));
      expect(e.code).toBe('ODOO_TRANSIENT');
      expect(waits.length).toBe(2 + 3);
    });

    it('does not retry a create whose connection dropped (it may have been committed)', async () => {
      const c = client({ api });
      await c.connect();
      odoo.failNext(1, { kind: 'reset-after', method: 'create' });
      const e = await caught(
        c.create('account.analytic.line', [{ name: 'x', account_id: 1, amount: -1, ref: 'DROP-1' }]),
      );
      expect(e.code).toBe('ODOO_TRANSIENT');
      // the record exists once: the client did not send it again
      expect(await c.searchCount('account.analytic.line', [['ref', '=', 'DROP-1']])).toBe(1);
      // a create refused before any work (503) is retried
      odoo.failNext(1, { status: 503, method: 'create' });
      expect(
        await c.create('account.analytic.line', [{ name: 'y', account_id: 1, amount: -1, ref: 'R503' }]),
      ).toHaveLength(1);
    });
  });
}

describe('OdooClient', () => {
  it('chooses /json/2 on Odoo 19 and /jsonrpc on Odoo 17', async () => {
    expect((await client().connect()).api).toBe('json2');
    const old = await startOdooDouble({ version: 17 });
    try {
      const c = new OdooClient({ url: old.url, db: old.db, login: old.login, apiKey: old.apiKey });
      clients.push(c);
      expect((await c.connect()).api).toBe('jsonrpc');
      // read_group is the only aggregate on 16–18; the result is normalised to the 19 shape
      const g = await c.readGroup('account.analytic.line', [], ['account_id'], ['amount:sum', '__count']);
      expect(g[0]).toMatchObject({ account_id: [1, 'Internal'], 'amount:sum': 0, __count: 2 });
    } finally {
      await old.stop();
    }
  });

  it('times out a slow call and reports ODOO_TRANSIENT', async () => {
    const c = client({ api: 'jsonrpc', timeoutMs: 100, retries: 0 });
    await c.connect();
    odoo.setDelay(400);
    const e = await caught(c.searchRead('res.partner', [], ['name']));
    expect(e.code).toBe('ODOO_TRANSIENT');
    expect(e.message).toMatch(/timed out after 100 ms/);
  });

  it('reports an unreachable server as ODOO_TRANSIENT after retrying', async () => {
    const waits: number[] = [];
    const c = client({ url: 'http://127.0.0.1:9', retries: 2, sleep: async (ms) => void waits.push(ms) });
    const e = await caught(c.connect());
    expect(e.code).toBe('ODOO_TRANSIENT');
    expect(waits).toHaveLength(2);
  });
});
