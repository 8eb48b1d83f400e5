import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { deadOnThisHost, newReplicaId, replicaOf } from './replica.js';

describe('replica ids', () => {
  it('name the host and the process; a claim owner names its replica', () => {
    const id = newReplicaId();
    expect(id).toMatch(new RegExp(`^${hostname().replace(/[.]/g, '\\.')}:${process.pid}:[0-9a-f]{6}$`));
    expect(replicaOf(`${id}/post-3`)).toBe(id);
    expect(replicaOf(id)).toBe(id);
  });

  it('a replica on this host whose process has exited is dead; a running one, or one elsewhere, is not', () => {
    const self = newReplicaId();
    const exited = spawnSync(process.execPath, ['-e', '']).pid!;
    expect(deadOnThisHost(`${hostname()}:${exited}:abcdef`, self)).toBe(true);
    // our own pid under another id: a predecessor that had the same pid (a container's pid 1)
    expect(deadOnThisHost(`${hostname()}:${process.pid}:abcdef`, self)).toBe(true);
    expect(deadOnThisHost(self, self)).toBe(false);
    expect(deadOnThisHost(`${hostname()}:${process.ppid}:abcdef`, self)).toBe(false);
    expect(deadOnThisHost(`elsewhere:${exited}:abcdef`, self)).toBe(false);
    expect(deadOnThisHost('replica-a', self)).toBe(false);
  });
});
