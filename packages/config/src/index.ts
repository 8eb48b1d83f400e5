/**
 * loadConfig(schema, {file, env}): defaults < file (YAML or JSON) < environment, validated
 * once by a strict zod schema, every problem listed by its key, then frozen.
 *
 * Environment overrides map `PREFIX_A__B` to key path `a.b` (double underscore between
 * levels, single underscore inside a key becomes camelCase: `EDGE_FORWARD__BATCH_SIZE` →
 * `forward.batchSize`). Secrets can come from `NAME_FILE` (the file's content, trimmed).
 * Explicit `envMap` entries name variables that do not follow the prefix rule
 * (e.g. `ODOO_URL` → `odoo.url`); their values are taken as strings, never as numbers: they
 * are names and secrets (`ODOO_DB=2024`, an all-digit API key).
 */
import fs from 'node:fs';
import { IronLedgerError } from '@ironledger/errors';
import YAML from 'yaml';
import type { z } from 'zod';

export interface LoadConfigOptions {
  /** Path of a YAML or JSON file; absent means defaults + environment. */
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Prefix of generic overrides, e.g. `IRONLEDGER_EDGE`. */
  envPrefix?: string;
  /** Variables mapped to key paths explicitly: `{ ODOO_URL: 'odoo.url' }`. `X_FILE` is honoured too. */
  envMap?: Record<string, string>;
}

type Obj = Record<string, unknown>;

function camel(s: string): string {
  return s.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function setPath(target: Obj, path: string[], value: unknown): void {
  let o = target;
  for (const k of path.slice(0, -1)) {
    if (typeof o[k] !== 'object' || o[k] === null || Array.isArray(o[k])) o[k] = {};
    o = o[k] as Obj;
  }
  o[path[path.length - 1]!] = value;
}

/** Env values are strings; numbers and booleans are recognised, JSON arrays/objects parsed. */
function coerce(raw: string): unknown {
  const t = raw.trim();
  if (t === 'true') return true;
  if (t === 'false') return false;
  if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t);
  if ((t.startsWith('[') && t.endsWith(']')) || (t.startsWith('{') && t.endsWith('}'))) {
    try {
      return JSON.parse(t);
    } catch {
      return raw;
    }
  }
  return raw;
}

export function readConfigFile(file: string): Obj {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new IronLedgerError('CONFIG_FILE_UNREADABLE', `config file ${file}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  try {
    const parsed = file.endsWith('.json') ? JSON.parse(text) : YAML.parse(text);
    if (parsed === null || parsed === undefined) return {};
    if (typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new Error('top level must be a mapping of keys');
    }
    return parsed as Obj;
  } catch (e) {
    throw new IronLedgerError('CONFIG_INVALID', `config file ${file}: ${(e as Error).message}`, { cause: e });
  }
}

export function envOverrides(
  env: NodeJS.ProcessEnv,
  prefix?: string,
  envMap: Record<string, string> = {},
): Obj {
  const out: Obj = {};
  const readSecretFile = (name: string, path: string) => {
    try {
      return fs.readFileSync(path, 'utf8').trim();
    } catch (e) {
      throw new IronLedgerError(
        'CONFIG_FILE_UNREADABLE',
        `${name}: cannot read ${path}: ${(e as Error).message}`,
      );
    }
  };
  if (prefix) {
    for (const [name, value] of Object.entries(env)) {
      if (value === undefined || !name.startsWith(`${prefix}_`)) continue;
      let rest = name.slice(prefix.length + 1);
      let v: unknown;
      if (rest.endsWith('_FILE')) {
        rest = rest.slice(0, -5);
        v = readSecretFile(name, value);
      } else v = coerce(value);
      setPath(out, rest.split('__').map(camel), v);
    }
  }
  for (const [name, path] of Object.entries(envMap)) {
    const direct = env[name];
    const file = env[`${name}_FILE`];
    if (direct !== undefined) setPath(out, path.split('.'), direct);
    else if (file !== undefined) setPath(out, path.split('.'), readSecretFile(`${name}_FILE`, file));
  }
  return out;
}

export function deepMerge(base: Obj, over: Obj): Obj {
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b)
        ? deepMerge(b as Obj, v as Obj)
        : v;
  }
  return out;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as Obj)) deepFreeze(v);
  }
  return o;
}

/** Formats zod issues as `key.path: message` lines. */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((i) => {
    const key = i.path.length ? i.path.map(String).join('.') : '(top level)';
    if (i.code === 'unrecognized_keys')
      return `${key === '(top level)' ? '' : `${key}.`}${i.keys.join(', ')}: unknown key`;
    return `${key}: ${i.message}`;
  });
}

export function loadConfig<S extends z.ZodType>(
  schema: S,
  opts: LoadConfigOptions = {},
): Readonly<z.output<S>> {
  const fromFile = opts.file ? readConfigFile(opts.file) : {};
  const fromEnv = envOverrides(opts.env ?? process.env, opts.envPrefix, opts.envMap);
  const merged = deepMerge(fromFile, fromEnv);
  const result = schema.safeParse(merged);
  if (!result.success) {
    const lines = formatIssues(result.error.issues);
    const where = opts.file ? ` (${opts.file})` : '';
    throw new IronLedgerError('CONFIG_INVALID', `invalid configuration${where}:\n  ${lines.join('\n  ')}`, {
      details: { problems: lines },
    });
  }
  return deepFreeze(result.data) as Readonly<z.output<S>>;
}
