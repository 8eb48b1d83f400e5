/**
 * The fleet plan: for given options, everything the simulation will do, computed before a
 * single byte is sent. A pure function of (seed, options, world): the same inputs give the
 * same timelines, the same readings and the same message sequence per unit, which is what
 * makes the truth file reproducible and a run replayable.
 *
 *   world ─▶ per-unit faults ─▶ timeline (unit.ts) ─▶ samples at reading instants
 *         ─▶ reported readings (meter resets/jumps, clock faults) ─▶ messages (faults)
 */
import {
  type EquipmentClass,
  type Position,
  type Reading,
  readingToAemp,
  type TopicKind,
  type Unit,
  unitTopic,
  type World,
} from '@ironledger/contracts';
import { type ClassProfile, profileOf } from './classes.js';
import {
  type FaultKind,
  type FaultOptions,
  isOn,
  MALFORMED_VARIANTS,
  malformedPayload,
  pickUnits,
  type UnitFaults,
} from './faults.js';
import { offsetPosition, projectAt, roundPosition } from './geo.js';
import { Prng } from './prng.js';
import { DAY_MS, HOUR_MS, iso, localDays, MINUTE_MS, SECOND_MS, zonedTime } from './time.js';
import { buildTimeline, type EngineState, type Segment, segmentAt, type Timeline } from './unit.js';
import { defaultWorld, type SiteGeo, siteGeo } from './world.js';

export type Format = 'canonical' | 'aemp' | 'mixed';

export interface PlanOptions {
  seed: string;
  /** Units in the default world (ignored when `world` is given). */
  units: number;
  /** First instant of the simulated window; rounded up to a reading boundary. */
  startMs: number;
  days: number;
  intervalMs: number;
  format: Format;
  faults: FaultOptions;
  world?: World;
}

export interface UnitPlan {
  unit: Unit;
  profile: ClassProfile;
  geo: SiteGeo;
  format: 'canonical' | 'aemp';
  timeline: Timeline;
  faults: UnitFaults;
  /** Meters when the window opens. */
  initial: { engineS: number; idleS: number; fuelL: number; odometerKm: number | null; seq: number };
  /** Another unit's id, for impersonation and mismatch payloads. */
  otherUnitId: string;
}

export interface FleetPlan {
  options: PlanOptions;
  world: World;
  /** Reading boundaries: first and last reading instant (both published). */
  startMs: number;
  endMs: number;
  intervalMs: number;
  units: UnitPlan[];
}

/** Rounds to 1e-6 (hours: 3.6 ms), the resolution of every published and true meter. */
export const round6 = (x: number) => Math.round(x * 1e6) / 1e6;
export const round3 = (x: number) => Math.round(x * 1e3) / 1e3;

