import { describe, expect, it } from 'vitest';
import { isSqliteBusy, retryWhileSqliteBusy } from './index.js';

const busy = () => Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });

describe('retryWhileSqliteBusy', () => {
  it('runs the transaction again while it meets a held lock, undoing each failed attempt', () => {
    let attempts = 0;
    let undone = 0;
    const result = retryWhileSqliteBusy(
      () => {
        if (++attempts < 3) throw busy();
        return 'committed';
      },
      5000,
      () => undone++,
    );
    expect(result).toBe('committed');
    expect(attempts).toBe(3);
    expect(undone).toBe(2);
  });

  it('throws any other error at once', () => {
    let attempts = 0;
    const broken = Object.assign(new Error('constraint'), { code: 'SQLITE_CONSTRAINT_NOTNULL' });
    expect(() =>
      retryWhileSqliteBusy(() => {
        attempts++;
        throw broken;
      }, 5000),
    ).toThrow(broken);
    expect(attempts).toBe(1);
  });

  it('gives up once the timeout has passed by the clock, with the lock error', () => {
    const t0 = performance.now();
    expect(() =>
      retryWhileSqliteBusy(() => {
        throw busy();
      }, 30),
    ).toThrow('database is locked');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(30);
  });

  it('knows SQLite lock errors by their code, extended ones too', () => {
    expect(isSqliteBusy(busy())).toBe(true);
    expect(isSqliteBusy(Object.assign(new Error('x'), { code: 'SQLITE_BUSY_SNAPSHOT' }))).toBe(true);
    expect(isSqliteBusy(Object.assign(new Error('x'), { code: 'SQLITE_LOCKED' }))).toBe(false);
    expect(isSqliteBusy(new Error('database is locked'))).toBe(false);
    expect(isSqliteBusy(null)).toBe(false);
  });
});
