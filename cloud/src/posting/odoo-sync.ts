/**
 * Master data from Odoo (Odoo owns it, DESIGN.md): maintenance.equipment (matched to units by
 * serial number) and project.project (with its analytic account) are read into IronLedger's
 * mirror, paged and incremental:
 *
 * - `search_read` pages of `pageSize` ordered by `id` with `offset` (154–163); a short page is
 *   the last. `["active", "in", [true, false]]` brings archived records too (158–159).
 * - Incremental: `write_date >= cursor` (Odoo compares whole seconds, so `>` would skip a
 *   record written later in the cursor's own second, 164–167 and 177–178); records are
 *   de-duplicated by id and the next cursor is the latest write_date read.
 * - The mirror writes only records that are new or differ: a second run with no change in
 *   Odoo writes nothing. Its write is a compare-and-set on the cursor the read started from:
 *   when another sync (another replica, the scheduled job) moved it meanwhile, nothing is
 *   written and the model is read again from the new cursor (at most `STALE_ATTEMPTS` times).
 *
 * `matchMasterData` then says, purely, what matched: units without (active) equipment,
 * equipment without a unit, IronLedger projects without an Odoo project.
 */
import type { OdooSyncResponse, Project, Unit } from '@ironledger/contracts';
import { IronLedgerError } from '@ironledger/errors';
import type { OdooClient } from '@ironledger/odoo';
import type { OdooMasterModel, OdooMasterRecord } from '../domain/types.js';

/** Where a sync keeps what it read (the store). */
export interface OdooMirror {
  cursor(model: OdooMasterModel): Promise<string | null>;
  list(model: OdooMasterModel): Promise<OdooMasterRecord[]>;
  /**
   * Writes what was read since `since`, and moves the cursor: a compare-and-set on `since`
   * (`stale` when another sync moved the cursor meanwhile: nothing written).
   */
  apply(
    model: OdooMasterModel,
    records: OdooMasterRecord[],
    since: string | null,
    cursor: string | null,
  ): Promise<{ kind: 'applied'; added: number[]; changed: number[] } | { kind: 'stale' }>;
}

export interface SyncOptions {
  pageSize?: number;
  /** A limit on what one sync reads per model (Odoo is outside our control). */
  maxRecords?: number;
  /** project.project's analytic account field (account_id on Odoo 18+). */
  projectAccountField?: string;
  signal?: AbortSignal | undefined;
}

const PAGE_SIZE = 200;
const MAX_RECORDS = 100_000;
/** Reads of one model that another sync overtook before this one gives up. */
const STALE_ATTEMPTS = 3;

type Raw = Record<string, unknown> & { id: number };

function toRecord(model: OdooMasterModel, r: Raw, accountField: string): OdooMasterRecord {
  const acct = r[accountField];
  return {
    odooId: r.id,
    name: typeof r.name === 'string' ? r.name : String(r.name ?? ''),
    serialNo: model === 'maintenance.equipment' && typeof r.serial_no === 'string' ? r.serial_no : null,
    accountId:
      model === 'project.project' && Array.isArray(acct) && typeof acct[0] === 'number' ? acct[0] : null,
    active: r.active !== false,
    writeDate: typeof r.write_date === 'string' ? r.write_date : '',
  };
}

/** Reads one model's records changed since the cursor, all pages, de-duplicated by id. */
export async function readChanged(
  client: OdooClient,
  model: OdooMasterModel,
  cursor: string | null,
  opts: SyncOptions = {},
): Promise<{ records: OdooMasterRecord[]; cursor: string | null; pages: number }> {
  const pageSize = opts.pageSize ?? PAGE_SIZE;
  const max = opts.maxRecords ?? MAX_RECORDS;
  const accountField = opts.projectAccountField ?? 'account_id';
  const fields =
    model === 'maintenance.equipment'
      ? ['id', 'name', 'serial_no', 'active', 'write_date']
      : ['id', 'name', accountField, 'active', 'write_date'];
  const domain: unknown[] = [['active', 'in', [true, false]]];
  if (cursor) domain.push(['write_date', '>=', cursor]);
  const byId = new Map<number, OdooMasterRecord>();
  let pages = 0;
  for (let offset = 0; ; offset += pageSize) {
    const page = await client.searchRead<Raw>(model, domain, fields, {
      offset,
      limit: pageSize,
      order: 'id',
      signal: opts.signal,
    });
    pages++;
    for (const r of page) byId.set(r.id, toRecord(model, r, accountField));
    if (page.length < pageSize) break;
    if (byId.size >= max)
      throw new IronLedgerError(
        'ODOO_PROTOCOL',
        `${model}: more than ${max} records changed since ${cursor ?? 'the start'}; raise the sync limit`,
      );
  }
  const records = [...byId.values()];
  const latest = records.reduce<string | null>(
    (m, r) => (r.writeDate && (m === null || r.writeDate > m) ? r.writeDate : m),
    null,
  );
  return { records, cursor: latest ?? cursor, pages };
}

