/**
 * Master data the cloud keeps for attribution and pricing: sites (time zone, default project,
 * geofences), units and rates. Bodies are checked against the shared contract
 * (packages/contracts/src/master.ts) before they are sent, so mistakes are named by flag.
 */
import fs from 'node:fs';
import {
  EQUIPMENT_CLASSES,
  ProjectSchema,
  ProjectsResponseSchema,
  RateSchema,
  RatesResponseSchema,
  SiteSchema,
  SitesResponseSchema,
  UnitSchema,
  UnitsResponseSchema,
  UpsertResponseSchema,
} from '@ironledger/contracts';
import type { z } from 'zod';
import { type Args, bool, type CommandSpec, type Ctx, JSON_OPTION, required, str } from '../command.js';
import { EXIT, UsageError } from '../errors.js';
import { formatMoney, minorDigits } from '../format/money.js';
import { type Column, renderTable } from '../format/table.js';
import { parseDay, parseMoneyMinor } from '../values.js';

type Rec = Record<string, unknown>;

const text = (v: unknown) => (v === undefined || v === null || v === '' ? '-' : String(v));

function validate<T>(schema: z.ZodType<T>, body: unknown, flagOf: Record<string, string>): T {
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const key = String(issue.path[0] ?? '');
  const flag = flagOf[key] ? `--${flagOf[key]}` : key || 'input';
  throw new UsageError(`${flag}: ${issue.message}`, 'see --help for the expected form');
}

function readJsonFile(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError(
      `cannot read --file ${file}: ${(e as Error).message}`,
      'give a JSON file with one object',
    );
  }
}

async function listCommand(
  ctx: Ctx,
  a: Args,
  path: string,
  key: string,
  schema: z.ZodType<Record<string, unknown>>,
  cols: Column<Rec>[],
): Promise<number> {
  const { data, raw } = await ctx.api().get(path, schema);
  const rows = data[key] as Rec[];
  if (bool(a, 'json')) {
    ctx.json(raw);
    return EXIT.OK;
  }
  if (rows.length === 0) {
    ctx.out(`no ${key}\n`);
    return EXIT.OK;
  }
  ctx.out(renderTable(rows, cols, { headerStyle: ctx.c.dim }));
  return EXIT.OK;
}

async function addCommand(ctx: Ctx, a: Args, path: string, body: unknown, what: string): Promise<number> {
  const { data, raw } = await ctx.api().post(path, UpsertResponseSchema, body);
  if (bool(a, 'json')) ctx.json(raw);
  else ctx.out(`${data.created ? 'added' : 'updated'} ${what}\n`);
  return EXIT.OK;
}

/** `circle:<project>:<lat>,<lon>:<radiusM>` or `polygon:<project>:<lat>,<lon>;<lat>,<lon>;…`. */
export function parseGeofence(spec: string): unknown {
  const parts = spec.split(':');
  const pt = (s: string) => {
    const [lat, lon] = s.split(',').map((x) => Number(x.trim()));
    return { lat, lon };
  };
  if (parts[0] === 'circle' && parts.length === 4) {
    return { kind: 'circle', projectId: parts[1], center: pt(parts[2]!), radiusM: Number(parts[3]) };
  }
  if (parts[0] === 'polygon' && parts.length === 3) {
    return { kind: 'polygon', projectId: parts[1], points: parts[2]!.split(';').map(pt) };
  }
  throw new UsageError(
    `bad geofence '${spec}'`,
    'use circle:<project>:<lat>,<lon>:<radiusM> or polygon:<project>:<lat>,<lon>;<lat>,<lon>;<lat>,<lon>',
  );
}

const sitesList: CommandSpec = {
  name: 'sites list',
  summary: 'Sites with their time zone, default project and geofences',
  role: 'viewer',
  options: { ...JSON_OPTION },
  examples: [['All sites', 'ironledger sites list']],
  run: (ctx, a) =>
    listCommand(ctx, a, '/v1/sites', 'sites', SitesResponseSchema, [
      { header: 'SITE', value: (s) => text(s.siteId) },
      { header: 'NAME', value: (s) => text(s.name) },
      { header: 'TIME ZONE', value: (s) => text(s.timeZone) },
      { header: 'DEFAULT PROJECT', value: (s) => text(s.defaultProjectId) },
      {
        header: 'GEOFENCES',
        value: (s) =>
          Array.isArray(s.geofences) && s.geofences.length
            ? (s.geofences as Rec[]).map((g) => `${text(g.kind)}→${text(g.projectId)}`).join(', ')
            : '-',
      },
    ]),
};

