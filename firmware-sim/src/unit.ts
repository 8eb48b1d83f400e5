/**
 * One unit's truth timeline: what the machine really did, as a list of contiguous segments
 * [startMs, endMs) with an engine state (off / idle / working) and where it was. Everything
 * else — meters, readings, usage truth — is derived from this list, so the truth and the
 * published stream cannot disagree about what happened.
 *
 * The state machine per machine class (classes.ts): engine off at night and on Sundays,
 * shifts in the site's local time (so a DST change moves the shift with the wall clock),
 * warm-up idle, alternating work and idle blocks, lunch and short breaks with the engine
 * off, cool-down idle. Generators run round the clock: loaded on weekdays 06:00–20:00,
 * standby idle otherwise, with a short daily refuelling stop.
 *
 * Moves (trailering to another part of the site) happen only with the engine off, and are
 * placed so that the attribution rule reproduces the truth exactly: the machine is still at
 * the old place at the first reading after the engine stops, and already at the new place
 * at the last reading before it starts again. No engine state changes within an hour of
 * local midnight, so splitting a reading interval across midnight "in proportion to time"
 * is exact even when the interval does not divide the day.
 *
 * All boundaries are whole seconds, so engine time is an integer number of seconds and the
 * hour meter is exact before its final rounding.
 */
import type { Unit } from '@ironledger/contracts';
import type { ClassProfile } from './classes.js';
import type { Prng } from './prng.js';
import { DAY_MS, localDays, MINUTE_MS, SECOND_MS, weekdayOf, zonedTime } from './time.js';
import type { SiteGeo } from './world.js';

export type EngineState = 'off' | 'idle' | 'work';

/** Where a unit is during a segment: a location index on its site, or on a trailer. */
export type Place = { at: number } | { from: number; to: number };

export interface Segment {
  startMs: number;
  endMs: number;
  engine: EngineState;
  place: Place;
}

export interface TimelineInput {
  unit: Unit;
  profile: ClassProfile;
  geo: SiteGeo;
  /** Window the timeline covers, [startMs, endMs). */
  startMs: number;
  endMs: number;
  /** Reading interval: moves are placed between reading boundaries. */
  intervalMs: number;
  prng: Prng;
  /** Spans the engine is forced off (an ECU swap in the workshop). */
  forcedOff?: ReadonlyArray<{ startMs: number; endMs: number }>;
}

export interface Move {
  /** Departure and arrival, strictly between two reading boundaries with the engine off. */
  departMs: number;
  arriveMs: number;
  from: number;
  to: number;
}

export interface Timeline {
  unitId: string;
  segments: Segment[];
  moves: Move[];
}

interface OnPeriod {
  startMs: number;
  endMs: number;
  /** What kind of engine-off stretch follows: decides the chance of a move. */
  followedBy: 'lunch' | 'break' | 'overnight';
}

const sec = (ms: number) => Math.round(ms / SECOND_MS) * SECOND_MS;

/** Shift engine-on periods of a non-continuous machine for one local day. */
function shiftPeriods(day: string, input: TimelineInput, prng: Prng): OnPeriod[] {
  const { profile, geo } = input;
  const tz = geo.site.timeZone;
  const wd = weekdayOf(day);
  let startMin: number;
  let endMin: number;
  let fullDay = true;
  if (wd >= 1 && wd <= 5) {
    startMin = profile.shiftStartMin;
    endMin = profile.shiftEndMin;
  } else if (wd === 6 && prng.chance(profile.saturdayChance)) {
    startMin = 7 * 60;
    endMin = 12 * 60;
    fullDay = false;
  } else {
    return [];
  }
  const at = (min: number) => sec(zonedTime(day, min, tz) + prng.int(0, 59) * SECOND_MS);
  const start = at(startMin + prng.int(-15, 20));
  const end = at(endMin + prng.int(-20, 30));
  const periods: OnPeriod[] = [];
  let cursor = start;
  if (fullDay && prng.chance(0.4)) {
    const bStart = cursor + prng.int(90, 180) * MINUTE_MS;
    const bEnd = bStart + prng.int(10, 25) * MINUTE_MS;
    if (bEnd < zonedTime(day, 11 * 60 + 30, tz)) {
      periods.push({ startMs: cursor, endMs: bStart, followedBy: 'break' });
      cursor = bEnd;
    }
  }
  if (fullDay && prng.chance(0.85)) {
    const lStart = at(12 * 60 + prng.int(-20, 30));
    const lEnd = lStart + prng.int(25, 45) * MINUTE_MS;
    if (lStart > cursor && lEnd < end) {
      periods.push({ startMs: cursor, endMs: lStart, followedBy: 'lunch' });
      cursor = lEnd;
    }
  }
  periods.push({ startMs: cursor, endMs: end, followedBy: 'overnight' });
  return periods;
}

