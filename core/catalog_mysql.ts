/**
 * The MySQL / MariaDB kinds, `mysql.query` (a source) and `mysql.write` (a sink), with the old engine's
 * config (`host`, `port`, `database`, `username`, `password`, `sql`, `fetchSize`; `table`, `batchSize`,
 * `mode`), and the check that keeps `mysql://` URLs off the PostgreSQL `sql.*` kinds. Pure data, like the
 * rest of the catalog (`catalog.ts` lists them).
 *
 * @example
 * ```ts
 * import { postgresUrlCheck } from "./catalog_mysql.ts";
 * const [p] = postgresUrlCheck({ connectionUrl: "mysql://root@db/shop" }, "$.nodes[0].config");
 * if (p?.code !== "connection_scheme" || p.path !== "$.nodes[0].config.connectionUrl") throw new Error();
 * ```
 *
 * @module
 */
import type { NodeKindSpec } from "./catalog.ts";
import type { Problem } from "./schema.ts";

/** A URL for MySQL / MariaDB. */
const MYSQL_URL = /^\s*(mysql|mariadb):\/\//i;

/** The connection fields of the mysql.* nodes: a declared connection, or (where allowed) inline ones. */
const MYSQL_CONNECTION = {
  connection: {
    type: "string",
    label: "Connection",
    description:
      "the name of a mysql:// connection the operator declared (--sql-connection NAME=URL); default: `default`",
  },
  connectionUrl: {
    type: "string",
    label: "Connection URL",
    description: "an inline mysql:// URL, refused unless the node allows inline connections",
  },
  host: {
    type: "string",
    label: "Host",
    description: "inline (with port, username, password), refused unless the node allows inline connections",
  },
  port: { type: "integer", coerce: true, min: 1, max: 65535, label: "Port", description: "default 3306" },
  database: { type: "string", label: "Database" },
  username: { type: "string", label: "Username" },
  password: { type: "string", label: "Password", description: 'best a {"$secret": NAME} reference' },
} as const;

/** A `mysql://` inline URL on a PostgreSQL node (sql.query, sql.insert): refused when the workflow is saved. */
export function postgresUrlCheck(config: Record<string, unknown>, path: string): Problem[] {
  const url = config.connectionUrl;
  return typeof url === "string" && MYSQL_URL.test(url)
    ? [{
      path: `${path}.connectionUrl`,
      code: "connection_scheme",
      message:
        "a mysql:// URL is for the mysql.query and mysql.write nodes; this node needs a postgres:// URL",
    }]
    : [];
}

function mysqlUrlCheck(config: Record<string, unknown>, path: string): Problem[] {
  const url = config.connectionUrl;
  return typeof url === "string" && !MYSQL_URL.test(url)
    ? [{
      path: `${path}.connectionUrl`,
      code: "connection_scheme",
      message: "this node needs a mysql:// URL",
    }]
    : [];
}

function writeCheck(config: Record<string, unknown>, path: string): Problem[] {
  const key = config.key;
  const problems = mysqlUrlCheck(config, path);
  if (key !== undefined) {
    const ok = typeof key === "string" ? key !== "" : Array.isArray(key) && key.length > 0 &&
      key.every((k) => typeof k === "string" && k !== "");
    if (!ok) {
      problems.push({
        path: `${path}.key`,
        code: "config_type",
        message: "key must be a column name or a non-empty list of column names",
      });
    }
  } else if (config.mode === "upsert") {
    problems.push({ path: `${path}.key`, code: "config_missing", message: "mode upsert needs a key" });
  }
  return problems;
}

/** The mysql.* kinds. */
export const MYSQL_KINDS: readonly NodeKindSpec[] = [
  {
    type: "source",
    nodeType: "mysql.query",
    displayName: "MySQL query",
    icon: "database-search",
    description:
      "Runs a query against MySQL / MariaDB and emits each row as an object, read in batches of fetchSize.",
    behaviour: "task",
    acceptsInput: false,
    outputs: ["out"],
    config: {
      sql: { type: "string", required: true, label: "SQL" },
      params: { type: "array", label: "Parameters", description: "values for the ? placeholders" },
      fetchSize: { type: "integer", default: 1000, coerce: true, min: 1, max: 100000, label: "Fetch size" },
      ...MYSQL_CONNECTION,
    },
    check: mysqlUrlCheck,
  },
  {
    type: "sink",
    nodeType: "mysql.write",
    displayName: "MySQL write",
    icon: "database-plus",
    description:
      "Writes object records into a MySQL / MariaDB table (insert, or upsert on a key); idempotent on retry.",
    behaviour: "task",
    acceptsInput: true,
    outputs: [],
    config: {
      table: { type: "string", required: true, label: "Table" },
      batchSize: { type: "integer", default: 1000, coerce: true, min: 1, max: 10000, label: "Batch size" },
      mode: { type: "string", default: "insert", enum: ["insert", "upsert"], label: "Mode" },
      key: { type: "any", label: "Key", description: "upsert: the key column or a list of them" },
      ...MYSQL_CONNECTION,
    },
    check: writeCheck,
  },
];
