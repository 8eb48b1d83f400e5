/**
 * Resolves admin tokens: the bootstrap token from IRONLEDGER_ADMIN_TOKEN (hash kept in memory
 * only, cannot be revoked through the API), then the store's tokens (seeded from
 * `auth.tokens`, created by `POST /v1/tokens`). A revoked token is unknown (401).
 */
import type { CloudStore } from '../store/store.js';
import { type Principal, sameHash, type TokenDirectory } from './auth.js';

export class StoreTokenDirectory implements TokenDirectory {
  constructor(
    private readonly store: CloudStore,
    private readonly bootstrapHash: string | null,
  ) {}

  async lookup(tokenHash: string): Promise<Principal | null> {
    if (this.bootstrapHash && sameHash(tokenHash, this.bootstrapHash))
      return { id: 'bootstrap', name: 'bootstrap-admin', role: 'admin' };
    const t = await this.store.findTokenByHash(tokenHash);
    if (!t || t.revokedAt) return null;
    return { id: t.id, name: t.name, role: t.role };
  }
}
