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

export const ProjectSchema = z
  .object({
    projectId: IdSchema,
    name: z.string(),
    /** Odoo project.project id, when known; else looked up by name. */
    odooProjectId: z.number().int().positive().optional(),
    /** Odoo analytic account (Project plan) id, when known; else read from the project. */
    analyticAccountId: z.number().int().positive().optional(),
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

export const RateSchema = z
  .object({
    rateId: IdSchema,
    unitId: UnitIdSchema.optional(),
    equipmentClass: EquipmentClassSchema.optional(),
    workingRateMinor: z.number().int().nonnegative(),
    idleRateMinor: z.number().int().nonnegative(),
    currency: CurrencySchema,
    effectiveFrom: DaySchema,
  })
  .strict()
  .refine((r) => (r.unitId === undefined) !== (r.equipmentClass === undefined), {
    message: 'a rate names exactly one of unitId or equipmentClass',
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
