import { describe, expect, it } from 'vitest';
import { colourEnabled, palette, visibleWidth } from './colour.js';
import { renderCsv } from './csv.js';
import { type Fields, fieldsCsv, tableColumns } from './fields.js';
import {
  formatMinorAmount,
  formatMoney,
  formatTotals,
  minorDigits,
  sumMinor,
  totalsByCurrency,
} from './money.js';
import { bar } from './progress.js';
import { renderTable } from './table.js';
import { formatAgo, formatDuration, formatInstant } from './time.js';

describe('money', () => {
  it('formats integer minor units with the currency digits', () => {
    expect(formatMoney(1234567, 'USD')).toBe('USD 12,345.67');
    expect(formatMoney(-50, 'EUR')).toBe('EUR -0.50');
    expect(formatMoney(0, 'USD')).toBe('USD 0.00');
    expect(formatMoney(1500, 'JPY')).toBe('JPY 1,500');
    expect(formatMoney(1234, 'BHD')).toBe('BHD 1.234');
    expect(formatMinorAmount(100000, 'USD', { grouping: false })).toBe('1000.00');
    expect(minorDigits('USD')).toBe(2);
  });

  it('refuses fractional minor units instead of rounding them', () => {
    expect(() => formatMoney(10.5, 'USD')).toThrow(RangeError);
    expect(() => sumMinor([1, 0.1])).toThrow(RangeError);
  });

  it('sums per currency and never across currencies', () => {
    const t = totalsByCurrency([
      { amountMinor: 10, currency: 'USD' },
      { amountMinor: 5, currency: 'EUR' },
      { amountMinor: 20, currency: 'USD' },
    ]);
    expect([...t]).toEqual([
      ['USD', 30],
      ['EUR', 5],
    ]);
    expect(formatTotals(t)).toBe('USD 0.30 + EUR 0.05');
    expect(formatTotals(new Map())).toBe('-');
  });

  it('adds 0.1 + 0.2 dollars exactly (as cents)', () => {
    expect(sumMinor([10, 20])).toBe(30);
    expect(formatMoney(sumMinor([10, 20]), 'USD')).toBe('USD 0.30');
  });
});

describe('table', () => {
  it('aligns columns, right-aligns numbers and ignores colour in widths', () => {
    const c = palette(true);
    const out = renderTable(
      [
        { id: 'a', n: 1 },
        { id: 'long-id', n: 1234 },
      ],
      [
        { header: 'ID', value: (r) => r.id, style: (s) => c.red(s) },
        { header: 'N', value: (r) => String(r.n), align: 'right' },
      ],
      { footer: [['TOTAL', '1235']] },
    );
    const lines = out
      .replaceAll(`${String.fromCharCode(27)}[31m`, '')
      .replaceAll(`${String.fromCharCode(27)}[39m`, '')
      .split('\n');
    expect(lines[0]).toBe('ID          N');
    expect(lines[1]).toBe('a           1');
    expect(lines[2]).toBe('long-id  1234');
    expect(lines[3]).toMatch(/^─+$/);
    expect(lines[4]).toBe('TOTAL    1235');
  });

  it('keeps each row on one line whatever the server sends', () => {
    const out = renderTable(
      [{ m: 'record does not exist.\nModel: x\n' }],
      [{ header: 'MESSAGE', value: (r) => r.m }],
    );
    expect(out).toBe('MESSAGE\nrecord does not exist. Model: x\n');
  });

  it('measures visible width without ANSI escapes', () => {
    expect(visibleWidth(palette(true).bold('abc'))).toBe(3);
  });

  it('aligns wide characters by the columns a terminal gives them', () => {
    // CJK and emoji take two columns, a combining accent none: the next column starts at the same place.
    const out = renderTable(
      [{ p: 'P-東京-タワー' }, { p: 'P-RIVERSIDE' }, { p: 'Cafe\u0301 🚜' }],
      [
        { header: 'PROJECT', value: (r) => r.p },
        { header: 'H', value: () => '1.00', align: 'right' },
      ],
    );
    const lines = out.trimEnd().split('\n');
    const hoursColumn = lines.slice(1).map((l) => visibleWidth(l.slice(0, l.indexOf('1.00'))));
    expect(new Set(hoursColumn).size).toBe(1);
    expect(lines[1]).toBe('P-東京-タワー  1.00');
    expect(lines[2]).toBe('P-RIVERSIDE    1.00');
    expect(visibleWidth('東京')).toBe(4);
    expect(visibleWidth('Cafe\u0301')).toBe(4);
  });
});

