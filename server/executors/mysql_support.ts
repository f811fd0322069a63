/**
 * MySQL / MariaDB for the mysql.* nodes, through mysql2: which connection a node may use (a declared
 * `mysql://` connection, or its inline fields where inline connections are allowed), identifier quoting,
 * the mapping of driver errors to `NodeError`s, and a small client (streamed queries, one transaction per
 * call) over a pool per connection, at most {@link MAX_MYSQL_POOLS} at once.
 *
 * @example
 * ```ts
 * import { quoteMysqlTable } from "./mysql_support.ts";
 * if (quoteMysqlTable("shop.order`s") !== "`shop`.`order``s`") throw new Error();
 * ```
 *
 * @module
 */
import mysql from "npm:mysql2@3.26.1";
import type { Pool, PoolConnection, PoolOptions } from "npm:mysql2@3.26.1";
import { NodeError } from "./executor.ts";

/** What a mysql.* node names: a declared connection, an inline URL, or the old engine's inline fields. */
export interface MysqlTarget {
  connection?: string;
  connectionUrl?: string;
  host?: string;
  port?: number;
  database?: string;
  username?: string;
  password?: string;
}

/** What a node grants the mysql.* nodes: the same settings as the sql.* nodes. */
export interface MysqlGrants {
  /** `--sql-connection NAME=URL`; a mysql.* node may name those whose URL is `mysql://` or `mariadb://`. */
  sqlConnections?: Readonly<Record<string, string>>;
  /** `--allow-inline-connections`: whether inline URLs and inline host/username/password are accepted. */
  allowInlineConnections?: boolean;
}

/** One statement's outcome in a transaction. */
export interface MysqlResult {
  rows: Record<string, unknown>[];
  affectedRows: number;
}

/** The statements of one transaction. */
export interface MysqlTx {
  execute(sql: string, params: unknown[]): Promise<MysqlResult>;
}

/** The little of a MySQL client the mysql.* nodes need. */
export interface MysqlClient {
  /**
   * Runs one query and hands its rows to `onBatch` in batches of at most `fetchSize`, reading from the server
   * only as fast as the batches are taken (the socket is paused in between). A throw from `onBatch` or an
   * aborted `signal` stops the query and drops its connection.
   */
  stream(
    sql: string,
    params: unknown[],
    fetchSize: number,
    onBatch: (rows: Record<string, unknown>[]) => void,
    signal: AbortSignal,
  ): Promise<void>;
  /** Runs statements outside a transaction (DDL). */
  execute(sql: string, params: unknown[]): Promise<MysqlResult>;
  /** Runs `fn` in one transaction: committed when it returns, rolled back when it throws. */
  transaction<T>(fn: (tx: MysqlTx) => Promise<T>): Promise<T>;
}

/** MySQL's identifier length limit, in characters. */
const MAX_IDENTIFIER_CHARS = 64;

/**
 * Quotes one identifier with backticks, doubling embedded backticks.
 *
 * @example
 * ```ts
 * import { quoteMysqlIdent } from "./mysql_support.ts";
 * if (quoteMysqlIdent("a`b") !== "`a``b`") throw new Error();
 * ```
 *
 * @throws {NodeError} `sql_identifier` (not retryable) for an empty name, a NUL, a trailing space or more
 * than 64 characters.
 */
export function quoteMysqlIdent(name: string): string {
  if (
    typeof name !== "string" || name === "" || name.includes("\0") || name.endsWith(" ") ||
    [...name].length > MAX_IDENTIFIER_CHARS
  ) {
    throw new NodeError(
      "sql_identifier",
      `invalid MySQL identifier ${
        JSON.stringify(name)
      }: must be 1 to ${MAX_IDENTIFIER_CHARS} characters without NUL or a trailing space`,
      false,
    );
  }
  return "`" + name.replaceAll("`", "``") + "`";
}

/**
 * Quotes `table` or `database.table`, each part on its own.
 *
 * @throws {NodeError} `sql_identifier` for more than two parts or a bad part.
 */
export function quoteMysqlTable(name: string): string {
  const parts = typeof name === "string" ? name.split(".") : [];
  if (parts.length < 1 || parts.length > 2) {
    throw new NodeError(
      "sql_identifier",
      `invalid table name ${JSON.stringify(name)}: use table or database.table`,
      false,
    );
  }
  return parts.map(quoteMysqlIdent).join(".");
}

/**
 * Whether a URL is one the mysql.* nodes use (`mysql://` or `mariadb://`).
 *
 * @example
 * ```ts
 * import { isMysqlUrl } from "./mysql_support.ts";
 * if (!isMysqlUrl("mariadb://root@db/x") || isMysqlUrl("postgres://u@h/db")) throw new Error();
 * ```
 */
export function isMysqlUrl(url: string): boolean {
  return /^(mysql|mariadb):\/\//i.test(url.trim());
}

function refused(message: string): NodeError {
  return new NodeError("connection_not_granted", message, false);
}

