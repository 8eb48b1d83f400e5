/**
 * The month report as one self-contained HTML file: inline CSS and SVG only, no scripts, no
 * fonts, no network (a Content-Security-Policy forbids any fetch at view time). Every chart
 * carries its totals as data-* attributes so a test, or a suspicious accountant, can check
 * the drawing against the figures:
 *   svg[data-chart=hours-per-project-per-day]  data-total (engine hours), rect[data-hours]
 *   svg[data-chart=idle-share-per-unit]        data-total (idle h), data-total-engine, g[data-unit]
 *   svg[data-chart=cost-per-project]           data-currency, data-total-minor, rect[data-amount-minor]
 *   svg[data-chart=anomalies]                  data-total (count), circle[data-kind]
 */
import { formatMoney, sumMinor } from '../format/money.js';
import {
  allAnomalies,
  allocationStatusCounts,
  attrNumber,
  costPerProject,
  hoursPerProjectPerDay,
  idleSharePerUnit,
  niceStep,
  type ReportData,
} from './aggregate.js';

/** Project colours; amber and green are kept for idle and working time. */
const PALETTE = [
  '#2563eb',
  '#7c3aed',
  '#0891b2',
  '#db2777',
  '#4d7c0f',
  '#ea580c',
  '#0f766e',
  '#9333ea',
  '#475569',
  '#be123c',
];
const KIND_COLOUR: Record<string, string> = {
  meter_reset: '#ef4444',
  meter_jump: '#f59e0b',
  clock_invalid: '#8b5cf6',
  conflict: '#0ea5e9',
};

export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

const f1 = (n: number) => n.toFixed(1);
const f2 = (n: number) => n.toFixed(2);
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** One colour per project across every chart of the report, by sorted project id. */
function projectColours(data: ReportData): (p: string) => string {
  const ids = [
    ...new Set([...data.usage.map((r) => r.projectId), ...data.allocations.map((a) => a.projectId)]),
  ].sort();
  return (p) => PALETTE[Math.max(0, ids.indexOf(p)) % PALETTE.length]!;
}

function legend(items: readonly [string, string][]): string {
  return `<ul class="legend">${items.map(([label, colour]) => `<li><span class="swatch" style="background:${colour}"></span>${esc(label)}</li>`).join('')}</ul>`;
}

