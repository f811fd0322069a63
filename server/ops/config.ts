/**
 * Node configuration. Precedence: CLI flags > `ENGINE_*` environment variables >
 * a JSON config file (`--config path.json`) > defaults. Every setting is
 * checked; a bad one is reported as one line naming it.
 *
 * @module
 */
import { type Role, ROLES } from "../../core/cluster.ts";
import { parseDuration } from "../../core/duration.ts";
import type { ApiToken } from "../http/auth.ts";
import { ConfigError, parseConnections, parseOrigins, parseTokens } from "./config_values.ts";

export { ConfigError };

/** The whole configuration of a node. */
export interface EngineConfig {
  host: string;
  port: number;
  /** `auto`: PostgreSQL when a database URL is set, else the embedded store. */
  storage: "auto" | "memory" | "embedded" | "postgres";
  dataDir: string;
  /** The engine's PostgreSQL database (sql.* nodes default to it). */
  databaseUrl: string | undefined;
  /** This node's id in the cluster (and in shard ownership records). */
  nodeId: string;
  /** Cluster transport port; 0 with no seeds: a standalone node. */
  clusterPort: number;
  /** Other members' cluster addresses (`host:port`). */
  seeds: string[];
  roles: Role[];
  /** Shared secret every member proves in the transport handshake. */
  clusterSecret: string | undefined;
  /** How long a forwarded call waits for the owner (ask timeout), ms. */
  askTimeoutMs: number;
  shards: number;
  logLevel: "debug" | "info" | "warn" | "error";
  logFormat: "json" | "pretty";
  maxOutputRecords: number;
  maxOutputBytes: number;
  maxActiveExecutions: number;
  /** How long finished executions keep their history, in ms (0: forever). */
  retentionMs: number;
  /** PostgreSQL connections at most. */
  databasePoolMax: number;
  /** API tokens and their roles (`--api-token ROLE:TOKEN`, repeatable; `ENGINE_API_TOKENS`). */
  apiTokens: ApiToken[];
  /** Serve without tokens on a non-loopback host (refused without it). */
  insecureNoAuth: boolean;
  /** `/metrics` answers without a token. */
  metricsPublic: boolean;
  /** Requests a second each API token may make (bursts of twice that); 0: unlimited. */
  rateLimit: number;
  /** The SQL connections sql.* nodes may name (`--sql-connection NAME=URL`, repeatable). */
  sqlConnections: Record<string, string>;
  /** Accept a sql.* node's inline `connectionUrl`. */
  allowInlineConnections: boolean;
  /** The directory file sources and sinks may use; undefined: `<dataDir>/files`. */
  filesRoot: string | undefined;
  /** Browser origins allowed by CORS (`--cors-origin`, repeatable; none: CORS off). */
  corsOrigins: string[];
}

type Kind =
  | "string"
  | "port"
  | "int"
  | "enum"
  | "url"
  | "duration"
  | "id"
  | "seeds"
  | "roles"
  | "secret"
  | "tokens"
  | "origins"
  | "connections"
  | "switch";

interface Setting {
  key: keyof EngineConfig;
  flag: string;
  env: string;
  kind: Kind;
  values?: readonly string[];
  min?: number;
  max?: number;
  help: string;
}

