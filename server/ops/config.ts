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
import { parseEgressRules } from "../executors/egress_rules.ts";

export { ConfigError, DEFAULT_CONFIG, type EngineConfig, SETTINGS };

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
): { flags: Map<Setting, string>; configPath?: string; help: boolean } {
  const flags = new Map<Setting, string>();
  let configPath: string | undefined;
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
      if (next === undefined) throw new ConfigError(`flag ${name}: a value is required`);
      return next;
    };
    if (name === "--config") {
      configPath = takeValue();
      continue;
    }
    const setting = SETTINGS.find((s) => s.flag === name);
    if (!setting) throw new ConfigError(`unknown flag ${JSON.stringify(name)} (see --help)`);
    const value = setting.kind === "switch" && eq < 0 ? "true" : takeValue();
    const before = flags.get(setting);
    flags.set(
      setting,
      ["tokens", "origins", "connections", "brokers", "hosts"].includes(setting.kind) && before !== undefined
        ? `${before},${value}`
        : value,
    );
  }
  return { flags, configPath, help };
}

/** The usage text. */
export function usage(): string {
  const lines = SETTINGS.map((s) => {
    const fallback = DEFAULT_CONFIG[s.key];
    const empty = fallback !== null && typeof fallback === "object" && Object.keys(fallback).length === 0;
    const shown = empty ? "none" : fallback ?? "none";
    return `  ${s.flag.padEnd(24)} ${s.env.padEnd(30)} ${s.help} (default ${shown})`;
  });
  return ["usage: deno task serve [flags]", "  --config path.json       a JSON file of settings", ...lines]
    .join("\n");
}

/**
 * Resolves the configuration. Throws `ConfigError` (one line) on the first bad
 * setting; returns `help: true` when `--help` was given, and a warning line per
 * old engine variable set (`PEKKO_*`, read below our own variables and flags).
 */
export function loadConfig(
  args: readonly string[],
  env: (name: string) => string | undefined,
  readFile: (path: string) => string,
): { config: EngineConfig; help: boolean; warnings: string[] } {
  const { flags, configPath, help } = parseFlags(args);
  const config: Record<string, unknown> = { ...DEFAULT_CONFIG };
  const path = configPath ?? env("ENGINE_CONFIG");
  if (path !== undefined) {
    let file: unknown;
    try {
      file = JSON.parse(readFile(path));
    } catch (err) {
      throw new ConfigError(`config file ${path}: ${(err as Error).message.split("\n")[0]}`);
    }
    if (!file || typeof file !== "object" || Array.isArray(file)) {
      throw new ConfigError(`config file ${path}: must be a JSON object`);
    }
    for (const [key, value] of Object.entries(file)) {
      const s = SETTINGS.find((x) => x.key === key);
      if (!s) throw new ConfigError(`config file ${path}: unknown setting ${JSON.stringify(key)}`);
      config[key] = parseValue(s, value, `config file ${path}: ${key}`);
    }
  }
  const aliases = resolvePekkoAliases(env, new Set([...flags.keys()].map((s) => s.key)));
  for (const a of aliases.values) {
    config[a.key] = parseValue(SETTINGS.find((s) => s.key === a.key)!, a.raw, a.where);
  }
  for (const s of SETTINGS) {
    const v = env(s.env);
    if (v !== undefined && v !== "") config[s.key] = parseValue(s, v, `environment ${s.env}`);
  }
  for (const [s, v] of flags) config[s.key] = parseValue(s, v, `flag ${s.flag}`);
  validateConfig(config as unknown as EngineConfig);
  return { config: config as unknown as EngineConfig, help, warnings: aliases.warnings };
}

/** Whether a configuration makes this node a cluster member (rather than a standalone node). */
export function isClustered(config: EngineConfig): boolean {
  return config.clusterPort > 0 || config.seeds.length > 0;
}

/** Checks combinations of settings; throws a one-line `ConfigError` naming them. */
export function validateConfig(config: EngineConfig): void {
  checkExposure(config);
  checkTlsSettings(config);
  if (!isClustered(config)) {
    if (!config.roles.includes("worker")) {
      throw new ConfigError("roles: a standalone node needs the worker role (no node would own shards)");
    }
    return;
  }
  const storage = config.storage === "auto" ? (config.databaseUrl ? "postgres" : "embedded") : config.storage;
  if (storage !== "postgres") {
    throw new ConfigError(
      `storage: a cluster needs shared storage (--database-url postgres://...), not ${storage}`,
    );
  }
  if (!config.clusterSecret) {
    throw new ConfigError("cluster-secret: a cluster member needs --cluster-secret (ENGINE_CLUSTER_SECRET)");
  }
  if (config.clusterPort === 0) {
    throw new ConfigError("cluster-port: a cluster member needs --cluster-port (ENGINE_CLUSTER_PORT)");
  }
  if (config.seeds.length === 0 && !config.roles.includes("worker")) {
    throw new ConfigError(
      "roles: the first member (no --seeds) needs the worker role, or no node owns shards",
    );
  }
  if (config.seeds.length === 0 && !config.roles.includes("coordinator")) {
    throw new ConfigError(
      "roles: the first member (no --seeds) needs the coordinator role, or no node leads",
    );
  }
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

/** Whether `host` is a loopback address (127.0.0.0/8, ::1, localhost): only this machine can reach it. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127(\.\d{1,3}){3}$/.test(h);
}
