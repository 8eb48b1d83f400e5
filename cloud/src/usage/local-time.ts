/**
 * Site-local calendar days from UTC instants, via Intl (IANA zones, DST included).
 * A local day is [first instant whose local date is D, first instant whose local date is D+1):
 * 24 h normally, 23 h or 25 h on DST change days.
 */
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The site-local calendar day (YYYY-MM-DD) of an instant, asked of Intl every time. */
function exactLocalDay(ms: number, timeZone: string): string {
  const parts = formatter(timeZone).formatToParts(new Date(ms));
  const get = (t: string) => parts.find((p) => p.type === t)!.value;
  return `${get('year')}-${get('month')}-${get('day')}`;
}

/**
 * Consolidation asks for the local day of every reading, and Intl costs ~10 µs a call (the
 * largest share of a full run's CPU). Instants are grouped in UTC quarter hours: when the
 * first and last millisecond of a quarter hour fall on the same local day, every instant
 * between does (a local date does not change and change back within 15 minutes), and the
 * answer is remembered; a quarter hour holding a local midnight is asked of Intl each time.
 */
const BUCKET_MS = 15 * 60_000;
/** Bounded: zones × quarter hours seen; cleared when full (~100k entries, a few MB). */
const BUCKET_DAYS_MAX = 100_000;
const bucketDays = new Map<string, Map<number, string | null>>();
let bucketDayCount = 0;

/** The site-local calendar day (YYYY-MM-DD) of an instant. */
export function localDay(ms: number, timeZone: string): string {
  let zone = bucketDays.get(timeZone);
  if (!zone) {
    zone = new Map();
    bucketDays.set(timeZone, zone);
  }
  const bucket = Math.floor(ms / BUCKET_MS);
  let day = zone.get(bucket);
  if (day === undefined) {
    const first = exactLocalDay(bucket * BUCKET_MS, timeZone);
    const last = exactLocalDay(bucket * BUCKET_MS + BUCKET_MS - 1, timeZone);
    day = first === last ? first : null;
    if (bucketDayCount >= BUCKET_DAYS_MAX) {
      for (const z of bucketDays.values()) z.clear();
      bucketDayCount = 0;
    }
    zone.set(bucket, day);
    bucketDayCount++;
  }
  return day ?? exactLocalDay(ms, timeZone);
}

const HOUR_MS = 3_600_000;

/**
 * The first instant after `ms` that falls on a later local day than `ms` does (the next
 * local midnight, or the first instant of the next day where midnight itself is skipped).
 * Found by bisection to the millisecond, which needs no knowledge of the zone's rules.
 */
export function nextLocalDayStart(ms: number, timeZone: string): number {
  const day = localDay(ms, timeZone);
  // The answer depends only on (zone, local day): remembered, as the bisection costs ~30
  // Intl calls and consolidation asks once per interval (1 ms each on a loaded machine).
  const key = `${timeZone}|${day}`;
  const known = nextDayStarts.get(key);
  if (known !== undefined) return known;
  const found = bisectNextDayStart(ms, timeZone, day);
  if (nextDayStarts.size >= NEXT_DAY_STARTS_MAX) nextDayStarts.clear();
  nextDayStarts.set(key, found);
  return found;
}

/** Bounded: zones × days seen; cleared when full (about 4 MB at most). */
const NEXT_DAY_STARTS_MAX = 50_000;
const nextDayStarts = new Map<string, number>();

function bisectNextDayStart(ms: number, timeZone: string, day: string): number {
  let lo = ms; // on `day`
  let hi = ms + 27 * HOUR_MS; // past any local day's end (the longest is 25 h)
  while (exactLocalDay(hi, timeZone) === day) hi += 24 * HOUR_MS; // zones that skip a whole day
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (exactLocalDay(mid, timeZone) === day) lo = mid;
    else hi = mid;
  }
  return hi;
}

/**
 * Splits the interval [startMs, endMs] into pieces per local day:
 * `[{ day, ms }]` whose `ms` sum to endMs − startMs. The end instant itself belongs to the
 * piece it closes (a reading exactly at midnight closes the day before).
 */
export function splitByLocalDay(
  startMs: number,
  endMs: number,
  timeZone: string,
): Array<{ day: string; ms: number }> {
  if (endMs <= startMs) return [{ day: localDay(endMs, timeZone), ms: 0 }];
  const out: Array<{ day: string; ms: number }> = [];
  let t = startMs;
  while (t < endMs) {
    const next = nextLocalDayStart(t, timeZone);
    const stop = Math.min(next, endMs);
    out.push({ day: localDay(t, timeZone), ms: stop - t });
    t = stop;
  }
  return out;
}