/** Every setting, with its flag and environment variable. */
export const SETTINGS: readonly Setting[] = [
  { key: "host", flag: "--host", env: "ENGINE_HTTP_HOST", kind: "string", help: "HTTP listen address" },
  {
    key: "port",
    flag: "--port",
    env: "ENGINE_HTTP_PORT",
    kind: "port",
    help: "HTTP port (0: any free port)",
  },
  {
    key: "storage",
    flag: "--storage",
    env: "ENGINE_STORAGE",
    kind: "enum",
    values: ["auto", "memory", "embedded", "postgres"],
    help: "storage backend (auto: postgres with a database URL, else embedded)",
  },
  { key: "dataDir", flag: "--data-dir", env: "ENGINE_DATA_DIR", kind: "string", help: "data directory" },
  {
    key: "databaseUrl",
    flag: "--database-url",
    env: "ENGINE_DATABASE_URL",
    kind: "url",
    help: "PostgreSQL URL (postgres://...)",
  },
  {
    key: "nodeId",
    flag: "--node-id",
    env: "ENGINE_NODE_ID",
    kind: "id",
    help: "this node's id in the cluster",
  },
  {
    key: "clusterPort",
    flag: "--cluster-port",
    env: "ENGINE_CLUSTER_PORT",
    kind: "port",
    help: "cluster transport port (0 and no seeds: standalone)",
  },
  {
    key: "seeds",
    flag: "--seeds",
    env: "ENGINE_SEEDS",
    kind: "seeds",
    help: "other members' cluster addresses, host:port,...",
  },
  {
    key: "roles",
    flag: "--roles",
    env: "ENGINE_ROLES",
    kind: "roles",
    help: "coordinator,worker,api-gateway (any of them)",
  },
  {
    key: "clusterSecret",
    flag: "--cluster-secret",
    env: "ENGINE_CLUSTER_SECRET",
    kind: "secret",
    help: "shared secret of the cluster (16+ characters)",
  },
  {
    key: "askTimeoutMs",
    flag: "--ask-timeout",
    env: "ENGINE_ASK_TIMEOUT",
    kind: "duration",
    help: "how long a forwarded call waits for the shard's owner",
  },
  {
    key: "shards",
    flag: "--shards",
    env: "ENGINE_SHARDS",
    kind: "int",
    min: 1,
    max: 65536,
    help: "shard count (fixed at cluster creation)",
  },
  {
    key: "logLevel",
    flag: "--log-level",
    env: "ENGINE_LOG_LEVEL",
    kind: "enum",
    values: ["debug", "info", "warn", "error"],
    help: "log level",
  },
  {
    key: "logFormat",
    flag: "--log-format",
    env: "ENGINE_LOG_FORMAT",
    kind: "enum",
    values: ["json", "pretty"],
    help: "log format",
  },
  {
    key: "maxOutputRecords",
    flag: "--max-output-records",
    env: "ENGINE_MAX_OUTPUT_RECORDS",
    kind: "int",
    min: 1,
    max: 100_000_000,
    help: "records one node may emit",
  },
  {
    key: "maxOutputBytes",
    flag: "--max-output-bytes",
    env: "ENGINE_MAX_OUTPUT_BYTES",
    kind: "int",
    min: 1024,
    max: 1_073_741_824,
    help: "bytes (as JSON) one node may emit",
  },
  {
    key: "maxActiveExecutions",
    flag: "--max-active-executions",
    env: "ENGINE_MAX_ACTIVE_EXECUTIONS",
    kind: "int",
    min: 1,
    max: 10_000_000,
    help: "executions live at once before submissions get 503",
  },
  {
    key: "retentionMs",
    flag: "--retention",
    env: "ENGINE_RETENTION",
    kind: "duration",
    help: "how long finished executions are kept (e.g. 7d, 12h; 0 keeps them)",
  },
  {
    key: "databasePoolMax",
    flag: "--database-pool-max",
    env: "ENGINE_DATABASE_POOL_MAX",
    kind: "int",
    min: 1,
    max: 1000,
    help: "PostgreSQL connections at most",
  },
  {
    key: "apiTokens",
    flag: "--api-token",
    env: "ENGINE_API_TOKENS",
    kind: "tokens",
    help:
      "ROLE:TOKEN, role viewer, operator or admin (repeatable; the variable takes a comma-separated list)",
  },
  {
    key: "insecureNoAuth",
    flag: "--insecure-no-auth",
    env: "ENGINE_INSECURE_NO_AUTH",
    kind: "switch",
    help: "serve without API tokens on a non-loopback host",
  },
  {
    key: "metricsPublic",
    flag: "--metrics-public",
    env: "ENGINE_METRICS_PUBLIC",
    kind: "switch",
    help: "serve /metrics without a token",
  },
  {
    key: "rateLimit",
    flag: "--rate-limit",
    env: "ENGINE_RATE_LIMIT",
    kind: "int",
    min: 0,
    max: 1_000_000,
    help: "requests a second each API token may make, bursts of twice that (0: unlimited)",
  },
  {
    key: "sqlConnections",
    flag: "--sql-connection",
    env: "ENGINE_SQL_CONNECTIONS",
    kind: "connections",
    help:
      "NAME=postgres://… a connection sql.* nodes may name (repeatable; the variable a comma-separated list)",
  },
  {
    key: "allowInlineConnections",
    flag: "--allow-inline-connections",
    env: "ENGINE_ALLOW_INLINE_CONNECTIONS",
    kind: "switch",
    help: "accept a sql.* node's inline connectionUrl",
  },
  {
    key: "filesRoot",
    flag: "--files-root",
    env: "ENGINE_FILES_ROOT",
    kind: "string",
    help: "the only directory file sources and sinks may read and write (default <data-dir>/files)",
  },
  {
    key: "corsOrigins",
    flag: "--cors-origin",
    env: "ENGINE_CORS_ORIGINS",
    kind: "origins",
    help: "a browser origin allowed by CORS, e.g. https://console.example (repeatable; the variable a list)",
  },
];

