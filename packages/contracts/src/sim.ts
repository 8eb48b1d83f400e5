/**
 * The simulated fleet's outputs that tests compare the pipeline against (firmware-sim
 * README): the ground-truth file (`ironledger-sim --truth`) and the acknowledgement log
 * (`--acked`, one `AckedLine` per line). Parse them with these schemas rather than ad hoc.
 *
 * Usage rows are per unit, site-local day and project; hours to 1e-6 h; rows with nothing in
 * them are omitted (a missing row is zero). Conservation: per unit, Σ engineHours = last −
 * first published meter − Σ(after − before) over meterResets and over `jump` faults.
 */
import { z } from 'zod';
import { DaySchema } from './admin.js';
import { EquipmentClassSchema, WorldSchema } from './master.js';

export const TruthUsageSchema = z.object({
  unitId: z.string(),
  day: DaySchema,
  siteId: z.string(),
  projectId: z.string(),
  engineHours: z.number().nonnegative(),
  idleHours: z.number().nonnegative(),
  workingHours: z.number(),
  distanceKm: z.number().nonnegative().nullable(),
  fuelL: z.number().nonnegative(),
});
export type TruthUsage = z.infer<typeof TruthUsageSchema>;

export const SIM_FAULT_KINDS = [
  'duplicate',
  'redelivery',
  'reorder',
  'gap',
  'clock1970',
  'skew',
  'reset',
  'jump',
  'malformed',
  'impersonate',
] as const;
export const SimFaultKindSchema = z.enum(SIM_FAULT_KINDS);

/** One injected fault; `ts` is the ts as published. Kind-specific extras pass through. */
export const TruthFaultSchema = z.looseObject({
  kind: SimFaultKindSchema,
  unitId: z.string(),
  ts: z.string(),
  detail: z.string(),
});
export type TruthFault = z.infer<typeof TruthFaultSchema>;

export const TruthMeterResetSchema = z.object({
  unitId: z.string(),
  ts: z.string(),
  before: z.number(),
  after: z.number(),
  idleBefore: z.number(),
  idleAfter: z.number(),
});
export type TruthMeterReset = z.infer<typeof TruthMeterResetSchema>;

export const TruthSchema = z.object({
  version: z.literal(1),
  seed: z.string(),
  options: z.record(z.string(), z.unknown()),
  world: WorldSchema,
  units: z.array(
    z.object({
      unitId: z.string(),
      equipmentClass: EquipmentClassSchema,
      serialNo: z.string().optional(),
      siteId: z.string().optional(),
    }),
  ),
  usage: z.array(TruthUsageSchema),
  meterResets: z.array(TruthMeterResetSchema),
  faults: z.array(TruthFaultSchema),
  readings: z.object({ published: z.number().int().nonnegative(), distinct: z.number().int().nonnegative() }),
});
export type Truth = z.infer<typeof TruthSchema>;

/** A line of the sim's acknowledgement log: a reading the broker acknowledged (PUBACK). */
export const AckedLineSchema = z.object({ unitId: z.string(), ts: z.string() });
export type AckedLine = z.infer<typeof AckedLineSchema>;