export function planFleet(options: PlanOptions): FleetPlan {
  const world = options.world ?? defaultWorld(options.seed, options.units);
  const I = options.intervalMs;
  const startMs = Math.ceil(options.startMs / I) * I;
  const endMs = Math.floor((options.startMs + options.days * DAY_MS) / I) * I;
  if (endMs <= startMs)
    throw new Error('the window holds no reading interval: raise --days or lower --interval');
  const geos = new Map(world.sites.map((s) => [s.siteId, siteGeo(s)]));
  const siteOf = (u: Unit): SiteGeo => {
    const g = u.siteId ? geos.get(u.siteId) : [...geos.values()][0];
    if (!g) throw new Error(`unit ${u.unitId}: unknown site ${u.siteId}`);
    return g;
  };

  const f = options.faults;
  const ids = world.units.map((u) => u.unitId);
  const notContinuous = world.units
    .filter((u) => !profileOf(u.equipmentClass).continuous)
    .map((u) => u.unitId);
  const pick = (kind: FaultKind, share: number, eligible: readonly string[]) =>
    isOn(f, kind)
      ? pickUnits(eligible, share, new Prng(options.seed, `faults/${kind}/units`))
      : new Set<string>();
  // Clock faults only on machines that are off around midnight: a skewed or unknown clock on
  // a machine running through midnight moves hours between days in a way no receiver can
  // undo, and the truth would stop being an oracle for the consolidation.
  const gapUnits = pick('gap', f.gapUnits, ids);
  const clockUnits = pick('clock1970', f.clock1970Units, notContinuous);
  const skewUnits = pick('skew', f.skewUnits, notContinuous);
  const resetUnits = pick('reset', f.resetUnits, ids);
  const jumpUnits = pick('jump', f.jumpUnits, ids);

  const units = world.units.map((unit, index): UnitPlan => {
    const profile = profileOf(unit.equipmentClass);
    const geo = siteOf(unit);
    const prng = new Prng(options.seed, `unit/${unit.unitId}`);
    const fp = (kind: string) => new Prng(options.seed, `faults/${kind}/${unit.unitId}`);
    const faults: UnitFaults = {};
    const span = endMs - startMs;
    if (gapUnits.has(unit.unitId)) {
      const len = Math.min(span - I, Math.max(I, Math.round((f.gapHours * HOUR_MS) / I) * I));
      const slots = Math.max(0, Math.floor((span - len) / I) - 1);
      const from = startMs + (1 + fp('gap').int(0, Math.max(0, slots - 1))) * I;
      faults.gap = { fromMs: from, toMs: Math.min(endMs, from + len) };
    }
    if (clockUnits.has(unit.unitId)) {
      faults.clock1970 = { readings: f.clock1970Readings, bootOffsetS: fp('clock1970').int(20, 90) };
    }
    if (skewUnits.has(unit.unitId)) {
      faults.skew = { seconds: (fp('skew').chance(0.5) ? 1 : -1) * f.skewSeconds };
    }
    if (resetUnits.has(unit.unitId)) {
      const r = fp('reset');
      const windowMs = Math.max(45 * MINUTE_MS, 2 * I);
      const atMs = f.resetAtMs ?? resetInstant(geo, startMs, endMs, windowMs, r);
      faults.reset = {
        atMs,
        windowMs,
        engineAfterS: r.int(0, 12 * 60),
        idleAfterS: 0,
        fuelAfterL: 0,
      };
      faults.reset.idleAfterS = r.int(0, faults.reset.engineAfterS);
      faults.reset.fuelAfterL = round3(r.range(0, 5));
    }
    const forcedOff = faults.reset
      ? [
          {
            startMs: faults.reset.atMs - faults.reset.windowMs,
            endMs: faults.reset.atMs + faults.reset.windowMs,
          },
        ]
      : [];
    const timeline = buildTimeline({
      unit,
      profile,
      geo,
      startMs,
      endMs,
      intervalMs: I,
      prng: prng.fork('timeline'),
      forcedOff,
    });
    if (jumpUnits.has(unit.unitId)) {
      // The glitch shows at a reading after an interval with the engine off, so the interval
      // it poisons held no true engine time: a receiver that discards the jumped delta loses
      // nothing, and the truth stays an exact oracle.
      const quiet = quietReadings(timeline.segments, startMs + I, endMs, I);
      const middle = quiet.filter((t) => t >= startMs + span / 3 && t <= startMs + (2 * span) / 3);
      const r = fp('jump');
      const pool =
        middle.length > 0 ? middle : quiet.length > 0 ? quiet : [startMs + Math.floor(span / I / 2) * I];
      faults.jump = { atMs: r.pick(pool), hours: f.jumpHours };
    }
    if (faults.clock1970) {
      // The clock is wrong only while the machine sits with its engine off after power-up:
      // the first reading with a true clock must come no later than the first engine start,
      // or the hours before it could not be attributed by anyone.
      const firstOn = timeline.segments.find((sg) => sg.engine !== 'off')?.startMs ?? endMs;
      const n = Math.min(faults.clock1970.readings, Math.floor((firstOn - startMs) / I));
      if (n > 0) faults.clock1970.readings = n;
      else delete faults.clock1970;
    }
    const init = prng.fork('initial');
    const engineS = init.int(profile.initialHours[0] * 3600, profile.initialHours[1] * 3600);
    const others = ids.filter((id) => id !== unit.unitId);
    return {
      unit,
      profile,
      geo,
      format: options.format === 'mixed' ? (index % 2 === 1 ? 'aemp' : 'canonical') : options.format,
      timeline,
      faults,
      initial: {
        engineS,
        idleS: Math.round(engineS * init.range(0.25, 0.45)),
        fuelL: round3((engineS / 3600) * init.range(6, 14)),
        odometerKm: profile.odometer ? round3((engineS / 3600) * init.range(1, 4)) : null,
        seq: init.int(1, 50_000),
      },
      otherUnitId: others.length > 0 ? init.pick(others) : `${profile.prefix}-9999`,
    };
  });
  return { options, world, startMs, endMs, intervalMs: I, units };
}