class SegmentBuilder {
  readonly segments: Segment[] = [];
  constructor(public cursor: number) {}

  /** Extends the timeline to `untilMs` in the given state (merging with a like segment). */
  push(untilMs: number, engine: EngineState, place: Place): void {
    if (untilMs <= this.cursor) return;
    const last = this.segments[this.segments.length - 1];
    if (last && last.engine === engine && samePlace(last.place, place)) last.endMs = untilMs;
    else this.segments.push({ startMs: this.cursor, endMs: untilMs, engine, place });
    this.cursor = untilMs;
  }
}

function samePlace(a: Place, b: Place): boolean {
  if ('at' in a) return 'at' in b && a.at === b.at;
  return 'from' in b && a.from === b.from && a.to === b.to;
}

/** Fills an engine-on period with warm-up, alternating work/idle blocks and cool-down. */
function fillOnPeriod(b: SegmentBuilder, p: OnPeriod, profile: ClassProfile, place: Place, prng: Prng): void {
  const warm = Math.min(p.endMs, p.startMs + prng.int(2 * 60, 8 * 60) * SECOND_MS);
  b.push(p.startMs, 'off', place);
  b.push(warm, 'idle', place);
  const coolFrom = Math.max(b.cursor, p.endMs - prng.int(60, 4 * 60) * SECOND_MS);
  while (b.cursor < coolFrom) {
    const [wMin, wMax] = profile.workBlockMin;
    const [iMin, iMax] = profile.idleBlockMin;
    b.push(Math.min(coolFrom, b.cursor + prng.int(wMin * 60, wMax * 60) * SECOND_MS), 'work', place);
    b.push(Math.min(coolFrom, b.cursor + prng.int(iMin * 60, iMax * 60) * SECOND_MS), 'idle', place);
  }
  b.push(p.endMs, 'idle', place);
}

/** Engine-off stretch [offStart, offEnd): maybe a move, placed between reading boundaries. */
function planMove(
  offStart: number,
  offEnd: number,
  input: TimelineInput,
  from: number,
  chance: number,
  prng: Prng,
): Move | null {
  const n = input.geo.locations.length;
  // Draw both numbers whatever happens, so a change in one place does not shift the stream.
  const roll = prng.next();
  const pick = prng.int(1, Math.max(1, n - 1));
  if (n < 2 || roll >= chance) return null;
  const i = input.intervalMs;
  const b1 = Math.ceil(offStart / i) * i;
  const b2 = Math.floor(offEnd / i) * i;
  if (b2 <= b1 || b1 < input.startMs || b2 > input.endMs) return null;
  const margin = Math.max(SECOND_MS, sec(Math.min(5 * MINUTE_MS, (b2 - b1) / 4)));
  const departMs = b1 + margin;
  const arriveMs = b2 - margin;
  if (arriveMs <= departMs) return null;
  return { departMs, arriveMs, from, to: (from + pick) % n };
}

function initialLocation(input: TimelineInput, prng: Prng): number {
  const locs = input.geo.locations;
  // Most machines start on a project; about one in six in the yard (default project).
  const onProject = locs
    .map((l, k) => (l.projectId === input.geo.site.defaultProjectId ? -1 : k))
    .filter((k) => k >= 0);
  const yard = locs.findIndex((l) => l.projectId === input.geo.site.defaultProjectId);
  if (onProject.length === 0) return 0;
  if (yard >= 0 && prng.chance(1 / 6)) return yard;
  return prng.pick(onProject);
}

