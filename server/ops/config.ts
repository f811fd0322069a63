/**
 * Node configuration. Precedence: CLI flags > `ENGINE_*` environment variables >
 * the old engine's `PEKKO_*` variables (`config_aliases.ts`) > a JSON config file
 * (`--config path.json`) > defaults. Every setting is
 * checked; a bad one is reported as one line naming it.
 *
 * @module
 */
import { type Role, ROLES } from "../../core/cluster.ts";
import { parseDuration } from "../../core/duration.ts";
import {
  ConfigError,
  parseBrokerConnections,
  parseConnections,
  parseOrigins,
  parseTokens,
} from "./config_values.ts";
import { DEFAULT_CONFIG, type EngineConfig, type Setting, SETTINGS } from "./config_settings.ts";
import { resolvePekkoAliases } from "./config_aliases.ts";
import { checkTlsSettings } from "./tls.ts";
import { isLoopback, prodProblems, type Profile, PROFILES, profileUrl } from "./config_profiles.ts";
import { parseEgressRules } from "../executors/egress_rules.ts";

export { ConfigError, DEFAULT_CONFIG, type EngineConfig, isLoopback, type Profile, PROFILES, SETTINGS };

/** What a JSON value is, never what it holds (it may hold a password). */
function jsonType(raw: unknown): string {
  if (raw === null) return "null";
  if (Array.isArray(raw)) return "a list";
  return typeof raw === "object" ? "an object" : `a ${typeof raw}`;
}

/** A list of connections in the config file: each item one entry (a comma inside it cannot split it). */
function connectionList(s: Setting, raw: unknown, where: string): Record<string, string> | undefined {
  if (s.kind !== "connections" && s.kind !== "brokers") return undefined;
  if (!Array.isArray(raw) || !raw.every((x) => typeof x === "string")) return undefined;
  const parse = s.kind === "brokers" ? parseBrokerConnections : parseConnections;
  return Object.assign({}, ...raw.map((x, i) => parse(x, `${where} item ${i + 1}`, true)));
}

/** A raw value as text; a value that is none is refused without being shown (it may hold a password). */
function valueText(s: Setting, raw: unknown, where: string): string {
  const text = typeof raw === "number" ? String(raw) : Array.isArray(raw) ? raw.join(",") : raw;
  if (typeof text === "string") return text;
  const entries = s.kind === "connections" || s.kind === "brokers"
    ? " of NAME=URL entries (or a list of them)"
    : "";
  throw new ConfigError(`${where}: expected a string${entries}, got ${jsonType(raw)}`);
}

