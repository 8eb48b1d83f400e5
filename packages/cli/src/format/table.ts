/**
 * Aligned plain-text tables in the style of kubectl/gh: upper-case headers, two spaces
 * between columns, numbers right-aligned. Widths are measured before colour is applied, so
 * styled cells never shift the columns.
 */
import { visibleWidth } from './colour.js';

export interface Column<T> {
  header: string;
  value: (row: T) => string;
  align?: 'left' | 'right';
  /** Colour or emphasis applied after padding; must not change the visible text. */
  style?: (padded: string, row: T) => string;
}

export interface TableOptions {
  /** Extra rows (already cell-split) printed under a rule, e.g. totals. */
  footer?: string[][];
  /** Header styling (bold on a TTY). */
  headerStyle?: (s: string) => string;
  ruleStyle?: (s: string) => string;
}

const GAP = '  ';

function pad(s: string, width: number, align: 'left' | 'right'): string {
  const fill = ' '.repeat(Math.max(0, width - visibleWidth(s)));
  return align === 'right' ? fill + s : s + fill;
}

/** Text from the server (Odoo messages, reasons) on one line: a line break would tear a table apart. */
export function oneLine(s: string): string {
  return s.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

export function renderTable<T>(
  rows: readonly T[],
  columns: readonly Column<T>[],
  opts: TableOptions = {},
): string {
  const cells = rows.map((r) => columns.map((c) => oneLine(c.value(r))));
  const footer = opts.footer ?? [];
  const widths = columns.map((c, i) =>
    Math.max(
      visibleWidth(c.header),
      ...cells.map((row) => visibleWidth(row[i] ?? '')),
      ...footer.map((row) => visibleWidth(row[i] ?? '')),
    ),
  );
  const last = columns.length - 1;
  const line = (parts: string[]) => parts.join(GAP).replace(/\s+$/, '');
  const headerStyle = opts.headerStyle ?? ((s: string) => s);
  const out: string[] = [];
  out.push(
    line(
      columns.map((c, i) =>
        headerStyle(pad(c.header, i === last && c.align !== 'right' ? 0 : widths[i]!, c.align ?? 'left')),
      ),
    ),
  );
  rows.forEach((row, r) => {
    out.push(
      line(
        columns.map((c, i) => {
          const padded = pad(cells[r]![i] ?? '', widths[i]!, c.align ?? 'left');
          return c.style ? c.style(padded, row) : padded;
        }),
      ),
    );
  });
  if (footer.length > 0) {
    const total = widths.reduce((a, w) => a + w, 0) + GAP.length * last;
    out.push((opts.ruleStyle ?? ((s: string) => s))('─'.repeat(total)));
    for (const f of footer)
      out.push(line(columns.map((c, i) => pad(f[i] ?? '', widths[i]!, c.align ?? 'left'))));
  }
  return `${out.join('\n')}\n`;
}

/** "key: value" lines with the keys aligned, for `show` commands. */
export function renderFields(
  fields: readonly [string, string][],
  keyStyle: (s: string) => string = (s) => s,
): string {
  const w = Math.max(0, ...fields.map(([k]) => visibleWidth(k)));
  return `${fields.map(([k, v]) => `${keyStyle(pad(`${k}:`, w + 1, 'left'))} ${v}`).join('\n')}\n`;
}
