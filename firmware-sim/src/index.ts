/**
 * Programmatic API of the simulated fleet: plan a run (pure), compute its ground truth
 * (pure), run it against a broker. `ironledger-sim` (main.ts) is a thin shell over this.
 */
import fs from 'node:fs';
import type { World } from '@ironledger/contracts';
import type { Logger } from '@ironledger/logger';
import type { FaultOptions } from './faults.js';
import { type Pace, type RunSummary, runFleet } from './fleet.js';
import { type Format, planFleet } from './plan.js';
import { computeTruth, serializeTruth } from './truth.js';

export { type AttributedUsage, type AttributionAnomaly, attributeReadings } from './attribution.js';
export { CLASS_PROFILES, type ClassProfile, profileOf } from './classes.js';
export { deterministicSecrets, loadCredentials } from './credentials.js';
export { DEFAULT_FAULT_OPTIONS, FAULT_KINDS, type FaultKind, type FaultOptions } from './faults.js';
export { type Pace, type RunOptions, type RunSummary, runFleet } from './fleet.js';
export { distanceM, inCircle, inGeofence, inPolygon, projectAt } from './geo.js';
export { parseDuration, parseOptions, type SimOptions, USAGE, UsageError } from './options.js';
export {
  type FaultRecord,
  type FleetPlan,
  type Format,
  type MeterResetRecord,
  type PlanOptions,
  planFleet,
  type SimMessage,
  samples,
  type UnitPlan,
  unitMessages,
} from './plan.js';
export { Prng } from './prng.js';
export { formatSummaryTable } from './report.js';
export { localDay, localDays, splitByDay, zonedTime } from './time.js';
export { computeTruth, serializeTruth, type Truth, type TruthUsage, unitUsage } from './truth.js';
export { buildTimeline, type EngineState, type Segment, type Timeline } from './unit.js';
export { DEFAULT_PROJECTS, DEFAULT_SITES, defaultWorld, loadWorld, siteGeo, unitIdFor } from './world.js';

function readVersion(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export const VERSION = readVersion();

export interface SimulationOptions {
  seed: string;
  units: number;
  world?: World;
  worldFile?: string | null;
  startMs: number;
  days: number;
  intervalMs: number;
  format: Format;
  faults: FaultOptions;
  brokerUrl: string;
  pace: Pace;
  qos: 0 | 1;
  secrets: Record<string, string>;
  truthFile?: string | null;
  ackedFile?: string | null;
  giveUpAfterMs?: number | null;
  maxInflight?: number;
  logger: Logger;
  signal?: AbortSignal;
}

/** Plans the run, writes the truth file (before anything is sent), runs the fleet. */
export async function runSimulation(o: SimulationOptions): Promise<RunSummary> {
  const plan = planFleet({
    seed: o.seed,
    units: o.units,
    startMs: o.startMs,
    days: o.days,
    intervalMs: o.intervalMs,
    format: o.format,
    faults: o.faults,
    ...(o.world ? { world: o.world } : {}),
  });
  if (o.truthFile) fs.writeFileSync(o.truthFile, serializeTruth(computeTruth(plan)));
  o.logger.info(
    {
      event: 'sim.start',
      units: plan.units.length,
      start: new Date(plan.startMs).toISOString(),
      end: new Date(plan.endMs).toISOString(),
      intervalMs: plan.intervalMs,
      pace: o.pace,
      faults: o.faults.enabled,
      broker: o.brokerUrl,
    },
    'simulation starting',
  );
  const summary = await runFleet({
    plan,
    brokerUrl: o.brokerUrl,
    pace: o.pace,
    qos: o.qos,
    secrets: o.secrets,
    ...(o.ackedFile ? { ackedPath: o.ackedFile } : {}),
    giveUpAfterMs: o.giveUpAfterMs ?? null,
    ...(o.maxInflight ? { maxInflight: o.maxInflight } : {}),
    logger: o.logger,
    ...(o.signal ? { signal: o.signal } : {}),
  });
  o.logger.info({ ...summary, event: 'sim.done' }, 'simulation finished');
  return summary;
}
