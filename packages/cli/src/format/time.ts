/** Durations, ages and hours as people read them. Durations are in seconds (S) unless named. */

/** `42s`, `5m`, `3h 05m`, `2d 04h`; `-` for null. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '-';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  const d = Math.floor(h / 24);
  return `${d}d ${String(h % 24).padStart(2, '0')}h`;
}

/** How long ago an ISO instant was, relative to `now`: `3m ago`; `never` for null. */
export function formatAgo(iso: string | null | undefined, now: Date): string {
  if (!iso) return 'never';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const s = (now.getTime() - t) / 1000;
  if (s < -1) return `in ${formatDuration(-s)}`;
  return `${formatDuration(s)} ago`;
}

/** Hours with two decimals (`12.50`). Display only: sums are made on the raw numbers. */
export function formatHours(h: number | null | undefined): string {
  if (h === null || h === undefined || !Number.isFinite(h)) return '-';
  return h.toFixed(2);
}

/** `2026-11-23T08:15:00.000Z` → `2026-11-23 08:15:00Z` for tables. */
export function formatInstant(iso: string | null | undefined): string {
  if (!iso) return '-';
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.\d+)?Z$/.exec(iso);
  return m ? `${m[1]} ${m[2]}Z` : iso;
}