/** The defaults. */
export const DEFAULT_CONFIG: Readonly<EngineConfig> = Object.freeze({
  host: "127.0.0.1",
  port: 8080,
  storage: "auto",
  dataDir: ".data",
  databaseUrl: undefined,
  nodeId: "node-1",
  clusterPort: 0,
  seeds: [],
  roles: ["coordinator", "worker", "api-gateway"] as Role[],
  clusterSecret: undefined,
  askTimeoutMs: 5_000,
  shards: 128,
  logLevel: "info",
  logFormat: "json",
  maxOutputRecords: 100_000,
  maxOutputBytes: 16 * 1024 * 1024,
  maxActiveExecutions: 250_000,
  retentionMs: 7 * 24 * 3_600_000,
  databasePoolMax: 10,
  apiTokens: [],
  insecureNoAuth: false,
  metricsPublic: false,
  rateLimit: 1_000,
  sqlConnections: {},
  allowInlineConnections: false,
  filesRoot: undefined,
  corsOrigins: [],
});

function parseValue(s: Setting, raw: unknown, where: string): unknown {
  if (s.kind === "switch" && typeof raw === "boolean") return raw;
  const text = typeof raw === "number" ? String(raw) : Array.isArray(raw) ? raw.join(",") : raw;
  if (typeof text !== "string") {
    throw new ConfigError(`${where}: expected a string, got ${JSON.stringify(raw)}`);
  }
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
        throw new ConfigError(`${where}: not a URL: ${JSON.stringify(text.replace(/:[^:@/]*@/, ":***@"))}`);
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
      ["tokens", "origins", "connections"].includes(setting.kind) && before !== undefined
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
 * setting; returns `help: true` when `--help` was given.
 */
export function loadConfig(
  args: readonly string[],
  env: (name: string) => string | undefined,
  readFile: (path: string) => string,
): { config: EngineConfig; help: boolean } {
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
  for (const s of SETTINGS) {
    const v = env(s.env);
    if (v !== undefined && v !== "") config[s.key] = parseValue(s, v, `environment ${s.env}`);
  }
  for (const [s, v] of flags) config[s.key] = parseValue(s, v, `flag ${s.flag}`);
  validateConfig(config as unknown as EngineConfig);
  return { config: config as unknown as EngineConfig, help };
}

/** Whether a configuration makes this node a cluster member (rather than a standalone node). */
export function isClustered(config: EngineConfig): boolean {
  return config.clusterPort > 0 || config.seeds.length > 0;
}

/** Checks combinations of settings; throws a one-line `ConfigError` naming them. */
export function validateConfig(config: EngineConfig): void {
  checkExposure(config);
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
