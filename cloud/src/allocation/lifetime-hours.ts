/**
 * Lifetime meter hours, pure (Vista EM: lifetime = current + replaced readings). A unit whose
 * hour meter was reset or replaced (an ECU swap) keeps its lifetime hours: the current meter's
 * reading plus, for every `meter_reset` at or before it, the old meter's last reading (the
 * anomaly's `before`). Hours the old meter ran after its last reading were never observed and
 * are not in it; a new meter's starting value is (it is what the meter shows), while billing
 * treats that value as unverified (README "Billing rules").
 */
import type { Anomaly, LifetimeHours } from '@ironledger/contracts';

const r6 = (x: number) => Math.round(x * 1e6) / 1e6;

/**
 * The hour meter's resets only: consolidation flags the idle meter and the odometer going
 * back as `meter_reset` too, and names the meter first in the detail (`engineHours went back
 * from …`, consolidate.ts' meterStep).
 */
export function isEngineMeter(x: Anomaly): boolean {
  return x.detail.startsWith('engineHours ');
}

/** Lifetime hours as of `meter` (a reading: its ts and engine-hour meter). */
export function lifetimeHours(
  unitId: string,
  meter: { ts: string; engineHours: number },
  anomalies: readonly Anomaly[],
): LifetimeHours {
  const at = Date.parse(meter.ts);
  const replaced = anomalies
    .filter(
      (x) =>
        x.unitId === unitId &&
        x.kind === 'meter_reset' &&
        isEngineMeter(x) &&
        x.before !== null &&
        Date.parse(x.ts) <= at,
    )
    .sort((a, b) => Date.parse(a.ts) - Date.parse(b.ts))
    .map((x) => ({ ts: x.ts, replacedMeterHours: x.before as number, newMeterHours: x.after }));
  const replacedHours = r6(replaced.reduce((t, x) => t + x.replacedMeterHours, 0));
  return {
    unitId,
    asOf: meter.ts,
    meterHours: meter.engineHours,
    replacedHours,
    lifetimeHours: r6(meter.engineHours + replacedHours),
    replacements: replaced,
  };
}
