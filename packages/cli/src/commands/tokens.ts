import {
  RoleSchema,
  TokenCreateResponseSchema,
  type TokenInfoSchema,
  TokensResponseSchema,
} from '@ironledger/contracts';
import { z } from 'zod';
import { bool, type CommandSpec, JSON_OPTION, required } from '../command.js';
import { EXIT, UsageError } from '../errors.js';
import { renderTable } from '../format/table.js';
import { formatInstant } from '../format/time.js';

const create: CommandSpec = {
  name: 'tokens create',
  summary: 'Issue an API token with a role (shown once)',
  role: 'admin',
  options: {
    name: { type: 'string', value: 'name', description: 'Who or what holds it (shown in the audit log)' },
    role: {
      type: 'string',
      value: 'role',
      description: 'viewer (read), approver (approve/reject/post) or admin',
    },
    ...JSON_OPTION,
  },
  examples: [
    ['A read-only token for a site manager', 'ironledger tokens create --name alice --role viewer'],
    ['An approver token for finance', 'ironledger tokens create --name finance --role approver'],
  ],
  async run(ctx, a) {
    const name = required(a, 'name', 'e.g. --name alice');
    const roleRaw = required(a, 'role', 'one of: viewer, approver, admin');
    const role = RoleSchema.safeParse(roleRaw);
    if (!role.success)
      throw new UsageError(`bad role '${roleRaw}' for --role`, 'one of: viewer, approver, admin');
    const { data, raw } = await ctx
      .api()
      .post('/v1/tokens', TokenCreateResponseSchema, { name, role: role.data });
    if (bool(a, 'json')) {
      ctx.json(raw);
      return EXIT.OK;
    }
    ctx.note(`created ${data.role} token ${data.id} for ${data.name}; it is shown only this once:`);
    ctx.out(`${data.token}\n`);
    return EXIT.OK;
  },
};

const list: CommandSpec = {
  name: 'tokens list',
  summary: 'API tokens and their roles (never the secrets)',
  role: 'admin',
  options: { ...JSON_OPTION },
  examples: [['Who has access', 'ironledger tokens list']],
  async run(ctx, a) {
    const { data, raw } = await ctx.api().get('/v1/tokens', TokensResponseSchema);
    if (bool(a, 'json')) {
      ctx.json(raw);
      return EXIT.OK;
    }
    const { c } = ctx;
    type T = z.infer<typeof TokenInfoSchema>;
    ctx.out(
      renderTable<T>(
        data.tokens,
        [
          { header: 'ID', value: (t) => t.id },
          { header: 'NAME', value: (t) => t.name },
          { header: 'ROLE', value: (t) => t.role },
          { header: 'CREATED', value: (t) => formatInstant(t.createdAt) },
          {
            header: 'STATE',
            value: (t) => (t.revokedAt ? `revoked ${formatInstant(t.revokedAt)}` : 'active'),
            style: (s, t) => (t.revokedAt ? c.dim(s) : c.green(s)),
          },
        ],
        { headerStyle: c.dim },
      ),
    );
    return EXIT.OK;
  },
};

const revoke: CommandSpec = {
  name: 'tokens revoke',
  summary: 'Revoke a token; it is refused (401) from then on',
  args: '<id>',
  minPositionals: 1,
  maxPositionals: 1,
  role: 'admin',
  options: { ...JSON_OPTION },
  examples: [['Revoke a leaked token', 'ironledger tokens revoke tok_01JC']],
  async run(ctx, a) {
    const id = a.positionals[0]!;
    const { raw } = await ctx.api().delete(`/v1/tokens/${encodeURIComponent(id)}`, z.unknown());
    if (bool(a, 'json')) ctx.json(raw ?? { id, revoked: true });
    else ctx.out(`revoked token ${id}\n`);
    return EXIT.OK;
  },
};

export const tokens: CommandSpec[] = [create, list, revoke];
