/**
 * Contract 3, out: the cloud's own units as an ISO 15143-3 (AEMP 2.0) feed, from stored
 * usable readings (held, conflicting and superseded versions are never served). Viewer token.
 *
 *   GET /aemp/2.0/Fleet/{page}                                                fleet snapshot, pages from 1
 *   GET /aemp/2.0/Fleet/Equipment/{id}                                        one machine's snapshot
 *   GET /aemp/2.0/Fleet/Equipment/{id}/{element}/{startUTC}/{endUTC}/{page}   time series of one element
 *
 * XML (namespace http://standards.iso.org/iso/15143/-3) unless `Accept` prefers JSON. Pages
 * carry `Links` self/prev/next/last; `pageSize` machines or instants a page. EquipmentID is
 * the unit id, SerialNumber its serial number (what a reader matches its machines by).
 */
import {
  AEMP_ELEMENTS,
  type AempElement,
  type AempRenderInput,
  aempDialect,
  renderAempDocument,
  type Unit,
} from '@ironledger/contracts';
import type { AppContext } from '../context.js';
import { requireRole } from '../http/auth.js';
import { HttpProblem } from '../http/problem.js';
import type { Reply, RequestContext, Router } from '../http/router.js';

const BASE = '/aemp/2.0';
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

export function aempRoutes(router: Router, app: AppContext): void {
  if (!app.config.aemp.serve.enabled) return;
  const pageSize = app.config.aemp.serve.pageSize;

  router.on('GET', `${BASE}/Fleet/:page`, async (ctx) => {
    await requireRole(ctx.req, app.tokens, 'viewer');
    const page = pageNumber(ctx.params.page);
    const units = [...app.master.units.values()].sort((a, b) => cmp(a.unitId, b.unitId));
    const last = Math.max(1, Math.ceil(units.length / pageSize));
    if (page > last) throw HttpProblem.from('NOT_FOUND', `page ${page} is past the last page ${last}`);
    const slice = units.slice((page - 1) * pageSize, page * pageSize);
    const equipment: AempRenderInput['equipment'] = [];
    for (const u of slice) {
      const r = await app.store.latestUsableReading(u.unitId);
      equipment.push({ header: headerOf(u), readings: r ? [r] : [] });
    }
    const base = baseUrl(app, ctx);
    return render(ctx, {
      snapshotTime: new Date(app.now()).toISOString(),
      links: pageLinks((p) => `${base}${BASE}/Fleet/${p}`, page, last),
      equipment,
    });
  });

  router.on('GET', `${BASE}/Fleet/Equipment/:id`, async (ctx) => {
    await requireRole(ctx.req, app.tokens, 'viewer');
    const u = unitOf(app, ctx.params.id);
    const r = await app.store.latestUsableReading(u.unitId);
    const self = `${baseUrl(app, ctx)}${BASE}/Fleet/Equipment/${encodeURIComponent(u.unitId)}`;
    return render(ctx, {
      snapshotTime: new Date(app.now()).toISOString(),
      links: { self },
      equipment: [{ header: headerOf(u), readings: r ? [r] : [] }],
    });
  });

  router.on('GET', `${BASE}/Fleet/Equipment/:id/:element/:start/:end/:page`, async (ctx) => {
    await requireRole(ctx.req, app.tokens, 'viewer');
    const u = unitOf(app, ctx.params.id);
    const element = ctx.params.element as AempElement;
    if (!(AEMP_ELEMENTS as readonly string[]).includes(element))
      throw new HttpProblem(
        400,
        'AEMP_ELEMENT_UNKNOWN',
        `element must be one of ${AEMP_ELEMENTS.join(', ')}`,
      );
    const fromMs = instant('startUTC', ctx.params.start);
    const toMs = instant('endUTC', ctx.params.end);
    if (toMs < fromMs) throw new HttpProblem(400, 'AEMP_RANGE_INVALID', 'endUTC is before startUTC');
    const page = pageNumber(ctx.params.page);
    // One more than a page tells whether a next page exists without counting the range.
    const rows = await app.store.usableReadingBodies(
      u.unitId,
      fromMs,
      toMs,
      pageSize + 1,
      (page - 1) * pageSize,
    );
    const more = rows.length > pageSize;
    const base = `${baseUrl(app, ctx)}${BASE}/Fleet/Equipment/${encodeURIComponent(u.unitId)}/${element}/${ctx.params.start}/${ctx.params.end}`;
    const links: AempRenderInput['links'] = { self: `${base}/${page}` };
    if (page > 1) links.prev = `${base}/${page - 1}`;
    if (more) links.next = `${base}/${page + 1}`;
    return render(ctx, {
      snapshotTime: new Date(app.now()).toISOString(),
      links,
      equipment: [{ header: headerOf(u), readings: rows.slice(0, pageSize), elements: [element] }],
    });
  });
}