function parseValue(s: Setting, raw: unknown, where: string): unknown {
  if (s.kind === "switch" && typeof raw === "boolean") return raw;
  const list = connectionList(s, raw, where);
  if (list !== undefined) return list;
  const text = valueText(s, raw, where);
  switch (s.kind) {
    case "string":
      if (text.trim() === "") throw new ConfigError(`${where}: must not be empty`);
      return text;
    case "port":
    case "int": {
      const [min, max] = s.kind === "port" ? [0, 65535] : [s.min ?? 0, s.max ?? Number.MAX_SAFE_INTEGER];
      const n = /^\d+$/.test(text) ? Number(text) : NaN;
      if (!Number.isInteger(n) || n < min || n > max) {
        throw new ConfigError(
          `${where}: must be an integer from ${min} to ${max}, got ${JSON.stringify(text)}`,
        );
      }
      return n;
    }
    case "enum":
      if (!s.values!.includes(text)) {
        throw new ConfigError(
          `${where}: must be one of ${s.values!.join(", ")}, got ${JSON.stringify(text)}`,
        );
      }
      return text;
    case "id":
      if (!/^[A-Za-z0-9._-]{1,64}$/.test(text)) {
        throw new ConfigError(`${where}: must be 1 to 64 of A-Z a-z 0-9 . _ -, got ${JSON.stringify(text)}`);
      }
      return text;
    case "tokens":
      return parseTokens(text, where);
    case "origins":
      return parseOrigins(text, where);
    case "connections":
      return parseConnections(text, where);
    case "brokers":
      return parseBrokerConnections(text, where);
    case "hosts": {
      const entries = text.split(",").map((x) => x.trim()).filter((x) => x !== "");
      const rules = parseEgressRules(entries);
      if (!rules.ok) throw new ConfigError(`${where}: ${rules.error}`);
      return entries;
    }
    case "switch":
      if (text === "true" || text === "1") return true;
      if (text === "false" || text === "0") return false;
      throw new ConfigError(`${where}: must be true or false, got ${JSON.stringify(text)}`);
    case "secret":
      if (text.length < 16) throw new ConfigError(`${where}: must be at least 16 characters`);
      return text;
    case "seeds": {
      const seeds = text.split(",").map((x) => x.trim()).filter((x) => x !== "");
      for (const seed of seeds) {
        const m = /^([A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/.exec(seed);
        if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) {
          throw new ConfigError(`${where}: not host:port: ${JSON.stringify(seed)}`);
        }
      }
      return seeds;
    }
    case "roles": {
      const roles = text.split(",").map((x) => x.trim()).filter((x) => x !== "");
      if (roles.length === 0) throw new ConfigError(`${where}: at least one role is needed`);
      for (const r of roles) {
        if (!ROLES.includes(r as Role)) {
          throw new ConfigError(`${where}: unknown role ${JSON.stringify(r)} (use ${ROLES.join(", ")})`);
        }
      }
      return [...new Set(roles)];
    }
    case "duration": {
      if (text === "0") return 0;
      const ms = parseDuration(text);
      if (ms === undefined) {
        throw new ConfigError(
          `${where}: must be a duration such as 30s, 12h or 7d, got ${JSON.stringify(text)}`,
        );
      }
      return ms;
    }
    case "url": {
      let url: URL;
      try {
        url = new URL(text);
      } catch {
        throw new ConfigError(`${where}: not a URL`); // never shown: it may hold a password
      }
      if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
        throw new ConfigError(`${where}: must be a postgres:// URL, got ${url.protocol}`);
      }
      return text;
    }
  }
}

/** Reads flags into a map of setting key to raw value; `--config` is returned apart. */
function parseFlags(
  args: readonly string[],
): { flags: Map<Setting, string>; configPath?: string; profile?: string; help: boolean; problems: string[] } {
  const flags = new Map<Setting, string>();
  const problems: string[] = [];
  let configPath: string | undefined;
  let profile: string | undefined;
  let help = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--help" || arg === "-h") {
      help = true;
      continue;
    }
    const eq = arg.indexOf("=");
    const name = eq >= 0 ? arg.slice(0, eq) : arg;
    const takeValue = () => {
      if (eq >= 0) return arg.slice(eq + 1);
      const next = args[++i];
      if (next === undefined) problems.push(`flag ${name}: a value is required`);
      return next;
    };
    if (name === "--config") {
      configPath = takeValue();
      continue;
    }
    if (name === "--profile") {
      profile = takeValue();
      continue;
    }
    const setting = SETTINGS.find((s) => s.flag === name);
    if (!setting) {
      problems.push(`unknown flag ${JSON.stringify(name)} (see --help)`);
      if (eq < 0 && args[i + 1] !== undefined && !args[i + 1].startsWith("-")) i++; // its value, if it had one
      continue;
    }
    const value = setting.kind === "switch" && eq < 0 ? "true" : takeValue();
    if (value === undefined) continue;
    const before = flags.get(setting);
    flags.set(
      setting,
      ["tokens", "origins", "connections", "brokers", "hosts"].includes(setting.kind) && before !== undefined
        ? `${before},${value}`
        : value,
    );
  }
  return { flags, configPath, profile, help, problems };
}

