/**
 * The node's settings: the configuration's shape, every setting with its flag and environment variable, and
 * the defaults. `config.ts` reads them.
 *
 * @module
 */
import type { Role } from "../../core/cluster.ts";
import type { ApiToken } from "../http/auth.ts";

/** The whole configuration of a node. */
export interface EngineConfig {
  /** The address the HTTP API listens on (`--host`, `ENGINE_HTTP_HOST`). */
  host: string;
  /** The HTTP API's port; 0: any free port. */
  port: number;
  /** HTTP workers in front of the engine on `port` (`reusePort`); 0: the engine's thread serves HTTP itself. */
  httpWorkers: number;
  /**
   * `auto`: PostgreSQL when a database URL is set, else the local store (`embedded`). `embedded`: the local
   * store of the data directory, the one it holds already (`pglite` when it holds only PGlite's `pg/`), else
   * `sqlite`. `sqlite` and `pglite` name one local store.
   */
  storage: "auto" | "memory" | "sqlite" | "pglite" | "embedded" | "postgres";
  /** The data directory: the local store (SQLite or PGlite) and, by default, the files root `files/`. */
  dataDir: string;
  /** The engine's PostgreSQL database (sql.* nodes default to it). */
  databaseUrl: string | undefined;
  /** This node's id in the cluster (and in shard ownership records). */
  nodeId: string;
  /** Cluster transport port; 0 with no seeds: a standalone node. */
  clusterPort: number;
  /** Other members' cluster addresses (`host:port`). */
  seeds: string[];
  /** What this member does: any of `coordinator`, `worker`, `api-gateway` (default: all three). */
  roles: Role[];
  /** Shared secret every member proves in the transport handshake. */
  clusterSecret: string | undefined;
  /** How long a forwarded call waits for the owner (ask timeout), ms. */
  askTimeoutMs: number;
  /** The shard count, fixed when the cluster is created (every member must agree). */
  shards: number;
  /** The quietest level logged. */
  logLevel: "debug" | "info" | "warn" | "error";
  /** Log lines as one JSON object each, or human-readable (`pretty`). */
  logFormat: "json" | "pretty";
  /** Records one node's output may hold; past it the node fails `output_too_large`. */
  maxOutputRecords: number;
  /** Bytes (as a UTF-8 JSON array) one node's output may hold; past it the node fails `output_too_large`. */
  maxOutputBytes: number;
  /** Executions live at once on this node; past it an execute answers `503 overloaded`. */
  maxActiveExecutions: number;
  /** Events one execution's history may hold; a running execution that reaches it fails `history_too_large`. */
  maxHistoryEvents: number;
  /** Nodes one workflow definition may hold (edges: five times that); its JSON stays under 1 MiB. */
  maxWorkflowNodes: number;
  /** How long finished executions keep their history, in ms (0: forever). */
  retentionMs: number;
  /** PostgreSQL connections at most. */
  databasePoolMax: number;
  /** API tokens and their roles (`--api-token ROLE:TOKEN`, repeatable; `ENGINE_API_TOKENS`). */
  apiTokens: ApiToken[];
  /** Serve without tokens on a non-loopback host (refused without it). */
  insecureNoAuth: boolean;
  /** Plain HTTP on a non-loopback host is intended (a proxy in front terminates TLS): the prod profile's waiver. */
  allowPlainHttp: boolean;
  /** `/metrics` answers without a token. */
  metricsPublic: boolean;
  /** Requests a second each API token may make (bursts of twice that); 0: unlimited. */
  rateLimit: number;
  /** The SQL connections sql.* nodes may name (`--sql-connection NAME=URL`, repeatable). */
  sqlConnections: Record<string, string>;
  /** The broker connections messaging nodes may name (`--broker NAME=URL`, repeatable). */
  brokers: Record<string, string>;
  /** Accept a node's inline connection: a sql.* `connectionUrl`, mysql.* `host`, a messaging `url`/`brokers`. */
  allowInlineConnections: boolean;
  /** The directory file sources and sinks may use; undefined: `<dataDir>/files`. */
  filesRoot: string | undefined;
  /** Browser origins allowed by CORS (`--cors-origin`, repeatable; none: CORS off). */
  corsOrigins: string[];
  /** Non-public addresses the http node may call: host, host:port or CIDR (`--http-allow`, repeatable). */
  httpAllow: string[];
  /** A JSON file of secrets (`{"NAME": "value"}`) that `{"$secret": "NAME"}` references read. */
  secretsFile: string | undefined;
  /** PEM certificate (chain) served on the HTTP and cluster ports; with `tlsKey`. */
  tlsCert: string | undefined;
  /** PEM private key of `tlsCert`. */
  tlsKey: string | undefined;
  /** PEM certificate(s) a member trusts when it dials another over TLS (default: the system's and `tlsCert`). */
  tlsCa: string | undefined;
}