/** What the mirror says against IronLedger's units and projects; pure. */
export function matchMasterData(
  units: Unit[],
  projects: Project[],
  equipment: OdooMasterRecord[],
  odooProjects: OdooMasterRecord[],
): Pick<OdooSyncResponse, 'unmatched'> {
  const serials = new Map<string, OdooMasterRecord[]>();
  for (const e of equipment) if (e.serialNo) serials.set(e.serialNo, [...(serials.get(e.serialNo) ?? []), e]);
  const unitSerials = new Set(units.map((u) => u.serialNo ?? u.unitId));
  const unitsOut: OdooSyncResponse['unmatched']['units'] = [];
  for (const u of units) {
    const serial = u.serialNo ?? u.unitId;
    const found = serials.get(serial) ?? [];
    if (found.some((e) => e.active)) continue;
    unitsOut.push({
      unitId: u.unitId,
      serialNo: serial,
      reason: found.length > 0 ? 'archived in Odoo' : 'no maintenance.equipment with this serial number',
    });
  }
  const byName = new Map(odooProjects.map((p) => [p.name, p]));
  const byId = new Map(odooProjects.map((p) => [p.odooId, p]));
  const projectsOut: OdooSyncResponse['unmatched']['projects'] = [];
  for (const p of projects) {
    const o = (p.odooProjectId ? byId.get(p.odooProjectId) : undefined) ?? byName.get(p.name);
    if (!o)
      projectsOut.push({ projectId: p.projectId, name: p.name, reason: 'no project.project by this name' });
    else if (!o.active)
      projectsOut.push({ projectId: p.projectId, name: p.name, reason: 'archived in Odoo' });
    else if (o.accountId === null)
      projectsOut.push({
        projectId: p.projectId,
        name: p.name,
        reason: 'the Odoo project has no analytic account',
      });
  }
  return {
    unmatched: {
      units: unitsOut,
      equipment: equipment
        .filter((e) => e.active && !(e.serialNo && unitSerials.has(e.serialNo)))
        .map((e) => ({ odooId: e.odooId, name: e.name, serialNo: e.serialNo })),
      projects: projectsOut,
    },
  };
}

/** One sync of both models into the mirror, and what matched. */
export async function syncFromOdoo(
  client: OdooClient,
  mirror: OdooMirror,
  master: { units: Unit[]; projects: Project[] },
  opts: SyncOptions = {},
): Promise<OdooSyncResponse> {
  const models = [
    ['equipment', 'maintenance.equipment'],
    ['projects', 'project.project'],
  ] as const;
  const out: Partial<OdooSyncResponse> = {};
  for (const [key, model] of models) {
    let since: string | null = null;
    let read: Awaited<ReturnType<typeof readChanged>> | null = null;
    let applied: { added: number[]; changed: number[] } | null = null;
    for (let attempt = 1; applied === null; attempt++) {
      if (attempt > STALE_ATTEMPTS)
        throw new IronLedgerError(
          'CONFLICT',
          `${model}: another master-data sync moved the cursor ${STALE_ATTEMPTS} times during this one; run it again`,
        );
      since = await mirror.cursor(model);
      read = await readChanged(client, model, since, opts);
      const r = await mirror.apply(model, read.records, since, read.cursor);
      if (r.kind === 'applied') applied = r;
    }
    if (!read) throw new Error('unreachable: a sync applied without a read');
    const { added, changed } = applied;
    const byId = new Map(read.records.map((r) => [r.odooId, r]));
    const show = (id: number) => {
      const r = byId.get(id) as OdooMasterRecord;
      return {
        odooId: r.odooId,
        name: r.name,
        serialNo: r.serialNo,
        accountId: r.accountId,
        active: r.active,
      };
    };
    out[key] = {
      since,
      cursor: read.cursor,
      read: read.records.length,
      pages: read.pages,
      added: added.map(show),
      changed: changed.map(show),
    };
  }
  const m = matchMasterData(
    master.units,
    master.projects,
    await mirror.list('maintenance.equipment'),
    await mirror.list('project.project'),
  );
  return { ...(out as Pick<OdooSyncResponse, 'equipment' | 'projects'>), ...m };
}
