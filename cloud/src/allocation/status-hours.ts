/**
 * Hours per billing status, pure (README "Billing rules"). A unit's time on a project is one of:
 *
 * - **working**: engine running, not idle (engine meter − idle meter);
 * - **idle**: engine running, idle meter rising;
 * - **standby**: engine off, on the project, during the project's operating hours
 *   (Spectrum's and CLUE's standby: the machine is held available for the job);
 * - **off-hours**: engine off, on the project, outside its operating hours (CLUE's "yard").
 *
 * Between two consecutive readings the meters prove how long the engine ran, not when; the
 * engine-off part of an interval (elapsed − engine hours) is spread over it in proportion to
 * time, so the share that falls inside the operating window is standby and the rest
 * off-hours. An interval whose meters prove nothing (a reset or a jump) counts no status
 * time at all: what happened then is unknown, and unknown time is never billed.
 *
 * The operating window is site-local: `start`–`end` on the calendar's weekdays, none on its
 * holidays, so on a DST day a 07:00–17:00 window is still 10 h while the day is 23 or 25 h.
 */
import type { ProjectCalendar, Weekday } from '@ironledger/contracts';

const HOUR_MS = 3_600_000;
const WEEKDAY_BY_UTC_DAY: Weekday[] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

export interface StatusHours {
  working: number;
  idle: number;
  standby: number;
  offHours: number;
}

export const ZERO_STATUS_HOURS: Readonly<StatusHours> = Object.freeze({
  working: 0,
  idle: 0,
  standby: 0,
  offHours: 0,
});

export function addStatusHours(a: StatusHours, b: StatusHours): StatusHours {
  return {
    working: a.working + b.working,
    idle: a.idle + b.idle,
    standby: a.standby + b.standby,
    offHours: a.offHours + b.offHours,
  };
}

const wallFormatters = new Map<string, Intl.DateTimeFormat>();
function wallFormatter(timeZone: string): Intl.DateTimeFormat {
  let f = wallFormatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    wallFormatters.set(timeZone, f);
  }
  return f;
}

/** The zone's offset from UTC at an instant (ms; positive east of Greenwich). */
function offsetMs(ms: number, timeZone: string): number {
  const parts = wallFormatter(timeZone).formatToParts(new Date(ms));
  const get = (t: string) => Number(parts.find((p) => p.type === t)!.value);
  const wall = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return wall - Math.floor(ms / 1000) * 1000;
}

/**
 * The instant a site-local wall time (`day` YYYY-MM-DD, `hhmm` HH:MM) happens. A wall time
 * skipped by a spring-forward change resolves to the instant one offset later.
 */
export function localTimeToUtcMs(day: string, hhmm: string, timeZone: string): number {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  const [hh, mm] = hhmm.split(':').map(Number) as [number, number];
  const wall = Date.UTC(y, m - 1, d, hh, mm);
  let guess = wall - offsetMs(wall, timeZone);
  guess = wall - offsetMs(guess, timeZone);
  return guess;
}

export function weekdayOf(day: string): Weekday {
  return WEEKDAY_BY_UTC_DAY[new Date(`${day}T12:00:00Z`).getUTCDay()]!;
}

/** The project's operating window on a site-local day, or null when it does not operate. */
export function operatingWindow(
  day: string,
  timeZone: string,
  calendar: ProjectCalendar,
): { startMs: number; endMs: number } | null {
  if (calendar.holidays.includes(day)) return null;
  if (!calendar.days.includes(weekdayOf(day))) return null;
  return {
    startMs: localTimeToUtcMs(day, calendar.start, timeZone),
    endMs: localTimeToUtcMs(day, calendar.end, timeZone),
  };
}

/**
 * Status hours of one piece of an interval, [startMs, endMs) on one day and project, over
 * which the meters counted `engineHours` of which `idleHours` idle. `known` false (a reset
 * or jump: the meters prove nothing) counts no time at all.
 */
export function classifyPiece(p: {
  startMs: number;
  endMs: number;
  engineHours: number;
  idleHours: number;
  window: { startMs: number; endMs: number } | null;
  known: boolean;
}): StatusHours {
  const elapsedH = Math.max(0, p.endMs - p.startMs) / HOUR_MS;
  const engine = Math.max(0, p.engineHours);
  const idle = Math.min(engine, Math.max(0, p.idleHours));
  if (!p.known || elapsedH === 0) return { working: engine - idle, idle, standby: 0, offHours: 0 };
  const offH = Math.max(0, elapsedH - engine);
  const overlapMs = p.window
    ? Math.max(0, Math.min(p.endMs, p.window.endMs) - Math.max(p.startMs, p.window.startMs))
    : 0;
  const standby = (offH * overlapMs) / HOUR_MS / elapsedH;
  return { working: engine - idle, idle, standby, offHours: offH - standby };
}