/** How a setting's text is read. */
export type Kind =
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
  | "brokers"
  | "hosts"
  | "switch";

/** One setting: its key in the configuration, its flag and variable, how it is read. */
export interface Setting {
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
    key: "httpWorkers",
    flag: "--http-workers",
    env: "ENGINE_HTTP_WORKERS",
    kind: "int",
    min: 0,
    max: 64,
    help: "HTTP worker threads parsing requests for the engine's thread, all on --port " +
      "(Linux, --unstable-net; 0: the engine's thread serves HTTP)",
  },
  {
    key: "storage",
    flag: "--storage",
    env: "ENGINE_STORAGE",
    kind: "enum",
    values: ["auto", "memory", "sqlite", "pglite", "embedded", "postgres"],
    help: "storage backend (auto: postgres with a database URL, else embedded: the data directory's local " +
      "store, sqlite unless it holds a pglite one)",
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
    key: "maxHistoryEvents",
    flag: "--max-history-events",
    env: "ENGINE_MAX_HISTORY_EVENTS",
    kind: "int",
    min: 100,
    max: 100_000_000,
    help: "events one execution's history may hold (past it the execution fails history_too_large)",
  },
  {
    key: "maxWorkflowNodes",
    flag: "--max-workflow-nodes",
    env: "ENGINE_MAX_WORKFLOW_NODES",
    kind: "int",
    min: 1,
    max: 10000,
    help: "nodes one workflow may hold (edges: five times that)",
  },
  {
    key: "retentionMs",
    flag: "--retention",
    env: "ENGINE_RETENTION",
    kind: "duration",
    help:
      "how long finished executions are kept if their workflow has no retentionMs (e.g. 7d, 12h; 0 keeps them)",
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
    key: "allowPlainHttp",
    flag: "--allow-plain-http",
    env: "ENGINE_ALLOW_PLAIN_HTTP",
    kind: "switch",
    help:
      "plain HTTP on a non-loopback host is intended: a proxy in front terminates TLS (waives prod's TLS check)",
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
    help: "NAME=URL a connection sql.* (postgres://) or mysql.* (mysql://) nodes may name " +
      "(repeatable; the variable a comma-separated list)",
  },
  {
    key: "brokers",
    flag: "--broker",
    env: "ENGINE_BROKERS",
    kind: "brokers",
    help: "NAME=URL a broker messaging nodes may name: kafka://host:port[,host:port], nats://, amqp(s)://, " +
      "redis(s):// (repeatable; the variable a comma-separated list)",
  },
  {
    key: "allowInlineConnections",
    flag: "--allow-inline-connections",
    env: "ENGINE_ALLOW_INLINE_CONNECTIONS",
    kind: "switch",
    help:
      "accept a node's inline connection (sql.* connectionUrl, mysql.* host, a messaging node's url or brokers)",
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
  {
    key: "httpAllow",
    flag: "--http-allow",
    env: "ENGINE_HTTP_ALLOW",
    kind: "hosts",
    help:
      "a non-public host, host:port or CIDR the http node may call, e.g. 10.0.0.0/8 (repeatable; the variable a list)",
  },
  {
    key: "secretsFile",
    flag: "--secrets-file",
    env: "ENGINE_SECRETS_FILE",
    kind: "string",
    help:
      'a JSON file {"NAME": "value"} of the secrets {"$secret": "NAME"} reads (besides ENGINE_SECRET_<NAME>)',
  },
  {
    key: "tlsCert",
    flag: "--tls-cert",
    env: "ENGINE_TLS_CERT",
    kind: "string",
    help: "PEM certificate file: HTTPS and TLS on the cluster port (with --tls-key)",
  },
  {
    key: "tlsKey",
    flag: "--tls-key",
    env: "ENGINE_TLS_KEY",
    kind: "string",
    help: "PEM private key file of --tls-cert",
  },
  {
    key: "tlsCa",
    flag: "--tls-ca",
    env: "ENGINE_TLS_CA",
    kind: "string",
    help:
      "PEM file of the certificates a member trusts when dialing others (default: system roots and --tls-cert)",
  },
];

/** The defaults. */
export const DEFAULT_CONFIG: Readonly<EngineConfig> = Object.freeze({
  host: "127.0.0.1",
  port: 8080,
  httpWorkers: 0,
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
  maxHistoryEvents: 100_000,
  maxWorkflowNodes: 1_000,
  retentionMs: 7 * 24 * 3_600_000,
  databasePoolMax: 10,
  apiTokens: [],
  insecureNoAuth: false,
  allowPlainHttp: false,
  metricsPublic: false,
  rateLimit: 1_000,
  sqlConnections: {},
  brokers: {},
  allowInlineConnections: false,
  filesRoot: undefined,
  corsOrigins: [],
  httpAllow: [],
  secretsFile: undefined,
  tlsCert: undefined,
  tlsKey: undefined,
  tlsCa: undefined,
});
