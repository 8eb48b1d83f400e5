/**
 * One allocation's evidence as a self-contained HTML page for a billing dispute: inline CSS,
 * no scripts, no fonts, no network (a Content-Security-Policy forbids any fetch). Sections
 * carry their figures as data-* attributes so a test, or the other side's accountant, can
 * check the page against the cloud's JSON:
 *   main[data-key][data-amount-minor][data-currency][data-sha256-stored][data-sha256-current][data-sha256-matches]
 *   table[data-section=readings]  tr[data-ts][data-matches]
 *   table[data-section=status-hours]  tr[data-status][data-hours]
 *   table[data-section=lines]  tr[data-status][data-amount-minor]
 *   ul[data-section=gaps|resets|geofence-changes]  li
 */
import type { EvidenceResponse } from '@ironledger/contracts';
import { formatMoney } from '../format/money.js';
import { esc } from './render.js';

const h = (x: number | null | undefined, digits = 3) =>
  x === null || x === undefined ? '—' : x.toFixed(digits);
const STATUS_LABEL: Record<string, string> = {
  working: 'Working',
  idle: 'Idle',
  standby: 'Standby',
  offHours: 'Off-hours',
  minimum: 'Minimum daily charge',
};

export function renderEvidencePage(e: EvidenceResponse): string {
  const money = (m: number) => esc(formatMoney(m, e.currency));
  const b = e.billing;
  const readingsRows = e.readings
    .map(
      (r) =>
        `<tr data-ts="${esc(r.ts)}" data-matches="${r.matches}"${r.matches ? '' : ' class="bad"'}><td>${esc(r.ts)}</td><td>${h(r.engineHours)}</td><td>${h(r.engineDelta)}</td><td>${h(r.idleHours)}</td><td>${h(r.idleDelta)}</td><td>${esc(r.projectId ?? '—')}</td><td>${r.position ? `${r.position.lat.toFixed(5)}, ${r.position.lon.toFixed(5)}` : '—'}</td><td>${esc(r.batchId ?? 'missing')}</td><td class="mono">${esc(r.storedSha256.slice(0, 16))}${r.matches ? '' : ` ≠ ${esc((r.currentSha256 ?? 'missing').slice(0, 16))}`}</td></tr>`,
    )
    .join('\n');
  const statusRows = b
    ? (['working', 'idle', 'standby', 'offHours'] as const)
        .map(
          (s) =>
            `<tr data-status="${s}" data-hours="${b.statusHours[s]}"><td>${STATUS_LABEL[s]}</td><td>${h(b.statusHours[s])}</td></tr>`,
        )
        .join('\n')
    : '';
  const lineRows = b
    ? b.lines
        .map(
          (l) =>
            `<tr data-status="${l.status}" data-amount-minor="${l.amountMinor}"><td>${STATUS_LABEL[l.status] ?? esc(l.status)}</td><td>${h(l.milliHours / 1000)}</td><td>${h(l.billedMilliHours / 1000)}</td><td>${money(l.owningRateMinor)} × ${l.owningFactor}</td><td>${money(l.operatingRateMinor)} × ${l.operatingFactor}</td><td>${money(l.amountMinor)}</td><td>${esc(l.note ?? '')}</td></tr>`,
        )
        .join('\n')
    : '';
  const list = (section: string, items: string[]) =>
    `<ul data-section="${section}">${items.length ? items.map((i) => `<li>${i}</li>`).join('') : '<li class="none">none</li>'}</ul>`;
  const gaps = (b?.gaps ?? []).map(
    (g) =>
      `${esc(g.fromTs)} → ${esc(g.toTs)}: ${h(g.elapsedHours, 2)} h offline, ${h(g.engineHours)} engine h${g.inferred ? ` <strong>inferred</strong> (spread over ${esc(g.days.join(', '))}; ${esc(g.fromProjectId)} → ${esc(g.toProjectId)})` : ''}`,
  );
  const resets = e.resets.map((r) => `${esc(r.ts)}: ${esc(r.detail)}`);
  const moves = e.geofenceChanges.map((g) => `${esc(g.ts)}: ${esc(g.fromProjectId)} → ${esc(g.toProjectId)}`);
  const decision = e.unverifiedDecision
    ? `billed ${h(e.unverifiedDecision.hours)} h by ${esc(e.unverifiedDecision.by)} at ${esc(e.unverifiedDecision.at)}: ${esc(e.unverifiedDecision.reason)}`
    : 'not billed (no approver decision)';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Evidence ${esc(e.key)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2rem;color:#111}
h1{font-size:1.3rem}h2{font-size:1.05rem;margin-top:1.6rem}
table{border-collapse:collapse;margin:.4rem 0}td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:right}
td:first-child,th:first-child{text-align:left}.mono{font-family:ui-monospace,monospace}
tr.bad{background:#fee2e2}.ok{color:#166534}.fail{color:#b91c1c;font-weight:bold}.none{color:#666}
dl{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem}dt{color:#555}
</style></head>
<body>
<main data-key="${esc(e.key)}" data-amount-minor="${e.amountMinor}" data-currency="${esc(e.currency)}" data-sha256-stored="${esc(e.sha256.stored ?? '')}" data-sha256-current="${esc(e.sha256.current ?? '')}" data-sha256-matches="${e.sha256.matches}">
<h1>Allocation ${esc(e.key)}</h1>
<dl>
<dt>Unit</dt><dd>${esc(e.unitId)}</dd><dt>Project</dt><dd>${esc(e.projectId)}</dd><dt>Day</dt><dd>${esc(e.day)}</dd>
<dt>Status</dt><dd>${esc(e.status)}${e.odoo ? ` (Odoo ${esc(e.odoo.model)} #${e.odoo.id})` : ''}</dd>
<dt>Engine hours</dt><dd>${h(e.engineHours)} (idle ${h(e.idleHours)}, working ${h(e.workingHours)})</dd>
<dt>Amount</dt><dd><strong>${money(e.amountMinor)}</strong></dd>
<dt>Rate card</dt><dd>${b ? `${esc(b.model)}${b.scope ? `, ${esc(b.scope)}` : ''}` : '—'}</dd>
<dt>Unverified hours</dt><dd>${h(b?.unverifiedHours ?? 0)}: ${decision}</dd>
<dt>Inferred hours</dt><dd>${h(b?.inferredHours ?? 0)}</dd>
<dt>Lifetime meter hours</dt><dd data-lifetime-hours="${e.lifetime?.lifetimeHours ?? ''}">${e.lifetime ? `${h(e.lifetime.lifetimeHours)}${e.lifetime.replacements.length > 0 ? ` (meter ${h(e.lifetime.meterHours)} + ${h(e.lifetime.replacedHours)} replaced)` : ''}` : '—'}</dd>
<dt>Readings sha256</dt><dd class="mono">${esc(e.sha256.stored ?? '—')} <span class="${e.sha256.matches ? 'ok' : 'fail'}">${e.sha256.matches ? 'matches the store' : 'DOES NOT match the store'}</span></dd>
</dl>
<h2>Hours by status</h2>
<table data-section="status-hours"><tr><th>Status</th><th>Hours</th></tr>
${statusRows}
</table>
<h2>Rate card lines applied</h2>
<table data-section="lines"><tr><th>Status</th><th>Hours</th><th>Billed</th><th>Owning</th><th>Operating</th><th>Amount</th><th>Note</th></tr>
${lineRows}
</table>
<h2>Offline gaps</h2>
${list('gaps', gaps)}
<h2>Meter resets</h2>
${list('resets', resets)}
<h2>Geofence changes</h2>
${list('geofence-changes', moves)}
<h2>Readings behind it (${e.readings.length})</h2>
<table data-section="readings"><tr><th>ts</th><th>Engine h</th><th>Δ</th><th>Idle h</th><th>Δ</th><th>Project</th><th>Position</th><th>Batch</th><th>sha256</th></tr>
${readingsRows}
</table>
<p class="none">Generated ${esc(e.generatedAt)} by IronLedger. Hours are meter hours; money is exact minor units rounded once per allocation, half to even.</p>
</main></body></html>
`;
}