function hoursChart(data: ReportData): string {
  const agg = hoursPerProjectPerDay(data.byProjectDay, data.days);
  const colour = projectColours(data);
  const W = 960;
  const H = 320;
  const m = { top: 16, right: 16, bottom: 44, left: 48 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const maxDay = Math.max(0, ...agg.dayTotals.values());
  const step = niceStep(maxDay);
  const yMax = Math.max(step, Math.ceil(maxDay / step) * step);
  const y = (v: number) => m.top + ph - (v / yMax) * ph;
  const slot = pw / Math.max(1, agg.days.length);
  const bw = Math.max(2, slot * 0.72);
  const parts: string[] = [];
  for (let v = 0; v <= yMax + 1e-9; v += step) {
    parts.push(
      `<line class="grid" x1="${m.left}" x2="${W - m.right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}"/>`,
    );
    parts.push(
      `<text class="tick" x="${m.left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${Number(v.toFixed(2))}</text>`,
    );
  }
  agg.days.forEach((day, i) => {
    const x = m.left + i * slot + (slot - bw) / 2;
    let acc = 0;
    const byProject = agg.hours.get(day)!;
    const dayTotal = agg.dayTotals.get(day) ?? 0;
    parts.push(`<g class="day" data-day="${day}" data-total="${attrNumber(dayTotal)}">`);
    for (const p of agg.projects) {
      const h = byProject.get(p) ?? 0;
      if (h <= 0) continue;
      const y0 = y(acc);
      const y1 = y(acc + h);
      acc += h;
      parts.push(
        `<rect class="bar" x="${x.toFixed(1)}" y="${y1.toFixed(1)}" width="${bw.toFixed(1)}" height="${Math.max(0.5, y0 - y1).toFixed(1)}" fill="${colour(p)}" data-project="${esc(p)}" data-day="${day}" data-hours="${attrNumber(h)}"><title>${esc(p)} · ${day}: ${f2(h)} h</title></rect>`,
      );
    }
    parts.push('</g>');
    const dd = day.slice(8);
    if (agg.days.length <= 16 || i % 2 === 0) {
      parts.push(
        `<text class="tick" x="${(m.left + i * slot + slot / 2).toFixed(1)}" y="${H - m.bottom + 16}" text-anchor="middle">${dd}</text>`,
      );
    }
  });
  parts.push(
    `<text class="axis" x="${m.left + pw / 2}" y="${H - 6}" text-anchor="middle">day of ${esc(data.period)}</text>`,
  );
  parts.push(
    `<text class="axis" transform="translate(12 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">engine hours</text>`,
  );
  const svg = `<svg class="chart" role="img" aria-label="Engine hours per project per day" viewBox="0 0 ${W} ${H}" data-chart="hours-per-project-per-day" data-total="${attrNumber(agg.total)}" data-projects="${agg.projects.length}">${parts.join('')}</svg>`;
  return `<section class="card wide"><h2>Hours per project per day <small>${f1(agg.total)} engine h</small></h2>${svg}${legend(agg.projects.map((p) => [p, colour(p)]))}</section>`;
}

function idleChart(data: ReportData): string {
  const units = idleSharePerUnit(data.idleShareByUnit);
  const W = 960;
  const row = 26;
  const m = { top: 8, right: 150, bottom: 8, left: 120 };
  const H = m.top + m.bottom + Math.max(1, units.length) * row;
  const pw = W - m.left - m.right;
  const totalEngine = units.reduce((t, u) => t + u.engineHours, 0);
  const totalIdle = units.reduce((t, u) => t + u.idleHours, 0);
  const parts: string[] = [];
  units.forEach((u, i) => {
    const y = m.top + i * row + 4;
    const idleW = pw * u.idleShare;
    const workW = pw - idleW;
    const warn = u.idleShare >= 0.4;
    parts.push(
      `<g class="unit" data-unit="${esc(u.unitId)}" data-engine-hours="${attrNumber(u.engineHours)}" data-idle-hours="${attrNumber(u.idleHours)}" data-idle-share="${attrNumber(u.idleShare, 4)}">` +
        `<text class="label" x="${m.left - 8}" y="${y + 13}" text-anchor="end">${esc(u.unitId)}</text>` +
        `<rect class="working" x="${m.left}" y="${y}" width="${workW.toFixed(1)}" height="${row - 8}" fill="#10b981"><title>${esc(u.unitId)}: ${f2(u.workingHours)} h working</title></rect>` +
        `<rect class="idle" x="${(m.left + workW).toFixed(1)}" y="${y}" width="${idleW.toFixed(1)}" height="${row - 8}" fill="#f59e0b"><title>${esc(u.unitId)}: ${f2(u.idleHours)} h idle</title></rect>` +
        `<text class="value${warn ? ' warn' : ''}" x="${W - m.right + 8}" y="${y + 13}">${pct(u.idleShare)} idle · ${f1(u.engineHours)} h</text>` +
        '</g>',
    );
  });
  if (units.length === 0)
    parts.push(`<text class="empty" x="${W / 2}" y="${m.top + 16}" text-anchor="middle">no usage</text>`);
  const share = totalEngine > 0 ? totalIdle / totalEngine : 0;
  const svg = `<svg class="chart" role="img" aria-label="Idle share per unit" viewBox="0 0 ${W} ${H}" data-chart="idle-share-per-unit" data-total="${attrNumber(totalIdle)}" data-total-engine="${attrNumber(totalEngine)}" data-units="${units.length}">${parts.join('')}</svg>`;
  return `<section class="card wide"><h2>Idle share per unit <small>${pct(share)} of ${f1(totalEngine)} engine h idle</small></h2>${svg}${legend(
    [
      ['working', '#10b981'],
      ['idle', '#f59e0b'],
    ],
  )}</section>`;
}

function costCharts(data: ReportData): string {
  const byCurrency = costPerProject(data.costByProject);
  const colour = projectColours(data);
  if (byCurrency.size === 0) {
    return `<section class="card"><h2>Cost per project</h2><svg class="chart" viewBox="0 0 460 40" data-chart="cost-per-project" data-currency="" data-total-minor="0"><text class="empty" x="230" y="24" text-anchor="middle">no allocations</text></svg></section>`;
  }
  const out: string[] = [];
  for (const [currency, projects] of byCurrency) {
    const W = 460;
    const row = 30;
    const m = { top: 8, right: 130, bottom: 8, left: 110 };
    const H = m.top + m.bottom + projects.length * row;
    const pw = W - m.left - m.right;
    const max = Math.max(1, ...projects.map((p) => p.amountMinor));
    const total = sumMinor(projects.map((p) => p.amountMinor));
    const parts = projects.map((p, i) => {
      const y = m.top + i * row + 5;
      const w = Math.max(0.5, (Math.max(0, p.amountMinor) / max) * pw);
      return (
        `<text class="label" x="${m.left - 8}" y="${y + 14}" text-anchor="end">${esc(p.projectId)}</text>` +
        `<rect class="bar" x="${m.left}" y="${y}" width="${w.toFixed(1)}" height="${row - 10}" fill="${colour(p.projectId)}" data-project="${esc(p.projectId)}" data-amount-minor="${p.amountMinor}"><title>${esc(p.projectId)}: ${esc(formatMoney(p.amountMinor, currency))} (posted ${esc(formatMoney(p.postedMinor, currency))}, approved ${esc(formatMoney(p.approvedMinor, currency))}, pending ${esc(formatMoney(p.pendingMinor, currency))})</title></rect>` +
        `<text class="value" x="${(m.left + w + 6).toFixed(1)}" y="${y + 14}">${esc(formatMoney(p.amountMinor, currency))}</text>`
      );
    });
    out.push(
      `<section class="card"><h2>Cost per project <small>${esc(formatMoney(total, currency))}</small></h2><svg class="chart" role="img" aria-label="Cost per project in ${currency}" viewBox="0 0 ${W} ${H}" data-chart="cost-per-project" data-currency="${currency}" data-total-minor="${total}">${parts.join('')}</svg></section>`,
    );
  }
  return out.join('');
}

function anomalyChart(data: ReportData): string {
  const anomalies = allAnomalies(data);
  const units = [...new Set(anomalies.map((a) => a.unitId))].sort();
  const W = 460;
  const row = 24;
  const m = { top: 8, right: 12, bottom: 24, left: 100 };
  const H = m.top + m.bottom + Math.max(1, units.length) * row;
  const pw = W - m.left - m.right;
  const start = Date.parse(`${data.days[0]}T00:00:00Z`);
  const end = Date.parse(`${data.days[data.days.length - 1]}T23:59:59Z`);
  const x = (ts: string) => m.left + Math.min(1, Math.max(0, (Date.parse(ts) - start) / (end - start))) * pw;
  const parts: string[] = [];
  units.forEach((u, i) => {
    const y = m.top + i * row + row / 2;
    parts.push(`<line class="grid" x1="${m.left}" x2="${W - m.right}" y1="${y}" y2="${y}"/>`);
    parts.push(`<text class="label" x="${m.left - 8}" y="${y + 4}" text-anchor="end">${esc(u)}</text>`);
  });
  for (const a of anomalies) {
    const y = m.top + units.indexOf(a.unitId) * row + row / 2;
    parts.push(
      `<circle cx="${x(a.ts).toFixed(1)}" cy="${y}" r="6" fill="${KIND_COLOUR[a.kind] ?? '#64748b'}" data-kind="${a.kind}" data-unit="${esc(a.unitId)}"><title>${esc(a.unitId)} ${a.kind} at ${esc(a.ts)}: ${esc(a.detail)}</title></circle>`,
    );
  }
  if (anomalies.length === 0) {
    parts.push(
      `<text class="empty ok" x="${W / 2}" y="${m.top + 16}" text-anchor="middle">no anomalies this period</text>`,
    );
  } else {
    parts.push(`<text class="tick" x="${m.left}" y="${H - 6}">${esc(data.days[0]!)}</text>`);
    parts.push(
      `<text class="tick" x="${W - m.right}" y="${H - 6}" text-anchor="end">${esc(data.days[data.days.length - 1]!)}</text>`,
    );
  }
  const kinds = [...new Set(anomalies.map((a) => a.kind))];
  const svg = `<svg class="chart" role="img" aria-label="Anomalies" viewBox="0 0 ${W} ${H}" data-chart="anomalies" data-total="${anomalies.length}">${parts.join('')}</svg>`;
  const rows = anomalies
    .slice(0, 50)
    .map(
      (a) =>
        `<tr><td>${esc(a.ts.slice(0, 16).replace('T', ' '))}</td><td>${esc(a.unitId)}</td><td><span class="kind" style="color:${KIND_COLOUR[a.kind] ?? '#64748b'}">${esc(a.kind.replace('_', ' '))}</span></td><td>${esc(a.detail)}</td></tr>`,
    )
    .join('');
  const table = anomalies.length
    ? `<table class="anomalies"><thead><tr><th>when (UTC)</th><th>unit</th><th>kind</th><th>detail</th></tr></thead><tbody>${rows}</tbody></table>${anomalies.length > 50 ? `<p class="muted">and ${anomalies.length - 50} more</p>` : ''}`
    : '';
  return `<section class="card"><h2>Anomalies <small>${anomalies.length} flagged, not summed</small></h2>${svg}${legend(kinds.map((k) => [k.replace('_', ' '), KIND_COLOUR[k] ?? '#64748b']))}${table}</section>`;
}

function summary(data: ReportData): string {
  const engine = data.byProjectDay.reduce((t, r) => t + r.engineHours, 0);
  const working = data.byProjectDay.reduce((t, r) => t + r.workingHours, 0);
  const idle = data.byProjectDay.reduce((t, r) => t + r.idleHours, 0);
  const units = new Set(data.usage.map((r) => r.unitId)).size;
  const projects = new Set(data.usage.map((r) => r.projectId)).size;
  const cost = [...costPerProject(data.costByProject)]
    .map(([cur, ps]) => formatMoney(sumMinor(ps.map((p) => p.amountMinor)), cur))
    .join(' + ');
  const counts = allocationStatusCounts(data.allocations);
  const statusLine = ['pending', 'approved', 'posted', 'rejected']
    .filter((s) => counts[s])
    .map((s) => `<span class="st ${s}">${counts[s]} ${s}</span>`)
    .join(' ');
  const card = (label: string, value: string, sub = '') =>
    `<div class="kpi"><div class="kpi-label">${esc(label)}</div><div class="kpi-value">${value}</div><div class="kpi-sub">${sub}</div></div>`;
  return `<section class="kpis">${[
    card('Engine hours', f1(engine), `${f1(working)} working · ${f1(idle)} idle`),
    card(
      'Idle share',
      engine > 0 ? pct(idle / engine) : '-',
      `${units} unit${units === 1 ? '' : 's'} on ${projects} project${projects === 1 ? '' : 's'}`,
    ),
    card('Cost', esc(cost || '-'), statusLine || 'no allocations'),
    card('Anomalies', String(allAnomalies(data).length), 'flagged for review'),
  ].join('')}</section>`;
}

function projectTable(data: ReportData): string {
  const hours = new Map<string, { engine: number; working: number; idle: number }>();
  for (const r of data.byProjectDay) {
    const h = hours.get(r.projectId) ?? { engine: 0, working: 0, idle: 0 };
    h.engine += r.engineHours;
    h.working += r.workingHours;
    h.idle += r.idleHours;
    hours.set(r.projectId, h);
  }
  const costs = costPerProject(data.costByProject);
  const ids = [...new Set([...hours.keys(), ...[...costs.values()].flat().map((p) => p.projectId)])].sort();
  if (ids.length === 0) return '';
  const costOf = (id: string) =>
    [...costs]
      .flatMap(([cur, ps]) =>
        ps.filter((p) => p.projectId === id).map((p) => formatMoney(p.amountMinor, cur)),
      )
      .join(' + ') || '-';
  const rows = ids
    .map((id) => {
      const h = hours.get(id) ?? { engine: 0, working: 0, idle: 0 };
      return `<tr><td>${esc(id)}</td><td class="num">${f2(h.engine)}</td><td class="num">${f2(h.working)}</td><td class="num">${f2(h.idle)}</td><td class="num">${esc(costOf(id))}</td></tr>`;
    })
    .join('');
  return `<section class="card wide"><h2>Per project</h2><table><thead><tr><th>project</th><th class="num">engine h</th><th class="num">working h</th><th class="num">idle h</th><th class="num">cost</th></tr></thead><tbody>${rows}</tbody></table></section>`;
}

const CSS = `
:root{--fg:#0f172a;--muted:#64748b;--line:#e2e8f0;--bg:#f8fafc;--card:#fff}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:var(--bg)}
header{padding:24px 32px 8px}
h1{margin:0;font-size:22px}
h1 small,h2 small{font-weight:400;color:var(--muted);margin-left:8px}
h2{font-size:15px;margin:0 0 12px}
main{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:16px;padding:16px 32px 32px}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:16px 18px}
.wide{grid-column:1/-1}
.kpis{grid-column:1/-1;display:grid;grid-template-columns:repeat(4,minmax(0,1fr));gap:16px}
.kpi{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 18px}
.kpi-label{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.kpi-value{font-size:26px;font-weight:600;margin:2px 0}
.kpi-sub{color:var(--muted);font-size:12px}
.st{display:inline-block;border-radius:9px;padding:0 7px;margin-right:2px;background:#e2e8f0}
.st.pending{background:#fef3c7}.st.approved{background:#dbeafe}.st.posted{background:#d1fae5}.st.rejected{background:#fee2e2}
svg.chart{width:100%;height:auto;display:block}
svg .grid{stroke:var(--line);stroke-width:1}
svg .tick,svg .axis{fill:var(--muted);font-size:11px}
svg .label{fill:var(--fg);font-size:12px}
svg .value{fill:var(--fg);font-size:12px}
svg .value.warn{fill:#b45309;font-weight:600}
svg .empty{fill:var(--muted);font-size:13px}
svg .empty.ok{fill:#047857}
.legend{list-style:none;margin:10px 0 0;padding:0;display:flex;flex-wrap:wrap;gap:6px 16px;color:var(--muted);font-size:12px}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px;vertical-align:-1px}
table{border-collapse:collapse;width:100%;font-size:13px;margin-top:8px}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line)}
th{color:var(--muted);font-weight:500}
.num{text-align:right;font-variant-numeric:tabular-nums}
.kind{font-weight:600}
.muted,footer{color:var(--muted)}
footer{padding:0 32px 24px;font-size:12px}
@media (max-width:800px){main{grid-template-columns:1fr}.kpis{grid-template-columns:repeat(2,1fr)}}
@media print{body{background:#fff}.card,.kpi{break-inside:avoid}}
`;

export function renderReport(data: ReportData): string {
  const generated = data.generatedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>IronLedger report ${esc(data.period)}</title>
<style>${CSS}</style>
</head>
<body data-period="${esc(data.period)}">
<header><h1>Fleet usage and cost <small>${esc(data.period)}${data.locked === true ? ' · closed' : data.locked === false ? ' · open' : ''}</small></h1></header>
<main>
${summary(data)}
${hoursChart(data)}
${costCharts(data)}
${anomalyChart(data)}
${idleChart(data)}
${projectTable(data)}
</main>
<footer>Generated ${esc(generated)} by ironledger from ${esc(data.source)}. Hours are engine hours by site-local day; costs exclude rejected and superseded allocations; amounts in integer minor units, never rounded in sums.</footer>
</body>
</html>
`;
}
