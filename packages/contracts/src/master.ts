/**
 * Master data shared by the simulator (its world), the cloud (its config and admin API) and
 * the CLI: sites with IANA time zones and geofences that map positions to projects,
 * projects (Odoo project / analytic account), units with their equipment class, and rates.
 *
 * Attribution rule (used by the cloud's consolidation and the simulator's truth alike): the
 * meter delta between two consecutive readings of a unit, (prev.ts, cur.ts], belongs to the
 * place of `cur`'s position: the first geofence, across all sites in the order listed, that
 * contains it gives the site and the project; a position in no geofence (or no position)
 * falls to the unit's home site (`unit.siteId`, else the gateway's site) and that site's
 * default project. The delta is counted on the site-local day(s) it spans, in that site's
 * time zone, split at local midnight in proportion to time.
 */
import { z } from 'zod';
import { CurrencySchema, DaySchema } from './admin.js';
import { PositionSchema, UnitIdSchema } from './reading.js';

export const EQUIPMENT_CLASSES = [
  'excavator',
  'loader',
  'dozer',
  'crane',
  'telehandler',
  'generator',
] as const;
export const EquipmentClassSchema = z.enum(EQUIPMENT_CLASSES);
export type EquipmentClass = z.infer<typeof EquipmentClassSchema>;

const IdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'an id: letters, digits, "_", ".", "-"');

export const TimeZoneSchema = z.string().refine(
  (tz) => {
    try {
      new Intl.DateTimeFormat('en', { timeZone: tz });
      return true;
    } catch {
      return false;
    }
  },
  { message: 'an IANA time zone, e.g. Europe/London' },
);

export const GeofenceSchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('circle'),
      projectId: IdSchema,
      center: PositionSchema,
      radiusM: z.number().positive(),
    })
    .strict(),
  z
    .object({ kind: z.literal('polygon'), projectId: IdSchema, points: z.array(PositionSchema).min(3) })
    .strict(),
]);
export type Geofence = z.infer<typeof GeofenceSchema>;

export const SiteSchema = z
  .object({
    siteId: IdSchema,
    name: z.string().optional(),
    timeZone: TimeZoneSchema,
    defaultProjectId: IdSchema,
    geofences: z.array(GeofenceSchema).default([]),
  })
  .strict();
export type Site = z.infer<typeof SiteSchema>;

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];
const ClockTimeSchema = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a local time as HH:MM (24 h)');

/**
 * A project's operating hours (billing rules: standby is engine-off time on a project during
 * these hours; engine-off time outside them is off-hours). Site-local times, one window a
 * day on the listed weekdays, none on holidays. Default: Monday to Friday 07:00–17:00, the
 * common single-shift construction day.
 */
export const ProjectCalendarSchema = z
  .object({
    days: z.array(z.enum(WEEKDAYS)).default(['mon', 'tue', 'wed', 'thu', 'fri']),
    start: ClockTimeSchema.default('07:00'),
    end: ClockTimeSchema.default('17:00'),
    holidays: z.array(DaySchema).default([]),
  })
  .strict()
  .refine((c) => c.start < c.end, { message: 'start must be before end (one window within the day)' });
export type ProjectCalendar = z.output<typeof ProjectCalendarSchema>;
export const DEFAULT_PROJECT_CALENDAR: ProjectCalendar = Object.freeze({
  days: ['mon', 'tue', 'wed', 'thu', 'fri'],
  start: '07:00',
  end: '17:00',
  holidays: [],
}) as ProjectCalendar;

export const ProjectSchema = z
  .object({
    projectId: IdSchema,
    name: z.string(),
    /** Odoo project.project id, when known; else looked up by name. */
    odooProjectId: z.number().int().positive().optional(),
    /** Odoo analytic account (Project plan) id, when known; else read from the project. */
    analyticAccountId: z.number().int().positive().optional(),
    /** Operating hours for standby; absent = DEFAULT_PROJECT_CALENDAR. */
    calendar: ProjectCalendarSchema.optional(),
  })
  .strict();
export type Project = z.infer<typeof ProjectSchema>;

export const UnitSchema = z
  .object({
    unitId: UnitIdSchema,
    equipmentClass: EquipmentClassSchema,
    serialNo: z.string().optional(),
    /** The site whose time zone and geofences apply when the reading's gateway has none. */
    siteId: IdSchema.optional(),
  })
  .strict();
export type Unit = z.infer<typeof UnitSchema>;

/** [owning factor, operating factor]; a factor has at most 3 decimals so it is exact in per-mille. */
const FactorSchema = z
  .number()
  .min(0)
  .max(10)
  .refine((x) => Math.abs(Math.round(x * 1000) - x * 1000) < 1e-6, { message: 'at most 3 decimals' });
export const RateFactorSchema = z.tuple([FactorSchema, FactorSchema]);

export const RateSchema = z
  .object({
    rateId: IdSchema,
    unitId: UnitIdSchema.optional(),
    equipmentClass: EquipmentClassSchema.optional(),
    workingRateMinor: z.number().int().nonnegative(),
    idleRateMinor: z.number().int().nonnegative(),
    currency: CurrencySchema,
    effectiveFrom: DaySchema,
    // ---- contractor rate card (billing rules); all optional, additive -----------------
    /** Only on this project (a project override of a unit or class rate). */
    projectId: IdSchema.optional(),
    /** Last day in force, inclusive; absent = until a later card takes over. */
    effectiveTo: DaySchema.optional(),
    /**
     * Owning (ownership: depreciation, interest, insurance) and operating (fuel, wear,
     * repairs) components per hour, minor units. Given both, the card is priced per status
     * with factors; without them, working/idle rates apply as before (no standby charge).
     */
    owningRateMinor: z.number().int().nonnegative().optional(),
    operatingRateMinor: z.number().int().nonnegative().optional(),
    /** Per status: [owning factor, operating factor], up to 3 decimals. Defaults: CLUE. */
    factors: z
      .object({
        working: RateFactorSchema.optional(),
        idle: RateFactorSchema.optional(),
        standby: RateFactorSchema.optional(),
        offHours: RateFactorSchema.optional(),
      })
      .strict()
      .optional(),
    /** Standby hours billed per site-local day at most (default 8, EquipmentWatch). */
    standbyCapHours: z.number().min(0).max(24).optional(),
    /** A day on the project is charged at least this (minor units), if set. */
    minimumDailyMinor: z.number().int().nonnegative().optional(),
  })
  .strict()
  .refine((r) => (r.unitId === undefined) !== (r.equipmentClass === undefined), {
    message: 'a rate names exactly one of unitId or equipmentClass',
  })
  .refine((r) => (r.owningRateMinor === undefined) === (r.operatingRateMinor === undefined), {
    message: 'owningRateMinor and operatingRateMinor go together',
  })
  .refine((r) => r.effectiveTo === undefined || r.effectiveTo >= r.effectiveFrom, {
    message: 'effectiveTo must not be before effectiveFrom',
  });
export type Rate = z.infer<typeof RateSchema>;

/** A fleet's world: what the simulator runs and what the cloud is configured with. */
export const WorldSchema = z
  .object({
    sites: z.array(SiteSchema).min(1),
    projects: z.array(ProjectSchema).min(1),
    units: z.array(UnitSchema),
  })
  .strict();
export type World = z.infer<typeof WorldSchema>;