const sitesAdd: CommandSpec = {
  name: 'sites add',
  summary: 'Add a site (from flags or a JSON file)',
  role: 'admin',
  options: {
    id: { type: 'string', value: 'siteId', description: 'Site id' },
    name: { type: 'string', value: 'text', description: 'Display name' },
    tz: { type: 'string', value: 'zone', description: 'IANA time zone, e.g. Europe/London' },
    'default-project': {
      type: 'string',
      value: 'projectId',
      description: 'Project for positions outside every geofence',
    },
    geofence: {
      type: 'string',
      multiple: true,
      value: 'spec',
      description: 'circle:<project>:<lat>,<lon>:<radiusM> or polygon:<project>:<lat>,<lon>;…',
    },
    file: { type: 'string', value: 'site.json', description: 'The whole site as JSON instead of flags' },
    ...JSON_OPTION,
  },
  examples: [
    [
      'A site with one geofenced project',
      "ironledger sites add --id S-RIVER --tz Europe/London --default-project P-YARD --geofence 'circle:P-RIVERSIDE:51.5007,-0.1246:400'",
    ],
    ['From a file', 'ironledger sites add --file site.json'],
  ],
  async run(ctx, a) {
    const file = str(a, 'file');
    const body = file
      ? readJsonFile(file)
      : {
          siteId: required(a, 'id', 'e.g. --id S-RIVER'),
          ...(str(a, 'name') ? { name: str(a, 'name') } : {}),
          timeZone: required(a, 'tz', 'e.g. --tz Europe/London'),
          defaultProjectId: required(a, 'default-project', 'e.g. --default-project P-YARD'),
          geofences: (Array.isArray(a.values.geofence) ? a.values.geofence : []).map(parseGeofence),
        };
    const site = validate(SiteSchema, body, {
      siteId: 'id',
      timeZone: 'tz',
      defaultProjectId: 'default-project',
      geofences: 'geofence',
    });
    return addCommand(ctx, a, '/v1/sites', site, `site ${site.siteId}`);
  },
};

const unitsList: CommandSpec = {
  name: 'units list',
  summary: 'Units with their equipment class, serial number and site',
  role: 'viewer',
  options: { ...JSON_OPTION },
  examples: [['All units', 'ironledger units list']],
  run: (ctx, a) =>
    listCommand(ctx, a, '/v1/units', 'units', UnitsResponseSchema, [
      { header: 'UNIT', value: (u) => text(u.unitId) },
      { header: 'CLASS', value: (u) => text(u.equipmentClass) },
      { header: 'SERIAL', value: (u) => text(u.serialNo) },
      { header: 'SITE', value: (u) => text(u.siteId) },
    ]),
};

const unitsAdd: CommandSpec = {
  name: 'units add',
  summary: 'Add a telematics unit',
  role: 'admin',
  options: {
    id: { type: 'string', value: 'unitId', description: 'Unit id as it publishes, e.g. EXC-0042' },
    class: { type: 'string', value: 'class', description: EQUIPMENT_CLASSES.join(', ') },
    serial: { type: 'string', value: 'serialNo', description: "Serial number (matches Odoo's equipment)" },
    site: { type: 'string', value: 'siteId', description: 'Home site, when its gateway has none' },
    ...JSON_OPTION,
  },
  examples: [
    [
      'An excavator',
      'ironledger units add --id EXC-0042 --class excavator --serial CAT320-77812 --site S-RIVER',
    ],
  ],
  async run(ctx, a) {
    const body = {
      unitId: required(a, 'id', 'e.g. --id EXC-0042'),
      equipmentClass: required(a, 'class', `one of: ${EQUIPMENT_CLASSES.join(', ')}`),
      ...(str(a, 'serial') ? { serialNo: str(a, 'serial') } : {}),
      ...(str(a, 'site') ? { siteId: str(a, 'site') } : {}),
    };
    const unit = validate(UnitSchema, body, {
      unitId: 'id',
      equipmentClass: 'class',
      serialNo: 'serial',
      siteId: 'site',
    });
    return addCommand(ctx, a, '/v1/units', unit, `unit ${unit.unitId}`);
  },
};

const ratesList: CommandSpec = {
  name: 'rates list',
  summary: 'Working and idle rates per unit or equipment class',
  role: 'viewer',
  options: { ...JSON_OPTION },
  examples: [['All rates', 'ironledger rates list']],
  run: (ctx, a) => {
    const money = (r: Rec, k: string) =>
      typeof r[k] === 'number' && typeof r.currency === 'string'
        ? `${formatMoney(r[k] as number, r.currency)}/h`
        : text(r[k]);
    return listCommand(ctx, a, '/v1/rates', 'rates', RatesResponseSchema, [
      { header: 'RATE', value: (r) => text(r.rateId) },
      {
        header: 'APPLIES TO',
        value: (r) => (r.unitId ? `unit ${text(r.unitId)}` : `class ${text(r.equipmentClass)}`),
      },
      { header: 'WORKING', value: (r) => money(r, 'workingRateMinor'), align: 'right' },
      { header: 'IDLE', value: (r) => money(r, 'idleRateMinor'), align: 'right' },
      { header: 'FROM', value: (r) => text(r.effectiveFrom) },
    ]);
  },
};