/** The usage text: every setting with its flag, variable, help and default (as the parser reads it back). */
export function usage(): string {
  const lines = SETTINGS.map((s) =>
    `  ${s.flag.padEnd(24)} ${s.env.padEnd(30)} ${s.help} (default ${defaultText(s) ?? "none"})`
  );
  return [
    "usage: deno task serve [flags]",
    `  ${"--config path.json".padEnd(24)} ${
      "ENGINE_CONFIG".padEnd(30)
    } a JSON file of settings (default none)`,
    `  ${"--profile dev|prod".padEnd(24)} ${
      "ENGINE_PROFILE".padEnd(30)
    } a profile's settings, config/<name>.json; ` +
    "prod refuses unsafe settings (default none)",
    ...lines,
  ].join("\n");
}

/**
 * A setting's default as a flag value the parser reads back to the same default; `undefined` when it has
 * none (unset, or an empty list).
 */
export function defaultText(s: Setting): string | undefined {
  const value: unknown = DEFAULT_CONFIG[s.key];
  if (value === undefined || value === null) return undefined;
  if (s.kind === "duration") return value === 0 ? "0" : formatDuration(value as number);
  if (Array.isArray(value)) return value.length === 0 ? undefined : value.join(",");
  if (typeof value === "object") return Object.keys(value).length === 0 ? undefined : JSON.stringify(value);
  return String(value);
}

/** Milliseconds as the largest whole unit `parseDuration` reads (`5s`, `7d`, `250ms`). */
function formatDuration(ms: number): string {
  for (const [unit, size] of [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000], ["s", 1_000]] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/**
 * Resolves the configuration. Precedence: flags > `ENGINE_*` variables > `PEKKO_*` variables > the config
 * file > the profile's file > defaults. Every problem is found before it throws: a `ConfigError` whose
 * `problems` hold one line each. Returns `help: true` when `--help` was given, and a warning line per old
 * engine variable set (`PEKKO_*`).
 */
export function loadConfig(
  args: readonly string[],
  env: (name: string) => string | undefined,
  readFile: (path: string) => string,
  readProfile: (profile: Profile) => string = (p) => Deno.readTextFileSync(profileUrl(p)),
): { config: EngineConfig; help: boolean; warnings: string[]; profile?: Profile } {
  const problems: string[] = [];
  const attempt = (fn: () => void) => {
    try {
      fn();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...err.problems);
    }
  };
  const { flags, configPath, profile: profileFlag, help, problems: flagProblems } = parseFlags(args);
  problems.push(...flagProblems);
  const config: Record<string, unknown> = { ...DEFAULT_CONFIG };
  const profile = profileOf(profileFlag ?? env("ENGINE_PROFILE"), problems);
  if (profile) attempt(() => applyFile(config, `profile ${profile}`, () => readProfile(profile), attempt));
  const path = configPath ?? env("ENGINE_CONFIG");
  if (path !== undefined) {
    attempt(() => applyFile(config, `config file ${path}`, () => readFile(path), attempt));
  }
  const aliases = resolvePekkoAliases(env, new Set([...flags.keys()].map((s) => s.key)));
  for (const a of aliases.values) {
    attempt(() => config[a.key] = parseValue(SETTINGS.find((s) => s.key === a.key)!, a.raw, a.where));
  }
  for (const s of SETTINGS) {
    const v = env(s.env);
    if (v !== undefined && v !== "") attempt(() => config[s.key] = parseValue(s, v, `environment ${s.env}`));
  }
  for (const [s, v] of flags) attempt(() => config[s.key] = parseValue(s, v, `flag ${s.flag}`));
  // The combinations and the profile's rules are judged on what parsed (a value that did not keeps its default).
  problems.push(...configProblems(config as unknown as EngineConfig));
  if (profile === "prod") problems.push(...prodProblems(config as unknown as EngineConfig));
  if (problems.length > 0 && !help) throw new ConfigError(problems.join("\n"), problems);
  return { config: config as unknown as EngineConfig, help, warnings: aliases.warnings, profile };
}

