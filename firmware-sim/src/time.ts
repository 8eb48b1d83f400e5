/**
 * Site-local calendar arithmetic on UTC instants (milliseconds since the epoch), with the
 * IANA time-zone database that ships with Node's Intl. Pure functions; formatters and day
 * boundaries are cached per zone because the simulator asks the same questions millions of
 * times.
 *
 * A site-local day is the half-open interval [local midnight, next local midnight); across a
 * DST change it lasts 23 or 25 hours.
 */

export const SECOND_MS = 1000;
export const MINUTE_MS = 60 * SECOND_MS;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      weekday: 'short',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

export interface LocalParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  /** 0 = Sunday … 6 = Saturday. */
  weekday: number;
}

const WEEKDAYS: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

export function localParts(ms: number, timeZone: string): LocalParts {
  const out: LocalParts = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0, weekday: 0 };
  for (const p of formatter(timeZone).formatToParts(ms)) {
    switch (p.type) {
      case 'year':
        out.year = Number(p.value);
        break;
      case 'month':
        out.month = Number(p.value);
        break;
      case 'day':
        out.day = Number(p.value);
        break;
      case 'hour':
        out.hour = Number(p.value);
        break;
      case 'minute':
        out.minute = Number(p.value);
        break;
      case 'second':
        out.second = Number(p.value);
        break;
      case 'weekday':
        out.weekday = WEEKDAYS[p.value] ?? 0;
        break;
    }
  }
  return out;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** The site-local calendar day of an instant, `YYYY-MM-DD`. */
export function localDay(ms: number, timeZone: string): string {
  const p = localParts(ms, timeZone);
  return `${pad(p.year, 4)}-${pad(p.month)}-${pad(p.day)}`;
}

/** UTC offset of the zone at an instant, in ms (local = utc + offset). */
export function offsetMs(ms: number, timeZone: string): number {
  const p = localParts(ms, timeZone);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return asUtc - (ms - (((ms % 1000) + 1000) % 1000));
}

/**
 * The instant at which the local wall clock shows `day` (YYYY-MM-DD) and `minuteOfDay`.
 * A wall time skipped by a DST change reads with the offset in force before the change
 * (01:30 in a 01:00→02:00 gap is the instant shown as 02:30); a repeated wall time resolves
 * to its first occurrence.
 */
export function zonedTime(day: string, minuteOfDay: number, timeZone: string): number {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  const wall = Date.UTC(y, m - 1, d) + minuteOfDay * MINUTE_MS;
  // Two candidates: the wall time read with the offsets in force 14 h either side.
  const candidates = [
    wall - offsetMs(wall - 14 * HOUR_MS, timeZone),
    wall - offsetMs(wall + 14 * HOUR_MS, timeZone),
  ];
  const exact = candidates.filter((c) => c + offsetMs(c, timeZone) === wall).sort((a, b) => a - b);
  if (exact.length > 0) return exact[0] as number;
  // In a gap: the first instant whose wall clock is at or past `wall`.
  return Math.min(...candidates.filter((c) => c + offsetMs(c, timeZone) >= wall), Math.max(...candidates));
}

/** Local midnight that starts `day` in the zone. */
export function dayStart(day: string, timeZone: string): number {
  return zonedTime(day, 0, timeZone);
}

/** The day after `day` (calendar arithmetic, no zone needed). */
export function nextDay(day: string): string {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d + 1)).toISOString().slice(0, 10);
}

/** Day of week of a calendar day, 0 = Sunday. */
export function weekdayOf(day: string): number {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d)).getUTCDay();
}

export interface DaySpan {
  day: string;
  startMs: number;
  endMs: number;
}

/**
 * The site-local days that overlap [fromMs, toMs), each with its exact start and end
 * instants (23, 24 or 25 hours long).
 */
export function localDays(fromMs: number, toMs: number, timeZone: string): DaySpan[] {
  const out: DaySpan[] = [];
  let day = localDay(fromMs, timeZone);
  let start = dayStart(day, timeZone);
  while (start < toMs) {
    const next = nextDay(day);
    const end = dayStart(next, timeZone);
    if (end > fromMs) out.push({ day, startMs: start, endMs: end });
    day = next;
    start = end;
  }
  return out;
}

/**
 * Splits [fromMs, toMs) at local midnights: calls `each(day, from, to)` for each piece.
 * The workhorse of day attribution, for truth and for the attribution rule alike.
 */
export function splitByDay(
  fromMs: number,
  toMs: number,
  timeZone: string,
  each: (day: string, fromMs: number, toMs: number) => void,
): void {
  if (toMs <= fromMs) return;
  for (const span of cachedDays(timeZone, fromMs, toMs)) {
    const a = Math.max(fromMs, span.startMs);
    const b = Math.min(toMs, span.endMs);
    if (b > a) each(span.day, a, b);
  }
}

// Day spans per zone, cached by UTC calendar day of the instant, so splitByDay costs a map
// look-up in the common case.
const dayCache = new Map<string, DaySpan[]>();

function cachedDays(timeZone: string, fromMs: number, toMs: number): DaySpan[] {
  if (toMs - fromMs > 2 * DAY_MS) return localDays(fromMs, toMs, timeZone);
  const key = `${timeZone}|${Math.floor(fromMs / DAY_MS)}`;
  let spans = dayCache.get(key);
  if (!spans) {
    const base = Math.floor(fromMs / DAY_MS) * DAY_MS;
    // Days overlapping [base - 1 d, base + 4 d) cover any interval of up to 2 days from here.
    spans = localDays(base - DAY_MS, base + 4 * DAY_MS, timeZone);
    if (dayCache.size > 10_000) dayCache.clear();
    dayCache.set(key, spans);
  }
  return spans.filter((s) => s.endMs > fromMs && s.startMs < toMs);
}

/** ISO-8601 UTC with milliseconds, as Contract 1 normalises ts. */
export function iso(ms: number): string {
  return new Date(ms).toISOString();
}
