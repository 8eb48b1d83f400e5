import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from './index.js';
import { RefusalLog } from './refusals.js';

type Kind = 'auth_failed' | 'acl_denied';

function setup(firstAtOnce: boolean, maxSources = 10_000) {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
      done();
    },
  });
  let clock = 1_000_000;
  let delayed = 0;
  const log = new RefusalLog<Kind>(createLogger({ service: 'test', destination }), {
    event: 'x.denials',
    countField: 'refusals',
    message: 'one source',
    restMessage: 'further sources',
    slows: (k) => k === 'auth_failed',
    firstAtOnceEvent: firstAtOnce ? (k) => `x.${k}` : undefined,
    onDelayed: () => delayed++,
    limits: { maxSources },
    now: () => clock,
  });
  return {
    log,
    lines,
    advance: (ms: number) => {
      clock += ms;
    },
    delayed: () => delayed,
  };
}

let open: RefusalLog<Kind> | undefined;
afterEach(() => open?.close());

describe('RefusalLog', () => {
  it('answers the first five failures at once, then doubles the wait up to 10 s', () => {
    const t = setup(false);
    open = t.log;
    const waits = Array.from({ length: 13 }, () => t.log.record('10.0.0.1', 'auth_failed'));
    expect(waits).toEqual([0, 0, 0, 0, 0, 250, 500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
    expect(t.delayed()).toBe(8);
    // Another source is not slowed by the first one's guessing; ACL denials never slow.
    expect(t.log.record('10.0.0.2', 'auth_failed')).toBe(0);
    expect(
      Array.from({ length: 20 }, () => t.log.record('10.0.0.3', 'acl_denied')).every((w) => w === 0),
    ).toBe(true);
    // After a quiet minute the window starts again.
    t.advance(61_000);
    expect(t.log.record('10.0.0.1', 'auth_failed')).toBe(0);
  });

  it('writes a bounded number of lines for a flood from many sources', () => {
    const t = setup(false);
    open = t.log;
    for (let s = 0; s < 100; s++)
      for (let i = 0; i < 100; i++) t.log.record(`10.0.${s}.1`, 'acl_denied', { topic: `t/${i}` });
    expect(t.lines).toHaveLength(0);
    t.log.flush();
    expect(t.lines).toHaveLength(21);
    expect(t.lines[0]).toMatchObject({ event: 'x.denials', refusals: 100, byKind: { acl_denied: 100 } });
    expect(t.lines[0]?.sample).toMatchObject({ kind: 'acl_denied', topic: 't/0' });
    expect(t.lines[20]).toMatchObject({ source: '(more sources)', sources: 80, refusals: 8000 });
  });

  it('logs the first refusal of a kind at once and summarises the rest', () => {
    const t = setup(true);
    open = t.log;
    t.log.record('10.0.0.1', 'acl_denied', { topic: 'a' });
    expect(t.lines).toEqual([
      expect.objectContaining({ event: 'x.acl_denied', source: '10.0.0.1', topic: 'a' }),
    ]);
    t.log.record('10.0.0.1', 'acl_denied', { topic: 'b' });
    t.log.record('10.0.0.1', 'acl_denied', { topic: 'c' });
    t.log.flush();
    expect(t.lines[1]).toMatchObject({ event: 'x.denials', refusals: 2, sample: { topic: 'b' } });
    // Quiet for an interval: the next refusal is logged at once again.
    t.log.flush();
    t.log.record('10.0.0.1', 'acl_denied', { topic: 'd' });
    expect(t.lines[2]).toMatchObject({ event: 'x.acl_denied', topic: 'd' });
  });

  it('tracks at most maxSources sources; the rest share one bucket that is slowed as one', () => {
    const t = setup(false, 3);
    open = t.log;
    for (let s = 0; s < 3; s++) t.log.record(`10.0.0.${s}`, 'auth_failed');
    const waits = Array.from({ length: 7 }, (_, i) => t.log.record(`10.1.0.${i}`, 'auth_failed'));
    expect(t.log.trackedSources).toBe(4);
    expect(waits).toEqual([0, 0, 0, 0, 0, 250, 500]);
    // Sources quiet for a whole window are forgotten.
    t.log.flush();
    t.advance(61_000);
    t.log.flush();
    expect(t.log.trackedSources).toBe(0);
  });
});