/** Reading instants t in [fromMs, toMs] whose preceding interval (t − I, t] had the engine off. */
function quietReadings(segments: readonly Segment[], fromMs: number, toMs: number, I: number): number[] {
  const out: number[] = [];
  for (const seg of segments) {
    if (seg.engine !== 'off') continue;
    for (let t = Math.ceil((seg.startMs + I) / I) * I; t <= seg.endMs && t <= toMs; t += I)
      if (t >= fromMs) out.push(t);
  }
  return out;
}

/** A weekday late morning (site time) inside the window, else the window's middle. */
function resetInstant(geo: SiteGeo, startMs: number, endMs: number, windowMs: number, prng: Prng): number {
  const tz = geo.site.timeZone;
  const days = localDays(startMs, endMs, tz).filter((d) => {
    const wd = new Date(`${d.day}T00:00:00Z`).getUTCDay();
    return wd >= 1 && wd <= 5;
  });
  const candidates = days
    .map((d) => zonedTime(d.day, prng.int(10 * 60, 14 * 60), tz) + prng.int(0, 59) * SECOND_MS)
    .filter((t) => t - windowMs > startMs && t + windowMs < endMs);
  if (candidates.length > 0) return prng.pick(candidates);
  return Math.round((startMs + endMs) / 2 / SECOND_MS) * SECOND_MS;
}

// ---- samples: the truth at each reading instant -------------------------------------------

/** What is true at one reading instant (before any fault touches it). */
export interface Sample {
  k: number;
  tMs: number;
  engine: EngineState;
  /** Engine/idle seconds, fuel and distance since the window opened (true, cumulative). */
  engineS: number;
  idleS: number;
  fuelL: number;
  distanceKm: number;
  position: Position;
  speedKmh: number;
  projectId: string;
}

function placePosition(
  plan: UnitPlan,
  seg: Segment,
  t: number,
  prng: Prng,
): { position: Position; speedKmh: number } {
  const locs = plan.geo.locations;
  const p = seg.place;
  // Draw the same number of values whatever the state, so the stream never shifts.
  const r1 = prng.next();
  const r2 = prng.next();
  const r3 = prng.next();
  if ('from' in p) {
    const a = (locs[p.from] ?? locs[0])!.anchor;
    const b = (locs[p.to] ?? locs[0])!.anchor;
    const f = (t - seg.startMs) / Math.max(1, seg.endMs - seg.startMs);
    return {
      position: roundPosition({ lat: a.lat + (b.lat - a.lat) * f, lon: a.lon + (b.lon - a.lon) * f }),
      speedKmh: Math.round(25 + 30 * r3),
    };
  }
  const loc = locs[p.at] ?? locs[0]!;
  const radius = seg.engine === 'work' ? loc.scatterM : 3; // GPS noise at rest: a few metres
  const d = radius * Math.sqrt(r1);
  const angle = 2 * Math.PI * r2;
  const candidate = roundPosition(offsetPosition(loc.anchor, d * Math.cos(angle), d * Math.sin(angle)));
  const position = projectAt(plan.geo.site, candidate) === loc.projectId ? candidate : loc.anchor;
  const speedKmh =
    seg.engine === 'work' && plan.profile.odometer
      ? Math.round(plan.profile.workSpeedKmh * (0.5 + r3) * 10) / 10
      : 0;
  return { position, speedKmh };
}

/** The project a segment's engine time belongs to (a trailer carries no engine time). */
export function segmentProject(plan: UnitPlan, seg: Segment): string {
  const locs = plan.geo.locations;
  if ('at' in seg.place) return (locs[seg.place.at] ?? locs[0]!).projectId;
  return plan.geo.site.defaultProjectId;
}

