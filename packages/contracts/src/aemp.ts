/**
 * ISO 15143-3 (AEMP 2.0 telematics) equipment snapshot, JSON rendering, as units publish it on
 * `ironledger/v1/units/{unitId}/aemp`, and its mapping to the canonical reading.
 *
 * Each element carries its own `datetime` (the standard's `@datetime` attribute). The
 * reading's ts is the snapshot time, else the operating-hours element's datetime.
 */
import { z } from 'zod';
import { InstantSchema, type Reading, ReadingSchema } from './reading.js';

const stamped = <T extends z.ZodRawShape>(shape: T) => z.object({ datetime: InstantSchema, ...shape });

export const AempSnapshotSchema = z.object({
  Version: z.string().optional(),
  SnapshotTime: InstantSchema.optional(),
  EquipmentHeader: z.object({
    UnitInstallDateTime: z.string().optional(),
    OEMName: z.string().optional(),
    Model: z.string().optional(),
    EquipmentID: z.string(),
    SerialNumber: z.string().optional(),
  }),
  CumulativeOperatingHours: stamped({ Hour: z.number().finite().nonnegative() }),
  CumulativeIdleHours: stamped({ Hour: z.number().finite().nonnegative() }).optional(),
  Location: stamped({
    Latitude: z.number().min(-90).max(90),
    Longitude: z.number().min(-180).max(180),
    AltitudeUnits: z.string().optional(),
    Altitude: z.number().optional(),
  }).optional(),
  FuelUsed: stamped({
    FuelUnits: z.enum(['litre', 'gallon']),
    FuelConsumed: z.number().finite().nonnegative(),
  }).optional(),
  Distance: stamped({
    OdometerUnits: z.enum(['kilometre', 'mile']),
    Odometer: z.number().finite().nonnegative(),
  }).optional(),
  EngineStatus: stamped({ Running: z.boolean() }).optional(),
  Sequence: z.number().int().nonnegative().optional(),
});
export type AempSnapshot = z.infer<typeof AempSnapshotSchema>;
export type AempSnapshotInput = z.input<typeof AempSnapshotSchema>;

const LITRES_PER_US_GALLON = 3.785411784;
const KM_PER_MILE = 1.609344;

/** Maps a parsed AEMP snapshot to the canonical reading (validated by ReadingSchema). */
export function aempToReading(s: AempSnapshot): Reading {
  const fuelUsedL = s.FuelUsed
    ? s.FuelUsed.FuelUnits === 'gallon'
      ? s.FuelUsed.FuelConsumed * LITRES_PER_US_GALLON
      : s.FuelUsed.FuelConsumed
    : undefined;
  const odometerKm = s.Distance
    ? s.Distance.OdometerUnits === 'mile'
      ? s.Distance.Odometer * KM_PER_MILE
      : s.Distance.Odometer
    : undefined;
  return ReadingSchema.parse({
    v: 1,
    unitId: s.EquipmentHeader.EquipmentID,
    seq: s.Sequence,
    ts: s.SnapshotTime ?? s.CumulativeOperatingHours.datetime,
    engineHours: s.CumulativeOperatingHours.Hour,
    idleHours: s.CumulativeIdleHours?.Hour,
    engineOn: s.EngineStatus?.Running,
    position: s.Location ? { lat: s.Location.Latitude, lon: s.Location.Longitude } : undefined,
    fuelUsedL,
    odometerKm,
  });
}

/** Renders a canonical reading as an AEMP snapshot (what a unit in AEMP mode publishes). */
export function readingToAemp(
  r: Reading,
  header: { OEMName?: string; Model?: string; SerialNumber?: string } = {},
): AempSnapshotInput {
  const at = r.ts;
  return {
    Version: '2',
    SnapshotTime: at,
    EquipmentHeader: { EquipmentID: r.unitId, ...header },
    CumulativeOperatingHours: { datetime: at, Hour: r.engineHours },
    ...(r.idleHours !== undefined ? { CumulativeIdleHours: { datetime: at, Hour: r.idleHours } } : {}),
    ...(r.position
      ? { Location: { datetime: at, Latitude: r.position.lat, Longitude: r.position.lon } }
      : {}),
    ...(r.fuelUsedL !== undefined
      ? { FuelUsed: { datetime: at, FuelUnits: 'litre' as const, FuelConsumed: r.fuelUsedL } }
      : {}),
    ...(r.odometerKm !== undefined
      ? { Distance: { datetime: at, OdometerUnits: 'kilometre' as const, Odometer: r.odometerKm } }
      : {}),
    ...(r.engineOn !== undefined ? { EngineStatus: { datetime: at, Running: r.engineOn } } : {}),
    ...(r.seq !== undefined ? { Sequence: r.seq } : {}),
  };
}
