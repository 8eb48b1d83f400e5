/**
 * Bearer-token authentication. Tokens are never stored, only `sha256:<hex>` of them.
 * Gateways authenticate with their configured token hash; people (CLI) with a token whose
 * role is enforced per route: viewer < approver < admin. Unknown/revoked → 401, role too low → 403.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ROLE_RANK, type Role } from '@ironledger/contracts';
import { HttpProblem } from './problem.js';

export function hashToken(token: string): string {
  return `sha256:${createHash('sha256').update(token, 'utf8').digest('hex')}`;
}

export function bearerToken(req: IncomingMessage): string {
  const h = req.headers.authorization;
  if (!h) throw HttpProblem.from('AUTH_MISSING', 'Authorization: Bearer <token> is required');
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  if (!m) throw HttpProblem.from('AUTH_MISSING', 'Authorization header must be "Bearer <token>"');
  return m[1]!;
}

export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export interface Principal {
  /** Token id (`bootstrap`, `config:<name>`, `tok_…`). */
  id: string;
  /** Who acts, as written to the audit trail. */
  name: string;
  role: Role;
}

export interface TokenDirectory {
  /** The principal for a token hash, or null when unknown or revoked. */
  lookup(tokenHash: string): Promise<Principal | null>;
}

export async function requireRole(req: IncomingMessage, dir: TokenDirectory, role: Role): Promise<Principal> {
  const p = await dir.lookup(hashToken(bearerToken(req)));
  if (!p) throw HttpProblem.from('AUTH_INVALID');
  if (ROLE_RANK[p.role] < ROLE_RANK[role])
    throw HttpProblem.from('AUTH_FORBIDDEN', `this needs the ${role} role; token "${p.name}" is ${p.role}`);
  return p;
}
