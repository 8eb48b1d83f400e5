/**
 * Where the CLI finds its server and token. Precedence, highest first:
 *   --url / --token  >  the profile named by --profile (or IRONLEDGER_PROFILE)
 *   >  IRONLEDGER_URL / IRONLEDGER_TOKEN  >  the config file's default profile.
 *
 * Config file: $IRONLEDGER_CONFIG, else $XDG_CONFIG_HOME/ironledger/config.json, else
 * ~/.config/ironledger/config.json:
 *   { "defaultProfile": "prod",
 *     "profiles": { "prod": { "url": "https://ledger.example", "token": "…" } } }
 * A profile may name `tokenFile` instead of `token`, so the secret can live elsewhere.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { CliError, UsageError } from './errors.js';

const ProfileSchema = z
  .object({ url: z.string().optional(), token: z.string().optional(), tokenFile: z.string().optional() })
  .strict();
const ConfigFileSchema = z
  .object({
    defaultProfile: z.string().optional(),
    profiles: z.record(z.string(), ProfileSchema).default({}),
  })
  .strict();
export type ConfigFile = z.infer<typeof ConfigFileSchema>;

export interface Connection {
  url: string | undefined;
  token: string | undefined;
  /** Where the url came from, for error messages: `--url`, `IRONLEDGER_URL`, `profile "prod"`. */
  urlSource: string;
}

export function configPath(env: NodeJS.ProcessEnv): string {
  if (env.IRONLEDGER_CONFIG) return env.IRONLEDGER_CONFIG;
  const base = env.XDG_CONFIG_HOME || path.join(env.HOME || os.homedir(), '.config');
  return path.join(base, 'ironledger', 'config.json');
}

export function readConfigFile(file: string): ConfigFile | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CliError(`cannot read config file ${file}: ${(e as Error).message}`, { cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new CliError(`config file ${file} is not valid JSON: ${(e as Error).message}`, {
      hint: 'fix the file or move it away',
    });
  }
  const parsed = ConfigFileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new CliError(`config file ${file}: ${issue.path.join('.') || '(top)'}: ${issue.message}`, {
      hint: 'expected {"defaultProfile": "...", "profiles": {"name": {"url": "...", "token": "..."}}}',
    });
  }
  return parsed.data;
}

export function resolveConnection(
  flags: { url?: string | undefined; token?: string | undefined; profile?: string | undefined },
  env: NodeJS.ProcessEnv,
): Connection {
  const file = configPath(env);
  const explicitProfile = flags.profile ?? env.IRONLEDGER_PROFILE;
  const config = readConfigFile(file);
  let profile: z.infer<typeof ProfileSchema> | undefined;
  let profileName: string | undefined;
  if (explicitProfile) {
    profile = config?.profiles[explicitProfile];
    if (!profile) {
      const known = Object.keys(config?.profiles ?? {});
      throw new UsageError(
        `no profile '${explicitProfile}' in ${file}`,
        known.length ? `known profiles: ${known.join(', ')}` : `add it under "profiles" in ${file}`,
      );
    }
    profileName = explicitProfile;
  } else if (config?.defaultProfile) {
    profile = config.profiles[config.defaultProfile];
    profileName = config.defaultProfile;
  }
  const profileToken = () => {
    if (profile?.token) return profile.token;
    if (profile?.tokenFile) {
      try {
        return fs.readFileSync(profile.tokenFile, 'utf8').trim();
      } catch (e) {
        throw new CliError(`cannot read tokenFile of profile '${profileName}': ${(e as Error).message}`);
      }
    }
    return undefined;
  };
  const fromProfile = explicitProfile !== undefined;
  const url =
    flags.url ??
    (fromProfile ? profile?.url : undefined) ??
    env.IRONLEDGER_URL ??
    (fromProfile ? undefined : profile?.url);
  const urlSource = flags.url
    ? '--url'
    : fromProfile && profile?.url
      ? `profile "${profileName}"`
      : env.IRONLEDGER_URL
        ? 'IRONLEDGER_URL'
        : `profile "${profileName}"`;
  const token =
    flags.token ??
    (fromProfile ? profileToken() : undefined) ??
    env.IRONLEDGER_TOKEN ??
    (fromProfile ? undefined : profileToken());
  return { url, token, urlSource };
}
