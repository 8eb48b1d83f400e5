/**
 * Who this process is among the replicas sharing a store, and what it may assume about the
 * others. A replica id is `<host>:<pid>:<random>`; claims on shared work are owned by
 * `<replica id>/<purpose>`. Across hosts a dead replica's claims end when their leases run
 * out; on this host a replica whose process is gone is known dead at once, so a cloud
 * restarted after a crash (or a SIGKILL) takes its predecessor's work over without waiting
 * for the leases (as a pid file would tell it).
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from '@ironledger/logger';
import type { CloudStore } from './store/store.js';

export function newReplicaId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

/** The replica part of a claim owner (`host:pid:random/purpose` → `host:pid:random`). */
export function replicaOf(owner: string): string {
  const slash = owner.indexOf('/');
  return slash < 0 ? owner : owner.slice(0, slash);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A replica on this host whose process is gone. Our own pid under another id is a predecessor
 * that had the same pid (a container's pid 1): gone too.
 */
export function deadOnThisHost(replica: string, self: string, host = hostname()): boolean {
  if (replica === self) return false;
  const m = /^(.*):(\d+):[0-9a-f]+$/.exec(replica);
  if (!m || m[1] !== host) return false;
  const pid = Number(m[2]);
  return pid === process.pid || !alive(pid);
}

/** Ends the claims of this host's dead replicas; returns the replicas whose claims were ended. */
export async function recoverDeadClaims(store: CloudStore, self: string, logger: Logger): Promise<string[]> {
  const dead = [...new Set((await store.claimOwners()).map(replicaOf))].filter((r) =>
    deadOnThisHost(r, self),
  );
  for (const replica of dead) {
    const released = await store.releaseClaimsOf(replica);
    logger.warn(
      { event: 'claims.recovered', replica, released },
      'claims of a replica that is no longer running were released',
    );
  }
  return dead;
}
