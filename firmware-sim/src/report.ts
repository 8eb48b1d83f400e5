/** The human table printed after a load-mode (or bench) run. */
import type { RunSummary } from './fleet.js';

export function formatSummaryTable(s: RunSummary): string {
  const rows: Array<[string, string]> = [
    ['units', String(s.units)],
    ['mode', s.mode],
    ['qos', String(s.qos)],
    ['published', String(s.published)],
    ['acknowledged', String(s.acknowledged)],
    ['failed', String(s.failed)],
    ['readings/s', s.readingsPerSecond.toFixed(1)],
    ['duration', `${(s.durationMs / 1000).toFixed(1)} s`],
    [
      'PUBACK latency p50/p95/p99',
      `${s.ackLatencyMs.p50} / ${s.ackLatencyMs.p95} / ${s.ackLatencyMs.p99} ms`,
    ],
    ['reconnects', String(s.reconnects)],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  return `${rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n')}\n`;
}