function optionsOfUrl(url: string, what: string): PoolOptions {
  if (!isMysqlUrl(url)) {
    throw new NodeError("sql_url_invalid", `${what} is not a mysql:// (or mariadb://) URL`, false);
  }
  let parsed: URL;
  try {
    parsed = new URL(url.trim().replace(/^mariadb:/i, "mysql:"));
  } catch {
    throw new NodeError("sql_url_invalid", `${what} is not a valid URL`, false);
  }
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ""));
  return {
    host: parsed.hostname.replace(/^\[|\]$/g, ""),
    port: parsed.port === "" ? 3306 : Number(parsed.port),
    user: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
    database: database === "" ? undefined : database,
  };
}

/**
 * The connection options of what a node names, when granted: inline fields or URL only with
 * `allowInlineConnections`; otherwise the declared connection `connection` (default `default`), which must
 * be a `mysql://` URL.
 *
 * @example
 * ```ts
 * import { mysqlConnectionOptions } from "./mysql_support.ts";
 * const o = mysqlConnectionOptions({ sqlConnections: { shop: "mysql://app:pw@db:3307/shop" } }, {
 *   connection: "shop",
 * });
 * if (o.host !== "db" || o.port !== 3307 || o.user !== "app" || o.database !== "shop") throw new Error();
 * ```
 *
 * @throws {NodeError} `connection_not_granted` or `sql_url_invalid`, not retryable.
 */
export function mysqlConnectionOptions(grants: MysqlGrants, target: MysqlTarget): PoolOptions {
  const inline = target.connectionUrl !== undefined || target.host !== undefined;
  if (inline && target.connection === undefined) {
    if (grants.allowInlineConnections !== true) {
      throw refused(
        "inline connection fields (host, connectionUrl) are refused on this node; " +
          "name a declared connection (--sql-connection NAME=mysql://...)",
      );
    }
    if (target.connectionUrl !== undefined) return optionsOfUrl(target.connectionUrl, "connectionUrl");
    return {
      host: target.host,
      port: target.port ?? 3306,
      user: target.username,
      password: target.password,
      database: target.database === "" ? undefined : target.database,
    };
  }
  const name = target.connection ?? "default";
  const url = grants.sqlConnections !== undefined && Object.hasOwn(grants.sqlConnections, name)
    ? grants.sqlConnections[name]
    : undefined;
  if (url === undefined) {
    throw refused(
      `no SQL connection ${JSON.stringify(name)} is declared on this node (--sql-connection NAME=URL)`,
    );
  }
  const options = optionsOfUrl(url, `connection ${JSON.stringify(name)}`);
  // A declared connection grants its own database: a node may repeat it, not pick another one.
  if (target.database !== undefined && target.database !== "" && target.database !== options.database) {
    throw refused(
      `SQL connection ${JSON.stringify(name)} grants its own database; database ${
        JSON.stringify(target.database)
      } is not it`,
    );
  }
  return options;
}

/** MySQL error numbers worth another attempt: deadlock, lock wait timeout, too many connections, gone away. */
const RETRYABLE_ERRNOS = new Set([1205, 1213, 1040, 1053, 2006, 2013]);

/**
 * Converts a mysql2 error to a `NodeError` (`NodeError`s pass through): a server error becomes `sql_error`
 * (a missing table `sql_table_missing`, a missing column `sql_column_missing`, both not retryable), retryable
 * for deadlocks and lock timeouts; a connection error (refused, closed, fatal) `sql_connection`, retryable.
 *
 * @example
 * ```ts
 * import { mysqlError } from "./mysql_support.ts";
 * const e = mysqlError({ code: "ER_LOCK_DEADLOCK", errno: 1213, sqlState: "40001", message: "x" }, "w");
 * if (e.code !== "sql_error" || !e.retryable) throw new Error();
 * ```
 */
export function mysqlError(e: unknown, what: string): NodeError {
  if (e instanceof NodeError) return e;
  const err = e as {
    code?: unknown;
    errno?: unknown;
    sqlState?: unknown;
    fatal?: unknown;
    message?: unknown;
  };
  const message = typeof err?.message === "string" ? err.message : String(e);
  const code = typeof err?.code === "string" ? err.code : "";
  if (typeof err?.sqlState === "string" && typeof err.errno === "number" && err.fatal !== true) {
    if (err.errno === 1146) return new NodeError("sql_table_missing", `${what} failed: ${message}`, false);
    if (err.errno === 1054) return new NodeError("sql_column_missing", `${what} failed: ${message}`, false);
    const retryable = RETRYABLE_ERRNOS.has(err.errno) || err.sqlState.startsWith("08");
    return new NodeError("sql_error", `${what} failed: ${message} (${code} ${err.sqlState})`, retryable);
  }
  if (code !== "" || err?.fatal === true) {
    return new NodeError("sql_connection", `${what} failed: ${message}${code ? ` (${code})` : ""}`, true);
  }
  return new NodeError("sql_error", `${what} failed: ${message}`, false);
}

