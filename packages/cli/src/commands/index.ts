/** Every command, in help order. */
import type { CommandSpec } from '../command.js';
import { allocationDecisions, allocationsList } from './allocations.js';
import { audit } from './audit.js';
import { completion } from './completion.js';
import { conflicts } from './conflicts.js';
import { consolidate } from './consolidate.js';
import { deadletters } from './deadletters.js';
import { allocationsBillUnverified, allocationsShow, verify } from './evidence.js';
import { held } from './held.js';
import { masterData } from './master-data.js';
import { periods } from './periods.js';
import { post } from './post.js';
import { reconcile } from './reconcile.js';
import { report } from './report.js';
import { status } from './status.js';
import { sync } from './sync.js';
import { tokens } from './tokens.js';
import { usage } from './usage.js';

export const COMMANDS: readonly CommandSpec[] = [
  status,
  usage,
  ...held,
  ...conflicts,
  consolidate,
  allocationsList,
  allocationsShow,
  ...allocationDecisions,
  allocationsBillUnverified,
  post,
  reconcile,
  verify,
  ...deadletters,
  audit,
  report,
  ...periods,
  ...masterData,
  sync,
  ...tokens,
  completion,
];

/** First words that take a sub-command (`held` is also a command of its own: the listing). */
export const GROUPS: ReadonlySet<string> = new Set(
  COMMANDS.filter((c) => c.name.includes(' ')).map((c) => c.name.split(' ')[0]!),
);
