/** Filter flags shared by the usage, allocations and report commands. */
import { type Args, type OptionSpec, str } from '../command.js';
import { UsageError } from '../errors.js';
import { checkRange, parseDay } from '../values.js';

export const RANGE_OPTIONS: Record<string, OptionSpec> = {
  from: { type: 'string', value: 'day', description: 'First day, YYYY-MM-DD (site-local)' },
  to: { type: 'string', value: 'day', description: 'Last day, YYYY-MM-DD (inclusive)' },
};

export const SCOPE_OPTIONS: Record<string, OptionSpec> = {
  project: { type: 'string', value: 'id', description: 'Only this project' },
  unit: { type: 'string', value: 'id', description: 'Only this unit' },
};

export function rangeQuery(a: Args): { from?: string; to?: string } {
  const fromRaw = str(a, 'from');
  const toRaw = str(a, 'to');
  const from = fromRaw === undefined ? undefined : parseDay(fromRaw, 'from');
  const to = toRaw === undefined ? undefined : parseDay(toRaw, 'to');
  checkRange(from, to);
  return { ...(from ? { from } : {}), ...(to ? { to } : {}) };
}

export const ALLOCATION_STATUSES = ['pending', 'approved', 'posted', 'rejected', 'superseded'] as const;

export function statusFilter(a: Args): string | undefined {
  const s = str(a, 'status');
  if (s === undefined) return undefined;
  if (!(ALLOCATION_STATUSES as readonly string[]).includes(s)) {
    throw new UsageError(`bad status '${s}' for --status`, `one of: ${ALLOCATION_STATUSES.join(', ')}`);
  }
  return s;
}