function toResult(out: unknown): MysqlResult {
  if (Array.isArray(out)) return { rows: out as Record<string, unknown>[], affectedRows: 0 };
  const header = out as { affectedRows?: number };
  return { rows: [], affectedRows: header?.affectedRows ?? 0 };
}

function streamRows(
  conn: PoolConnection,
  q: { sql: string; params: unknown[]; fetchSize: number; signal: AbortSignal },
  onBatch: (rows: Record<string, unknown>[]) => void,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const stream = conn.query({ sql: q.sql, values: q.params }).stream({ highWaterMark: q.fetchSize });
    let batch: Record<string, unknown>[] = [];
    let done = false;
    const fail = (e: unknown) => {
      if (done) return;
      done = true;
      q.signal.removeEventListener("abort", onAbort);
      stream.destroy();
      reject(e);
    };
    const onAbort = () => fail(q.signal.reason);
    q.signal.addEventListener("abort", onAbort, { once: true });
    const flush = () => {
      const rows = batch;
      batch = [];
      onBatch(rows);
    };
    stream.on("data", (row: Record<string, unknown>) => {
      if (done) return;
      batch.push(row);
      if (batch.length < q.fetchSize) return;
      try {
        flush();
      } catch (e) {
        fail(e);
      }
    });
    stream.on("error", fail);
    stream.on("end", () => {
      if (done) return;
      try {
        if (batch.length > 0) flush();
      } catch (e) {
        return fail(e);
      }
      done = true;
      q.signal.removeEventListener("abort", onAbort);
      resolve();
    });
  });
}

/** A {@link MysqlClient} over a mysql2 pool. */
export function mysqlClientOf(pool: Pool): MysqlClient {
  const promised = pool.promise();
  return {
    async stream(sql, params, fetchSize, onBatch, signal) {
      signal.throwIfAborted();
      const conn = await new Promise<PoolConnection>((resolve, reject) =>
        pool.getConnection((e, c) => e ? reject(e) : resolve(c))
      );
      try {
        await streamRows(conn, { sql, params, fetchSize, signal }, onBatch);
        conn.release();
      } catch (e) {
        // The result may be half read: the connection cannot be reused.
        conn.destroy();
        throw e;
      }
    },
    async execute(sql, params) {
      const [out] = await promised.execute(sql, params as never);
      return toResult(out);
    },
    async transaction(fn) {
      const conn = await promised.getConnection();
      let ok = false;
      try {
        await conn.beginTransaction();
        const value = await fn({
          execute: async (sql, params) => toResult((await conn.execute(sql, params as never))[0]),
        });
        await conn.commit();
        ok = true;
        return value;
      } finally {
        if (ok) conn.release();
        else {
          await conn.rollback().catch(() => {});
          conn.destroy();
        }
      }
    },
  };
}

/** How many connections keep a pool at once; the least recently used one is closed. */
export const MAX_MYSQL_POOLS = 16;

/** The mysql.* nodes' part of the real services. */
export interface MysqlServices {
  mysql(target: MysqlTarget): MysqlClient;
  close(): Promise<void>;
}

/**
 * Real MySQL services: a pool (4 connections) per distinct connection, least recently used closed past
 * {@link MAX_MYSQL_POOLS}. A pool connects on first use.
 *
 * @example
 * ```ts
 * import { mysqlServices } from "./mysql_support.ts";
 * const services = mysqlServices({ sqlConnections: { default: "mysql://root@127.0.0.1:3306/shop" } });
 * const client = services.mysql({}); // no connection is opened until a query runs
 * if (services.mysql({}) !== client) throw new Error("one pool per connection");
 * await services.close();
 * ```
 */
export function mysqlServices(grants: MysqlGrants, poolMax = 4): MysqlServices {
  const pools = new Map<string, { pool: Pool; client: MysqlClient }>();
  const closing: Promise<void>[] = [];
  const end = (pool: Pool) => new Promise<void>((resolve) => pool.end(() => resolve()));
  return {
    mysql(target) {
      const options = mysqlConnectionOptions(grants, target);
      const key = JSON.stringify(options);
      const hit = pools.get(key);
      if (hit) {
        pools.delete(key);
        pools.set(key, hit);
        return hit.client;
      }
      const pool = mysql.createPool({
        ...options,
        connectionLimit: poolMax,
        connectTimeout: 10_000,
        supportBigNumbers: true,
        dateStrings: true,
        multipleStatements: false,
      });
      const entry = { pool, client: mysqlClientOf(pool) };
      pools.set(key, entry);
      if (pools.size > MAX_MYSQL_POOLS) {
        const [oldest, old] = pools.entries().next().value!;
        pools.delete(oldest);
        closing.push(end(old.pool));
      }
      return entry.client;
    },
    async close() {
      const all = [...pools.values()];
      pools.clear();
      await Promise.all([...closing, ...all.map((p) => end(p.pool))]);
    },
  };
}
