/**
 * Which gateways are stale and which units are silent: one rule for `GET /v1/status` and the
 * operator gauges (`ironledger_cloud_gateways_stale`, `ironledger_cloud_silent_units`). A
 * gateway is stale when neither a heartbeat nor a batch arrived for
 * `consolidation.silentUnitAfterS` (never seen counts); a known unit is silent when no reading
 * of it was received for as long (never heard counts).
 */
import type { AppContext } from './context.js';
import type { GatewayActivity } from './store/store.js';

export interface GatewayHealth {
  gatewayId: string;
  siteId: string | null;
  activity: GatewayActivity | undefined;
  /** Latest heartbeat or batch, ISO; null if never seen. */
  lastSeenAt: string | null;
  lastSeenAgeS: number | null;
  stale: boolean;
}

export interface UnitSilence {
  unitId: string;
  lastReadingTs: string | null;
  lastReceivedAt: string | null;
  silentForS: number | null;
}

/** Every configured or heard-from gateway, sorted by id. */
export async function gatewayHealth(app: AppContext): Promise<GatewayHealth[]> {
  const nowMs = app.now();
  const silentAfterMs = app.config.consolidation.silentUnitAfterS * 1000;
  const activity = new Map((await app.store.gatewayActivity()).map((g) => [g.gatewayId, g]));
  const ids = new Set([...app.config.gateways.map((g) => g.gatewayId), ...activity.keys()]);
  return [...ids].sort().map((gatewayId) => {
    const a = activity.get(gatewayId);
    const lastSeenAt =
      [a?.lastHeartbeatAt, a?.lastBatchAt]
        .filter((x): x is string => !!x)
        .sort()
        .at(-1) ?? null;
    const ageMs = lastSeenAt ? Math.max(0, nowMs - Date.parse(lastSeenAt)) : null;
    return {
      gatewayId,
      siteId: app.config.gateways.find((g) => g.gatewayId === gatewayId)?.siteId ?? null,
      activity: a,
      lastSeenAt,
      lastSeenAgeS: ageMs === null ? null : ageMs / 1000,
      stale: ageMs === null || ageMs > silentAfterMs,
    };
  });
}

/** Known units with no reading received for `consolidation.silentUnitAfterS`. */
export async function silentUnits(app: AppContext): Promise<UnitSilence[]> {
  const nowMs = app.now();
  const silentAfterMs = app.config.consolidation.silentUnitAfterS * 1000;
  const unitAct = new Map((await app.store.unitActivity()).map((u) => [u.unitId, u]));
  const out: UnitSilence[] = [];
  for (const unitId of app.master.units.keys()) {
    const u = unitAct.get(unitId);
    const rx = u?.lastReceivedAt ?? null;
    if (rx && nowMs - Date.parse(rx) <= silentAfterMs) continue;
    out.push({
      unitId,
      lastReadingTs: u?.lastReadingTs ?? null,
      lastReceivedAt: rx,
      silentForS: rx ? Math.round((nowMs - Date.parse(rx)) / 1000) : null,
    });
  }
  return out;
}
