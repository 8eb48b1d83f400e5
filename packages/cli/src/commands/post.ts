/**
 * Posting approved allocations to Odoo. The server posts each allocation atomically and
 * exactly once (DESIGN.md invariant 4); the CLI sends them in batches of ids so it can show
 * progress and stop cleanly: on the first Ctrl-C it lets the batch in flight finish, prints
 * what was done and exits 130, leaving every allocation either posted or still approved. A
 * re-run posts the rest.
 */
import { AllocationsResponseSchema, type PostResponse, PostResponseSchema } from '@ironledger/contracts';
import { bool, type CommandSpec, type Ctx, JSON_OPTION, str } from '../command.js';
import { ApiError, CliError, EXIT } from '../errors.js';
import type { Palette } from '../format/colour.js';
import { Progress } from '../format/progress.js';
import { oneLine } from '../format/table.js';
import { parsePositiveInt } from '../values.js';

const POST_TIMEOUT_MS = 10 * 60 * 1000; // 10 min: one batch may wait on Odoo retries
const DEFAULT_BATCH = 25;

/** One answer from several batches: counts added, lists concatenated. */
export function mergePostResponses(parts: readonly PostResponse[]): PostResponse | undefined {
  if (parts.length === 0) return undefined;
  const first = parts[0]!;
  return {
    mode: first.mode,
    api: parts.find((p) => p.api !== null)?.api ?? null,
    target: first.target,
    considered: parts.reduce((t, p) => t + p.considered, 0),
    posted: parts.flatMap((p) => p.posted),
    alreadyInOdoo: parts.flatMap((p) => p.alreadyInOdoo),
    held: parts.flatMap((p) => p.held),
    failed: parts.flatMap((p) => p.failed),
    journal: [...parts].reverse().find((p) => p.journal !== null)?.journal ?? null,
  };
}

/** 0 when everything asked for reached Odoo; 3 when some did and some failed or were held; 1 when none did. */
export function postExit(r: PostResponse): number {
  if (r.failed.length === 0 && r.held.length === 0) return EXIT.OK;
  return r.posted.length + r.alreadyInOdoo.length > 0 ? EXIT.PARTIAL : EXIT.FAILURE;
}

export function postSummary(r: PostResponse, c: Palette): string {
  const n = (k: number) => `${k} allocation${k === 1 ? '' : 's'}`;
  const where = r.target === 'move' ? 'journal entries' : 'analytic lines';
  const lines: string[] = [];
  if (r.mode === 'dry-run') {
    lines.push(
      `${c.yellow('dry run:')} ${n(r.posted.length)} would be posted as ${where}; nothing was sent to Odoo, and they stay approved`,
    );
    if (r.journal) lines.push(`  the exact calls are in ${r.journal}`);
  } else {
    lines.push(
      `${r.posted.length ? c.green('posted') : 'posted'} ${n(r.posted.length)} to Odoo as ${where}${r.api ? ` (${r.api})` : ''}`,
    );
  }
  if (r.alreadyInOdoo.length)
    lines.push(
      r.mode === 'dry-run'
        ? `  already in the journal from an earlier dry run: ${r.alreadyInOdoo.length}`
        : `  already in Odoo, recorded without sending again: ${r.alreadyInOdoo.length}`,
    );
  if (r.held.length) {
    lines.push(c.yellow(`  held ${n(r.held.length)}:`));
    for (const h of r.held) lines.push(`    ${h.id}  ${oneLine(h.reason)}`);
  }
  if (r.failed.length) {
    lines.push(c.red(`  failed ${n(r.failed.length)}:`));
    for (const f of r.failed)
      lines.push(
        `    ${f.id}  ${f.code}  ${oneLine(f.message)}${f.deadLettered ? c.dim('  → dead letter') : ''}`,
      );
    if (r.failed.some((f) => f.deadLettered))
      lines.push(c.dim("  see 'ironledger deadletters list'; replay after fixing the cause"));
  }
  if (r.considered === 0) lines.push(c.dim('  nothing was approved and unposted'));
  return `${lines.join('\n')}\n`;
}

/**
 * What `post --json` prints when a run could not go on (Odoo refused the key, Odoo or the
 * cloud is down): the error, and what earlier batches of the run did, so a script always
 * reads one JSON document on stdout.
 */
export function postFailureJson(e: unknown, done: PostResponse | undefined): Record<string, unknown> {
  const error =
    e instanceof ApiError
      ? { code: e.code ?? 'API_ERROR', status: e.status, message: e.message, hint: e.hint ?? null }
      : {
          code: 'CLI_FAILURE',
          status: null,
          message: e instanceof Error ? e.message : String(e),
          hint: e instanceof CliError ? (e.hint ?? null) : null,
        };
  return {
    ok: false,
    error,
    ...(done ?? {
      mode: null,
      api: null,
      target: null,
      considered: 0,
      posted: [],
      alreadyInOdoo: [],
      held: [],
      failed: [],
      journal: null,
    }),
  };
}