function render(ctx: RequestContext, input: AempRenderInput): Reply {
  const json = prefersJson(ctx.req.headers.accept);
  const text = renderAempDocument(input, aempDialect(json ? 'json' : 'iso'));
  return {
    status: 200,
    text,
    contentType: json ? 'application/json; charset=utf-8' : 'application/xml; charset=utf-8',
    headers: { Vary: 'Accept', 'Cache-Control': 'private, max-age=60' },
  };
}

/** JSON when the client names application/json with a higher (or equal, earlier) weight than XML. */
export function prefersJson(accept: string | undefined): boolean {
  if (!accept) return false;
  let json = -1;
  let xml = -1;
  for (const part of accept.split(',').slice(0, 32)) {
    const [type, ...params] = part.trim().toLowerCase().split(';');
    const qp = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const q = qp ? Number(qp.slice(2)) : 1;
    if (!Number.isFinite(q)) continue;
    if (type === 'application/json' && q > json) json = q;
    if ((type === 'application/xml' || type === 'text/xml') && q > xml) xml = q;
  }
  return json > 0 && json > xml;
}

function headerOf(u: Unit) {
  return {
    OEMName: 'IronLedger',
    Model: u.equipmentClass,
    EquipmentID: u.unitId,
    ...(u.serialNo !== undefined ? { SerialNumber: u.serialNo } : {}),
  };
}

function unitOf(app: AppContext, id: string | undefined): Unit {
  const u = id ? app.master.units.get(id) : undefined;
  if (!u) throw HttpProblem.from('NOT_FOUND', `no equipment ${id}`);
  return u;
}

function pageNumber(s: string | undefined): number {
  const n = Number(s);
  if (!/^\d{1,9}$/.test(s ?? '') || n < 1)
    throw new HttpProblem(400, 'AEMP_PAGE_INVALID', `page "${s}" is not a page number (from 1)`);
  return n;
}

function instant(name: string, s: string | undefined): number {
  const ms = Date.parse(s ?? '');
  if (!INSTANT.test(s ?? '') || Number.isNaN(ms))
    throw new HttpProblem(400, 'AEMP_RANGE_INVALID', `${name} "${s}" is not an ISO 8601 instant with a zone`);
  return ms;
}

function pageLinks(href: (p: number) => string, page: number, last: number): AempRenderInput['links'] {
  const links: AempRenderInput['links'] = { self: href(page), last: href(last) };
  if (page > 1) links.prev = href(page - 1);
  if (page < last) links.next = href(page + 1);
  return links;
}

function baseUrl(app: AppContext, ctx: RequestContext): string {
  const configured = app.config.aemp.serve.baseUrl;
  if (configured) return configured.replace(/\/+$/, '');
  const host = ctx.req.headers.host;
  return host && /^[A-Za-z0-9.[\]:-]{1,255}$/.test(host) ? `http://${host}` : 'http://localhost';
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
