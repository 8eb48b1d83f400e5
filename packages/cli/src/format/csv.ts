/**
 * RFC 4180 CSV: comma-separated, CRLF line ends, fields quoted when they hold a comma, quote
 * or line break. Text that a spreadsheet would run as a formula (`=`, `+`, `@`, or `-` not
 * followed by a number) is prefixed with `'` (OWASP CSV injection guidance).
 */
export type CsvValue = string | number | boolean | null | undefined;

function cell(v: CsvValue): string {
  if (v === null || v === undefined) return '';
  let s = String(v);
  if (typeof v === 'string' && /^[=+@\t\r]|^-(?![\d.])/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function renderCsv(header: readonly string[], rows: readonly (readonly CsvValue[])[]): string {
  return `${[header, ...rows].map((r) => r.map(cell).join(',')).join('\r\n')}\r\n`;
}