function chunks<T>(xs: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
}

async function postAll(ctx: Ctx, dryRun: boolean, batchSize: number, json: boolean): Promise<number> {
  const parts: PostResponse[] = [];
  try {
    return await postBatches(ctx, dryRun, batchSize, json, parts);
  } catch (e) {
    // stdout still gets one JSON document; the error goes to stderr and the exit code as usual.
    if (json) ctx.json(postFailureJson(e, mergePostResponses(parts)));
    throw e;
  }
}

async function postBatches(
  ctx: Ctx,
  dryRun: boolean,
  batchSize: number,
  json: boolean,
  parts: PostResponse[],
): Promise<number> {
  const api = ctx.api();
  const { data } = await api.get('/v1/allocations', AllocationsResponseSchema, { status: 'approved' });
  const ids = data.allocations.map((x) => x.id);
  if (ids.length <= batchSize) {
    // One request: the server's answer is printed as it came.
    if (!json && ids.length)
      ctx.note(
        ctx.ec.dim(
          `${dryRun ? 'dry run of' : 'posting'} ${ids.length} approved allocation${ids.length === 1 ? '' : 's'}…`,
        ),
      );
    const { data: r, raw } = await api.post('/v1/post', PostResponseSchema, dryRun ? { dryRun } : {}, {
      timeoutMs: POST_TIMEOUT_MS,
    });
    if (json) ctx.json(raw);
    else ctx.out(postSummary(r, ctx.c));
    return postExit(r);
  }
  let interrupted = false;
  const unsubscribe = ctx.io.onInterrupt(() => {
    if (!interrupted)
      ctx.note(
        ctx.ec.yellow(
          '\nstopping after the batch in flight (Ctrl-C again to leave now; the server finishes it either way)',
        ),
      );
    interrupted = true;
  });
  const progress = new Progress(ctx.io.stderr, dryRun ? 'dry run' : 'posting', ids.length);
  let done = 0;
  try {
    progress.update(0);
    for (const batch of chunks(ids, batchSize)) {
      if (interrupted) break;
      const { data: r } = await api.post(
        '/v1/post',
        PostResponseSchema,
        { ids: batch, ...(dryRun ? { dryRun } : {}) },
        { timeoutMs: POST_TIMEOUT_MS },
      );
      parts.push(r);
      done += batch.length;
      progress.update(
        done,
        r.failed.length ? `(${parts.reduce((t, p) => t + p.failed.length, 0)} failed)` : '',
      );
    }
  } finally {
    progress.done();
    unsubscribe();
  }
  const merged = mergePostResponses(parts);
  if (merged) {
    if (json) ctx.json(merged);
    else ctx.out(postSummary(merged, ctx.c));
  }
  if (interrupted) {
    ctx.note(
      ctx.ec.yellow(
        `interrupted: ${ids.length - done} allocation${ids.length - done === 1 ? '' : 's'} left approved; run 'ironledger post' again to post them`,
      ),
    );
    return EXIT.INTERRUPTED;
  }
  return merged ? postExit(merged) : EXIT.OK;
}

export const post: CommandSpec = {
  name: 'post',
  summary: 'Post approved allocations to Odoo (exactly once), with progress',
  description:
    "Sends every approved allocation to Odoo as analytic lines or journal entries (the cloud's\nconfig decides), each exactly once: an allocation found in Odoo by its ref is recorded, not\nsent again. Progress goes to stderr, the summary to stdout. Ctrl-C stops after the batch in\nflight; every allocation is then either posted or still approved, and a re-run completes.",
  role: 'approver',
  options: {
    'dry-run': { type: 'boolean', description: 'Show what would be posted; send nothing to Odoo' },
    'batch-size': {
      type: 'string',
      value: 'n',
      description: `Allocations per request (default ${DEFAULT_BATCH})`,
    },
    ...JSON_OPTION,
  },
  examples: [
    ['See what would be posted', 'ironledger post --dry-run'],
    ['Post everything approved', 'ironledger post'],
    ['In a script: exit 3 if some failed', 'ironledger post --json > post.json || echo "exit $?"'],
  ],
  async run(ctx, a) {
    const batchRaw = str(a, 'batch-size');
    const batchSize = batchRaw === undefined ? DEFAULT_BATCH : parsePositiveInt(batchRaw, 'batch-size');
    return postAll(ctx, bool(a, 'dry-run'), batchSize, bool(a, 'json'));
  },
};