/** The profile named by `--profile` or `ENGINE_PROFILE`, if any (a wrong name is a problem). */
function profileOf(name: string | undefined, problems: string[]): Profile | undefined {
  if (name === undefined || name === "") return undefined;
  if ((PROFILES as readonly string[]).includes(name)) return name as Profile;
  problems.push(`profile: must be one of ${PROFILES.join(", ")}, got ${JSON.stringify(name)}`);
  return undefined;
}

/** Applies a JSON file of settings (a profile's, or `--config`'s), every bad key or value a problem. */
function applyFile(
  config: Record<string, unknown>,
  where: string,
  read: () => string,
  attempt: (fn: () => void) => void,
): void {
  let file: unknown;
  try {
    file = JSON.parse(read());
  } catch (err) {
    throw new ConfigError(`${where}: ${(err as Error).message.split("\n")[0]}`);
  }
  if (!file || typeof file !== "object" || Array.isArray(file)) {
    throw new ConfigError(`${where}: must be a JSON object`);
  }
  for (const [key, value] of Object.entries(file)) {
    const s = SETTINGS.find((x) => x.key === key);
    if (!s) {
      attempt(() => {
        throw new ConfigError(`${where}: unknown setting ${JSON.stringify(key)}`);
      });
    } else attempt(() => config[key] = parseValue(s, value, `${where}: ${key}`));
  }
}

/** Whether a configuration makes this node a cluster member (rather than a standalone node). */
export function isClustered(config: EngineConfig): boolean {
  return config.clusterPort > 0 || config.seeds.length > 0;
}

/** Checks combinations of settings; throws a `ConfigError` naming every one that is wrong. */
export function validateConfig(config: EngineConfig): void {
  const problems = configProblems(config);
  if (problems.length > 0) throw new ConfigError(problems.join("\n"), problems);
}

/** The problems of a configuration's combinations of settings, one line each. */
export function configProblems(config: EngineConfig): string[] {
  const problems: string[] = [];
  for (const check of [checkExposure, checkTlsSettings]) {
    try {
      check(config);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...err.problems);
    }
  }
  if (!isClustered(config)) {
    if (!config.roles.includes("worker")) {
      problems.push("roles: a standalone node needs the worker role (no node would own shards)");
    }
    return problems;
  }
  const storage = config.storage === "auto" ? (config.databaseUrl ? "postgres" : "embedded") : config.storage;
  if (storage !== "postgres") {
    problems.push(`storage: a cluster needs shared storage (--database-url postgres://...), not ${storage}`);
  }
  if (!config.clusterSecret) {
    problems.push("cluster-secret: a cluster member needs --cluster-secret (ENGINE_CLUSTER_SECRET)");
  }
  if (config.clusterPort === 0) {
    problems.push("cluster-port: a cluster member needs --cluster-port (ENGINE_CLUSTER_PORT)");
  }
  if (config.seeds.length === 0 && !config.roles.includes("worker")) {
    problems.push("roles: the first member (no --seeds) needs the worker role, or no node owns shards");
  }
  if (config.seeds.length === 0 && !config.roles.includes("coordinator")) {
    problems.push("roles: the first member (no --seeds) needs the coordinator role, or no node leads");
  }
  return problems;
}

/**
 * Safe by default: without API tokens a node serves only on a loopback address, unless `insecureNoAuth`.
 * Throws a one-line `ConfigError` otherwise.
 */
export function checkExposure(config: Pick<EngineConfig, "apiTokens" | "insecureNoAuth" | "host">): void {
  if (config.apiTokens.length === 0 && !config.insecureNoAuth && !isLoopback(config.host)) {
    throw new ConfigError(
      `host: ${config.host} is not a loopback address and no API token is configured; give --api-token ROLE:TOKEN (ENGINE_API_TOKENS), or --insecure-no-auth`,
    );
  }
}
