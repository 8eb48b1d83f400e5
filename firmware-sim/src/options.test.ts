import { describe, expect, it } from 'vitest';
import { parseDuration, parseOptions, UsageError } from './options.js';

describe('command-line options', () => {
  it('has the documented defaults', () => {
    const o = parseOptions([]);
    expect(o.brokerUrl).toBe('mqtt://127.0.0.1:1883');
    expect(o.units).toBe(5);
    expect(o.world.units).toHaveLength(5);
    expect(o.seed).toBe('1');
    // 2026-11-02 is a Monday; local midnight of the first site (London, GMT in November).
    expect(new Date(o.startMs).toISOString()).toBe('2026-11-02T00:00:00.000Z');
    expect(o.days).toBe(1);
    expect(o.intervalMs).toBe(300_000);
    expect(o.pace).toEqual({ mode: 'speed', speed: 60 });
    expect(o.format).toBe('canonical');
    expect(o.faults.enabled).toEqual([]);
    expect(o.qos).toBe(1);
    expect(o.giveUpAfterMs).toBeNull();
  });

  it('reads durations in 30s / 5m / 1h forms', () => {
    expect(parseDuration('interval', '30s')).toBe(30_000);
    expect(parseDuration('interval', '5m')).toBe(300_000);
    expect(parseDuration('interval', '1h')).toBe(3_600_000);
    expect(parseDuration('interval', '1.5h')).toBe(5_400_000);
    expect(parseDuration('give-up-after', '2500')).toBe(2500);
    expect(parseOptions(['--interval', '30s']).intervalMs).toBe(30_000);
    expect(parseOptions(['--interval', '60']).intervalMs).toBe(60_000);
  });

  it('reads the start as a local day or an instant', () => {
    expect(new Date(parseOptions(['--start', '2026-07-01']).startMs).toISOString()).toBe(
      '2026-06-30T23:00:00.000Z',
    );
    expect(new Date(parseOptions(['--start', '2026-11-02T06:00:00-06:00']).startMs).toISOString()).toBe(
      '2026-11-02T12:00:00.000Z',
    );
  });

  it('reads pace, faults and their parameters', () => {
    expect(parseOptions(['--as-fast-as-possible']).pace).toEqual({ mode: 'afap' });
    expect(parseOptions(['--rate', '2000']).pace).toEqual({ mode: 'rate', rate: 2000 });
    const o = parseOptions([
      '--faults',
      'duplicate, malformed,duplicate',
      '--malformed-rate',
      '0.5',
      '--reset-at',
      '2026-11-02T11:00:00Z',
    ]);
    expect(o.faults.enabled).toEqual(['duplicate', 'malformed']);
    expect(o.faults.malformedRate).toBe(0.5);
    expect(o.faults.resetAtMs).toBe(Date.parse('2026-11-02T11:00:00Z'));
  });

  it.each([
    [['--units', '0'], /--units/],
    [['--units', 'many'], /--units/],
    [['--interval', '5x'], /--interval/],
    [['--interval', '500ms'], /--interval/],
    [['--start', 'yesterday'], /--start/],
    [['--format', 'xml'], /--format/],
    [['--faults', 'gremlins'], /--faults: "gremlins"/],
    [['--malformed-rate', '2'], /--malformed-rate/],
    [['--speed', '10', '--as-fast-as-possible'], /alternatives/],
    [['--qos', '2'], /--qos/],
    [['--broker', 'http://x'], /--broker/],
    [['--nope'], /nope/],
    [['--units'], /units/],
    [['--reset-at', '2027-01-01T00:00:00Z'], /--reset-at/],
  ])('refuses %j naming the flag', (argv, re) => {
    expect(() => parseOptions(argv)).toThrow(UsageError);
    expect(() => parseOptions(argv)).toThrow(re);
  });
});