describe('colour', () => {
  it('is on only for a TTY without NO_COLOR, and can be forced', () => {
    expect(colourEnabled({ isTTY: true }, {})).toBe(true);
    expect(colourEnabled({ isTTY: false }, {})).toBe(false);
    expect(colourEnabled({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(colourEnabled({ isTTY: true }, {}, true)).toBe(false);
    expect(colourEnabled({ isTTY: true }, { TERM: 'dumb' })).toBe(false);
    expect(colourEnabled({ isTTY: false }, { FORCE_COLOR: '1' })).toBe(true);
    expect(palette(false).red('x')).toBe('x');
  });
});

describe('csv', () => {
  it('quotes per RFC 4180 and defuses formulas', () => {
    const out = renderCsv(
      ['a', 'b', 'c'],
      [
        ['x,y', 'say "hi"', null],
        ['=SUM(A1)', -1.5, '-note'],
      ],
    );
    expect(out).toBe('a,b,c\r\n"x,y","say ""hi""",\r\n\'=SUM(A1),-1.5,\'-note\r\n');
  });
});

describe('fields: one column definition for table and CSV', () => {
  type Row = { unit: string; hours: number; note: string };
  const fields: Fields<Row, 'unit' | 'hours' | 'note'> = {
    unit: {
      table: { header: 'UNIT', value: (r) => r.unit },
      csv: { header: 'unit_id', value: (r) => r.unit },
    },
    hours: {
      table: { header: 'HOURS', value: (r) => r.hours.toFixed(2), align: 'right' },
      csv: { header: 'hours', value: (r) => r.hours },
    },
    note: { csv: { header: 'note', value: (r) => r.note } },
  };
  const rows: Row[] = [{ unit: 'EXC-1', hours: 1.5, note: 'a, b' }];

  it('renders the table parts as a table and the csv parts as CSV, each in its own order', () => {
    expect(renderTable(rows, tableColumns(fields, ['unit', 'hours']))).toBe('UNIT   HOURS\nEXC-1   1.50\n');
    expect(fieldsCsv(rows, fields, ['hours', 'unit', 'note'])).toBe(
      'hours,unit_id,note\r\n1.5,EXC-1,"a, b"\r\n',
    );
  });

  it('refuses an order naming a column the output has no part for', () => {
    expect(() => tableColumns(fields, ['note'])).toThrow(/no table part/);
  });
});

describe('time', () => {
  it('formats durations and ages', () => {
    expect(formatDuration(null)).toBe('-');
    expect(formatDuration(42)).toBe('42s');
    expect(formatDuration(300)).toBe('5m');
    expect(formatDuration(3 * 3600 + 5 * 60)).toBe('3h 05m');
    expect(formatDuration(3 * 86400 + 4 * 3600)).toBe('3d 04h');
    const now = new Date('2026-11-23T10:00:00.000Z');
    expect(formatAgo('2026-11-23T09:57:00.000Z', now)).toBe('3m ago');
    expect(formatAgo(null, now)).toBe('never');
    expect(formatInstant('2026-11-23T08:15:00.000Z')).toBe('2026-11-23 08:15:00Z');
  });
});

describe('progress', () => {
  it('draws a bounded bar', () => {
    expect(bar(5, 10, 10)).toBe('[#####.....]');
    expect(bar(0, 0, 4)).toBe('[####]');
    expect(bar(20, 10, 4)).toBe('[####]');
  });
});