export function buildTimeline(input: TimelineInput): Timeline {
  const { profile, geo, prng } = input;
  const tz = geo.site.timeZone;
  const days = localDays(input.startMs - DAY_MS, input.endMs + DAY_MS, tz);
  const first = days[0];
  if (!first) throw new Error('empty simulation window');
  const b = new SegmentBuilder(first.startMs);
  const moves: Move[] = [];
  let loc = initialLocation(input, prng);

  if (profile.continuous) {
    for (const d of days) {
      const place = { at: loc };
      const wd = weekdayOf(d.day);
      const loadFrom = zonedTime(d.day, profile.shiftStartMin, tz);
      const loadTo = zonedTime(d.day, profile.shiftEndMin, tz);
      const refuel = sec(zonedTime(d.day, 10 * 60 + prng.int(0, 45), tz) + prng.int(0, 59) * SECOND_MS);
      const refuelEnd = refuel + prng.int(15, 25) * MINUTE_MS;
      const weekday = wd >= 1 && wd <= 5;
      b.push(weekday ? loadFrom : refuel, 'idle', place);
      b.push(refuel, weekday ? 'work' : 'idle', place);
      b.push(refuelEnd, 'off', place);
      b.push(weekday ? loadTo : d.endMs, weekday ? 'work' : 'idle', place);
      b.push(d.endMs, 'idle', place);
    }
  } else {
    const periods = days.flatMap((d) => shiftPeriods(d.day, input, prng));
    periods.forEach((p, k) => {
      fillOnPeriod(b, p, profile, { at: loc }, prng);
      const next = periods[k + 1];
      const offEnd = next ? next.startMs : (days[days.length - 1] as { endMs: number }).endMs;
      const chance =
        p.followedBy === 'lunch'
          ? profile.moveChance.lunch
          : p.followedBy === 'overnight'
            ? profile.moveChance.overnight
            : 0;
      const move = planMove(p.endMs, offEnd, input, loc, chance, prng);
      if (move) {
        b.push(move.departMs, 'off', { at: loc });
        b.push(move.arriveMs, 'off', { from: move.from, to: move.to });
        moves.push(move);
        loc = move.to;
      }
    });
    b.push((days[days.length - 1] as { endMs: number }).endMs, 'off', { at: loc });
  }

  let segments = b.segments;
  for (const f of input.forcedOff ?? []) segments = forceOff(segments, f.startMs, f.endMs);
  return {
    unitId: input.unit.unitId,
    segments: clip(segments, input.startMs, input.endMs),
    moves: moves.filter((m) => m.departMs >= input.startMs && m.arriveMs <= input.endMs),
  };
}

/** Engine off in [a, b), whatever was planned (the machine is in the workshop). */
export function forceOff(segments: Segment[], a: number, b: number): Segment[] {
  const out: Segment[] = [];
  for (const s of segments) {
    if (s.endMs <= a || s.startMs >= b || s.engine === 'off') {
      out.push(s);
      continue;
    }
    if (s.startMs < a) out.push({ ...s, endMs: a });
    out.push({ ...s, startMs: Math.max(a, s.startMs), endMs: Math.min(b, s.endMs), engine: 'off' });
    if (s.endMs > b) out.push({ ...s, startMs: b });
  }
  return out;
}

function clip(segments: Segment[], a: number, b: number): Segment[] {
  return segments
    .filter((s) => s.endMs > a && s.startMs < b)
    .map((s) => ({ ...s, startMs: Math.max(a, s.startMs), endMs: Math.min(b, s.endMs) }));
}

/** The segment in force at instant t (start ≤ t < end); the last one at the window's end. */
export function segmentAt(segments: readonly Segment[], t: number, hint = 0): number {
  let k = Math.max(0, Math.min(hint, segments.length - 1));
  while (k > 0 && (segments[k] as Segment).startMs > t) k--;
  while (k < segments.length - 1 && (segments[k] as Segment).endMs <= t) k++;
  return k;
}