export function* samples(
  plan: UnitPlan,
  fleet: Pick<FleetPlan, 'startMs' | 'endMs' | 'intervalMs' | 'options'>,
): Generator<Sample> {
  const segs = plan.timeline.segments;
  const prng = new Prng(fleet.options.seed, `pos/${plan.unit.unitId}`);
  const fuelRate = { off: 0, idle: plan.profile.fuelIdleLph, work: plan.profile.fuelWorkLph };
  let engineS = 0;
  let idleS = 0;
  let fuelL = 0;
  let distanceKm = 0;
  let upTo = fleet.startMs;
  let s = 0;
  for (let k = 0, t = fleet.startMs; t <= fleet.endMs; k++, t += fleet.intervalMs) {
    while (upTo < t && s < segs.length) {
      const seg = segs[s] as Segment;
      const until = Math.min(seg.endMs, t);
      const dt = until - upTo;
      if (seg.engine !== 'off') engineS += dt / SECOND_MS;
      if (seg.engine === 'idle') idleS += dt / SECOND_MS;
      fuelL += (fuelRate[seg.engine] * dt) / HOUR_MS;
      if (seg.engine === 'work' && plan.profile.odometer)
        distanceKm += (plan.profile.workSpeedKmh * dt) / HOUR_MS;
      upTo = until;
      if (until >= seg.endMs) s++;
    }
    const at = segmentAt(segs, t, s);
    const seg = segs[at] as Segment;
    const { position, speedKmh } = placePosition(plan, seg, t, prng);
    yield {
      k,
      tMs: t,
      engine: seg.engine,
      engineS: Math.round(engineS),
      idleS: Math.round(idleS),
      fuelL,
      distanceKm,
      position,
      speedKmh,
      projectId: projectAt(plan.geo.site, position),
    };
  }
}

// ---- messages: what the unit publishes, in order --------------------------------------------

export interface FaultRecord {
  kind: FaultKind;
  unitId: string;
  ts: string;
  detail: string;
  [extra: string]: unknown;
}

export interface MeterResetRecord {
  unitId: string;
  ts: string;
  before: number;
  after: number;
  idleBefore: number;
  idleAfter: number;
}

export type SimMessage =
  | {
      kind: 'reading' | 'malformed';
      unitId: string;
      topic: string;
      payload: string;
      /** Sim instant at which the unit sends it. */
      dueMs: number;
      /** The reading's identity as published, for the acknowledgement log (readings only). */
      ts: string | null;
      /** Cut the connection right after this PUBLISH, before its PUBACK (redelivery). */
      cutAfter: boolean;
    }
  | {
      kind: 'impersonate';
      unitId: string;
      asUnitId: string;
      topic: string;
      payload: string;
      dueMs: number;
      ts: string;
      cutAfter: false;
    }
  | { kind: 'offline' | 'online'; unitId: string; dueMs: number };

export interface MessageSink {
  fault(f: FaultRecord): void;
  reset(r: MeterResetRecord): void;
}

const NO_SINK: MessageSink = { fault: () => {}, reset: () => {} };

/** The reported reading at a sample: meters as the (possibly swapped or glitching) ECU shows them. */
interface Reported {
  reading: Reading;
  /** True when the ts is not the true instant (1970 clock or skew). */
  clock: 'ok' | 'clock1970' | 'skew';
}

/**
 * Every message one unit publishes, in publish order, with the sim instant it is sent at.
 * Deterministic in the plan. Fault records and meter resets go to `sink` as they happen.
 */