const ratesAdd: CommandSpec = {
  name: 'rates add',
  summary: 'Add a rate for a unit or an equipment class from a day on',
  description:
    'Adds a working and idle hourly rate, for one unit or a whole equipment class, effective\nfrom a day. Amounts are given in the currency (85.50) and stored as integer minor units.',
  role: 'admin',
  options: {
    id: { type: 'string', value: 'rateId', description: 'Rate id' },
    unit: { type: 'string', value: 'unitId', description: 'For this unit (or --class)' },
    class: {
      type: 'string',
      value: 'class',
      description: `For this equipment class: ${EQUIPMENT_CLASSES.join(', ')}`,
    },
    working: { type: 'string', value: 'amount', description: 'Working rate per hour, e.g. 85.00' },
    idle: { type: 'string', value: 'amount', description: 'Idle rate per hour, e.g. 20.00' },
    currency: { type: 'string', value: 'code', description: 'ISO 4217, e.g. USD' },
    from: { type: 'string', value: 'day', description: 'Effective from (YYYY-MM-DD)' },
    ...JSON_OPTION,
  },
  examples: [
    [
      'Excavators from December',
      'ironledger rates add --id R-EXC-2026-12 --class excavator --working 85.00 --idle 20.00 --currency USD --from 2026-12-01',
    ],
  ],
  async run(ctx, a) {
    const currency = required(a, 'currency', 'e.g. --currency USD').toUpperCase();
    if (!/^[A-Z]{3}$/.test(currency))
      throw new UsageError(`bad currency '${currency}'`, 'an ISO 4217 code, e.g. USD');
    const digits = minorDigits(currency);
    if (str(a, 'unit') && str(a, 'class')) throw new UsageError('a rate is for --unit or --class, not both');
    if (!str(a, 'unit') && !str(a, 'class'))
      throw new UsageError('name --unit or --class', 'e.g. --class excavator');
    const body = {
      rateId: required(a, 'id', 'e.g. --id R-EXC-2026-12'),
      ...(str(a, 'unit') ? { unitId: str(a, 'unit') } : { equipmentClass: str(a, 'class') }),
      workingRateMinor: parseMoneyMinor(required(a, 'working', 'e.g. --working 85.00'), digits, 'working'),
      idleRateMinor: parseMoneyMinor(required(a, 'idle', 'e.g. --idle 20.00'), digits, 'idle'),
      currency,
      effectiveFrom: parseDay(required(a, 'from', 'e.g. --from 2026-12-01'), 'from'),
    };
    const rate = validate(RateSchema, body, { rateId: 'id', unitId: 'unit', equipmentClass: 'class' });
    return addCommand(ctx, a, '/v1/rates', rate, `rate ${rate.rateId}`);
  },
};

const projectsList: CommandSpec = {
  name: 'projects list',
  summary: 'Projects (Odoo project / analytic account) usage is attributed to',
  role: 'viewer',
  options: { ...JSON_OPTION },
  examples: [['All projects', 'ironledger projects list']],
  run: (ctx, a) =>
    listCommand(ctx, a, '/v1/projects', 'projects', ProjectsResponseSchema, [
      { header: 'PROJECT', value: (p) => text(p.projectId) },
      { header: 'NAME', value: (p) => text(p.name) },
      { header: 'ODOO PROJECT', value: (p) => text(p.odooProjectId) },
      { header: 'ANALYTIC ACCOUNT', value: (p) => text(p.analyticAccountId) },
    ]),
};

const projectsAdd: CommandSpec = {
  name: 'projects add',
  summary: 'Add a project (or update its name and Odoo ids)',
  role: 'admin',
  options: {
    id: { type: 'string', value: 'projectId', description: 'Project id, e.g. P-RIVERSIDE' },
    name: { type: 'string', value: 'text', description: 'Name (as in Odoo, used to look it up)' },
    'odoo-project': { type: 'string', value: 'id', description: 'Odoo project.project id' },
    'analytic-account': { type: 'string', value: 'id', description: 'Odoo analytic account id' },
    ...JSON_OPTION,
  },
  examples: [
    [
      'A project known in Odoo',
      'ironledger projects add --id P-RIVERSIDE --name "Riverside Tower" --analytic-account 34',
    ],
  ],
  async run(ctx, a) {
    const num = (flag: string) => {
      const v = str(a, flag);
      return v === undefined ? undefined : Number(v);
    };
    const body = {
      projectId: required(a, 'id', 'e.g. --id P-RIVERSIDE'),
      name: required(a, 'name', 'e.g. --name "Riverside Tower"'),
      ...(num('odoo-project') !== undefined ? { odooProjectId: num('odoo-project') } : {}),
      ...(num('analytic-account') !== undefined ? { analyticAccountId: num('analytic-account') } : {}),
    };
    const project = validate(ProjectSchema, body, {
      projectId: 'id',
      odooProjectId: 'odoo-project',
      analyticAccountId: 'analytic-account',
    });
    return addCommand(ctx, a, '/v1/projects', project, `project ${project.projectId}`);
  },
};

export const masterData: CommandSpec[] = [
  sitesList,
  sitesAdd,
  projectsList,
  projectsAdd,
  unitsList,
  unitsAdd,
  ratesList,
  ratesAdd,
];
