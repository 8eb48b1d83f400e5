/**
 * One definition per column for both outputs of a list: its table header and display text
 * (formatted for people) and its CSV header and value (raw, for spreadsheets), side by side, so
 * the two can never disagree about what a column holds. Each output names the columns it shows,
 * in its own order (the CSV keeps the machine-friendly order scripts already rely on).
 */
import { type CsvValue, renderCsv } from './csv.js';
import type { Column } from './table.js';

export interface Field<T> {
  /** Table part; absent for CSV-only fields. */
  table?: Column<T>;
  /** CSV part: snake_case header and the raw value (numbers unformatted, null as empty). */
  csv?: { header: string; value: (row: T) => CsvValue };
}

export type Fields<T, K extends string> = Record<K, Field<T>>;

/** The table columns of `order`, each from its field's table part. */
export function tableColumns<T, K extends string>(fields: Fields<T, K>, order: readonly K[]): Column<T>[] {
  return order.map((k) => {
    const t = fields[k].table;
    if (!t) throw new Error(`field ${k} has no table part`);
    return t;
  });
}

/** RFC 4180 CSV of `rows` with the CSV columns of `order`. */
export function fieldsCsv<T, K extends string>(
  rows: readonly T[],
  fields: Fields<T, K>,
  order: readonly K[],
): string {
  const parts = order.map((k) => {
    const c = fields[k].csv;
    if (!c) throw new Error(`field ${k} has no csv part`);
    return c;
  });
  return renderCsv(
    parts.map((p) => p.header),
    rows.map((r) => parts.map((p) => p.value(r))),
  );
}