export function* unitMessages(
  plan: UnitPlan,
  fleet: FleetPlan,
  sink: MessageSink = NO_SINK,
): Generator<SimMessage> {
  const f = fleet.options.faults;
  const uid = plan.unit.unitId;
  const kind: TopicKind = plan.format === 'aemp' ? 'aemp' : 'telemetry';
  const topic = unitTopic(uid, kind);
  const rnd = (k: string) => new Prng(fleet.options.seed, `faults/${k}/${uid}/stream`);
  const dupR = rnd('duplicate');
  const redR = rnd('redelivery');
  const reoR = rnd('reorder');
  const malR = rnd('malformed');
  const impR = rnd('impersonate');
  const { gap, clock1970, skew, reset, jump } = plan.faults;

  // Meter offsets (seconds, litres) between the true meter and what the ECU shows.
  let offE = 0;
  let offI = 0;
  let offF = 0;
  let resetDone = false;
  let jumpDone = false;
  let clockLeft = clock1970 ? clock1970.readings : 0;
  let skewNoted = false;

  const header = { OEMName: plan.profile.oem, Model: plan.profile.model, SerialNumber: plan.unit.serialNo };
  const encode = (r: Reading) => JSON.stringify(plan.format === 'aemp' ? readingToAemp(r, header) : r);

  // Held messages: a reversed burst in the making, and the backlog of an offline stretch.
  let burst: SimMessage[] = [];
  let burstLeft = 0;
  let backlog: SimMessage[] = [];
  let offline = false;

  const report = (s: Sample): Reported => {
    const base = plan.initial;
    if (reset && !resetDone && s.tMs >= reset.atMs) {
      const beforeE = base.engineS + s.engineS + offE;
      const beforeI = base.idleS + s.idleS + offI;
      offE = reset.engineAfterS - (base.engineS + s.engineS);
      offI = reset.idleAfterS - (base.idleS + s.idleS);
      offF = reset.fuelAfterL - (base.fuelL + s.fuelL);
      resetDone = true;
      const record = {
        unitId: uid,
        ts: iso(reset.atMs),
        before: round6(beforeE / 3600),
        after: round6(reset.engineAfterS / 3600),
        idleBefore: round6(beforeI / 3600),
        idleAfter: round6(reset.idleAfterS / 3600),
      };
      sink.reset(record);
      sink.fault({
        kind: 'reset',
        unitId: uid,
        ts: record.ts,
        detail: `ECU replaced with the engine off: hour meter ${record.before} h → ${record.after} h`,
        before: record.before,
        after: record.after,
      });
    }
    let jumped: { before: number } | null = null;
    if (jump && !jumpDone && s.tMs >= jump.atMs) {
      jumped = { before: base.engineS + s.engineS + offE };
      offE += jump.hours * 3600;
      jumpDone = true;
    }
    const engineS = base.engineS + s.engineS + offE;
    const idleS = base.idleS + s.idleS + offI;
    let clock: Reported['clock'] = 'ok';
    let tsMs = s.tMs;
    if (clockLeft > 0) {
      clockLeft--;
      clock = 'clock1970';
      tsMs = (clock1970?.bootOffsetS ?? 0) * SECOND_MS + s.k * fleet.intervalMs;
    } else {
      clockLeft = 0;
      if (skew) {
        clock = 'skew';
        tsMs = s.tMs + skew.seconds * SECOND_MS;
      }
    }
    const reading: Reading = {
      v: 1,
      unitId: uid,
      seq: base.seq + s.k,
      ts: iso(tsMs),
      engineHours: round6(engineS / 3600),
      idleHours: round6(idleS / 3600),
      engineOn: s.engine !== 'off',
      position: s.position,
      speedKmh: s.speedKmh,
      fuelUsedL: round3(base.fuelL + s.fuelL + offF),
      ...(base.odometerKm !== null ? { odometerKm: round3(base.odometerKm + s.distanceKm) } : {}),
    };
    if (jumped) {
      sink.fault({
        kind: 'jump',
        unitId: uid,
        ts: reading.ts,
        detail: `hour meter leapt by ${jump?.hours} h without engine time`,
        before: round6(jumped.before / 3600),
        after: reading.engineHours,
      });
    }
    if (clock === 'clock1970') {
      sink.fault({
        kind: 'clock1970',
        unitId: uid,
        ts: reading.ts,
        detail: `clock before GPS fix; true time ${iso(s.tMs)}`,
        trueTs: iso(s.tMs),
      });
    } else if (clock === 'skew' && !skewNoted) {
      skewNoted = true;
      sink.fault({
        kind: 'skew',
        unitId: uid,
        ts: reading.ts,
        detail: `clock ${Math.abs(skew?.seconds ?? 0)} s ${(skew?.seconds ?? 0) > 0 ? 'ahead' : 'behind'} from here on`,
        trueTs: iso(s.tMs),
        skewSeconds: skew?.seconds ?? 0,
      });
    }
    return { reading, clock };
  };

  const emitHeld = function* (list: SimMessage[], dueMs: number): Generator<SimMessage> {
    for (const m of list) yield { ...m, dueMs };
  };

  for (const s of samples(plan, fleet)) {
    const { reading } = report(s);
    const msgs: SimMessage[] = [];
    const payload = encode(reading);
    const cut = isOn(f, 'redelivery') && redR.chance(f.redeliveryRate);
    msgs.push({ kind: 'reading', unitId: uid, topic, payload, dueMs: s.tMs, ts: reading.ts, cutAfter: cut });
    if (cut)
      sink.fault({
        kind: 'redelivery',
        unitId: uid,
        ts: reading.ts,
        detail: 'connection cut after PUBLISH, before PUBACK',
      });
    if (isOn(f, 'duplicate') && dupR.chance(f.duplicateRate)) {
      msgs.push({
        kind: 'reading',
        unitId: uid,
        topic,
        payload,
        dueMs: s.tMs,
        ts: reading.ts,
        cutAfter: false,
      });
      sink.fault({ kind: 'duplicate', unitId: uid, ts: reading.ts, detail: 'published twice' });
    }
    if (isOn(f, 'malformed') && malR.chance(f.malformedRate)) {
      const variant = malR.pick(MALFORMED_VARIANTS);
      const p = malformedPayload(variant, reading as unknown as Record<string, unknown>, plan.otherUnitId);
      msgs.push({
        kind: 'malformed',
        unitId: uid,
        topic,
        payload: p,
        dueMs: s.tMs,
        ts: null,
        cutAfter: false,
      });
      sink.fault({ kind: 'malformed', unitId: uid, ts: reading.ts, detail: variant });
    }
    if (isOn(f, 'impersonate') && impR.chance(f.impersonateRate)) {
      const fake: Reading = {
        ...reading,
        unitId: plan.otherUnitId,
        seq: undefined,
        engineHours: round6(reading.engineHours / 2),
      };
      delete fake.seq;
      msgs.push({
        kind: 'impersonate',
        unitId: uid,
        asUnitId: plan.otherUnitId,
        topic: unitTopic(plan.otherUnitId, 'telemetry'),
        payload: JSON.stringify(fake),
        dueMs: s.tMs,
        ts: reading.ts,
        cutAfter: false,
      });
      sink.fault({
        kind: 'impersonate',
        unitId: uid,
        ts: reading.ts,
        detail: `published as ${plan.otherUnitId}`,
        asUnitId: plan.otherUnitId,
      });
    }

    const inGap = gap !== undefined && s.tMs >= gap.fromMs && s.tMs < gap.toMs;
    if (inGap) {
      if (!offline) {
        // Anything held in a burst goes out before the link drops.
        yield* emitHeld(burst, s.tMs);
        burst = [];
        burstLeft = 0;
        offline = true;
        yield { kind: 'offline', unitId: uid, dueMs: s.tMs };
        sink.fault({
          kind: 'gap',
          unitId: uid,
          ts: reading.ts,
          detail: `offline until ${iso(gap.toMs)}; readings kept and sent as a backlog on reconnect`,
          untilTs: iso(gap.toMs),
          readings: Math.ceil((gap.toMs - s.tMs) / fleet.intervalMs),
        });
      }
      backlog.push(...msgs);
      continue;
    }
    if (offline) {
      offline = false;
      const back = gap?.toMs ?? s.tMs;
      yield { kind: 'online', unitId: uid, dueMs: back };
      yield* emitHeld(backlog, back);
      backlog = [];
    }
    if (burstLeft === 0 && isOn(f, 'reorder') && reoR.chance(f.reorderRate) && f.reorderBurst > 1) {
      burstLeft = f.reorderBurst;
      sink.fault({
        kind: 'reorder',
        unitId: uid,
        ts: reading.ts,
        detail: `next ${f.reorderBurst} readings sent newest first`,
        readings: f.reorderBurst,
      });
    }
    if (burstLeft > 0) {
      // Keep each reading's own extra messages with it; reverse reading order only.
      burst.unshift(...msgs);
      burstLeft--;
      if (burstLeft === 0) {
        yield* emitHeld(burst, s.tMs);
        burst = [];
      }
      continue;
    }
    yield* msgs;
  }
  if (burst.length > 0) yield* emitHeld(burst, fleet.endMs);
  if (offline) {
    yield { kind: 'online', unitId: uid, dueMs: fleet.endMs };
    yield* emitHeld(backlog, fleet.endMs);
  }
}

/** Equipment class → AEMP header fields, for tools that render snapshots themselves. */
export function aempHeader(equipmentClass: EquipmentClass, serialNo?: string) {
  const p = profileOf(equipmentClass);
  return { OEMName: p.oem, Model: p.model, ...(serialNo ? { SerialNumber: serialNo } : {}) };
}

export function segmentsOf(plan: UnitPlan): readonly Segment[] {
  return plan.timeline.segments;
}

export { DAY_MS };
