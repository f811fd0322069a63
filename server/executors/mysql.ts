/**
 * The MySQL / MariaDB nodes: `mysql.query` (a source, streamed in batches of `fetchSize` and bounded by the
 * node's output limits) and `mysql.write` (a sink: insert or upsert, idempotent on retry through a marker
 * row in `flowmesh_writes` written in the same transaction as the rows).
 *
 * @example
 * ```ts
 * import { EXECUTORS } from "./registry.ts";
 * import { mysqlQuery, mysqlWrite } from "./mysql.ts";
 * if (EXECUTORS.get("source/mysql.query") !== mysqlQuery || EXECUTORS.get("sink/mysql.write") !== mysqlWrite) {
 *   throw new Error("registered");
 * }
 * ```
 *
 * @module
 */
import { canonicalJson } from "../../core/json.ts";
import { type Executor, type Json, type NodeContext, NodeError } from "./executor.ts";
import { outputTooLarge, utf8Length } from "./limits.ts";
import {
  type MysqlClient,
  mysqlError,
  type MysqlTarget,
  type MysqlTx,
  quoteMysqlIdent,
  quoteMysqlTable,
} from "./mysql_support.ts";
import { toJsonSafe } from "./values.ts";

/** The table of markers mysql.write keeps, one row per node of an execution written. */
export const WRITES_TABLE = "flowmesh_writes";

const CREATE_WRITES = `create table if not exists ${WRITES_TABLE} (
  idempotency_key varbinary(1024) not null primary key,
  written_at timestamp not null default current_timestamp
)`;

function isObject(v: unknown): v is { [key: string]: Json } {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * The connection a mysql.* node names, from its config (fields of the wrong type are ignored).
 *
 * @example
 * ```ts
 * import { mysqlTarget } from "./mysql.ts";
 * const t = mysqlTarget({ host: "db", port: 3307, username: "app", sql: "select 1" });
 * if (t.host !== "db" || t.port !== 3307 || t.connection !== undefined) throw new Error();
 * ```
 */
export function mysqlTarget(config: Record<string, unknown>): MysqlTarget {
  const text = (k: string) => (typeof config[k] === "string" ? config[k] as string : undefined);
  return {
    connection: text("connection"),
    connectionUrl: text("connectionUrl"),
    host: text("host"),
    port: typeof config.port === "number" ? config.port : undefined,
    database: text("database"),
    username: text("username"),
    password: text("password"),
  };
}

function clientOf(ctx: NodeContext): MysqlClient {
  if (!ctx.services.mysql) {
    throw new NodeError(
      "mysql_unavailable",
      "this runtime gives no MySQL client to the mysql.* nodes",
      false,
    );
  }
  return ctx.services.mysql(mysqlTarget(ctx.config));
}

/**
 * mysql.query: runs `sql` (with `?` placeholders bound to `params`) and emits each row as an object. Rows
 * are read in batches of `fetchSize`; past `maxRecords` or `maxBytes` the query is stopped and the node
 * fails with `output_too_large` (nothing is truncated, and the table is never read whole).
 */
export const mysqlQuery: Executor = async (ctx) => {
  const { sql, params, fetchSize } = ctx.config as { sql: string; params?: unknown[]; fetchSize: number };
  const client = clientOf(ctx);
  const { maxRecords, maxBytes } = ctx.limits;
  const records: Json[] = [];
  let bytes = 2;
  try {
    await client.stream(sql, params ?? [], fetchSize, (rows) => {
      for (const row of rows) {
        const record = toJsonSafe(row);
        records.push(record);
        if (records.length > maxRecords) {
          throw outputTooLarge(ctx.nodeId, `more than ${maxRecords} records, the limit is ${maxRecords}`);
        }
        bytes += utf8Length(JSON.stringify(record)) + (records.length > 1 ? 1 : 0);
        if (bytes > maxBytes) throw outputTooLarge(ctx.nodeId, `more than ${maxBytes} bytes of JSON`);
      }
    }, ctx.signal);
  } catch (e) {
    if (ctx.signal.aborted && !(e instanceof NodeError)) throw e;
    throw mysqlError(e, "mysql.query");
  }
  return { records };
};

/**
 * The key columns of a config value: a column, a list of columns, or none.
 *
 * @example
 * ```ts
 * import { keyColumns } from "./mysql.ts";
 * if (keyColumns("id").join() !== "id" || keyColumns(["a", "b"]).length !== 2) throw new Error();
 * ```
 */
export function keyColumns(key: unknown): string[] {
  if (key === undefined || key === null) return [];
  const keys = Array.isArray(key) ? key : [key];
  if (keys.length === 0 || keys.some((k) => typeof k !== "string" || k === "")) {
    throw new NodeError("config_type", "key must be a column name or a non-empty list of them", false);
  }
  return keys as string[];
}

/**
 * The INSERT statements for `rows`: one per `batchSize` rows, every value a `?` parameter (objects and
 * arrays as JSON text, a field a record lacks as `DEFAULT`); with `upsert`, `on duplicate key update` of
 * every non-key column.
 *
 * @example
 * ```ts
 * import { writeStatements } from "./mysql.ts";
 * const [st] = writeStatements("t", [{ id: 1, "a`b": "x'); drop table t; --" }], ["id", "a`b"], 10, ["id"]);
 * if (st.sql !== "insert into `t` (`id`, `a``b`) values (?, ?) on duplicate key update `a``b` = values(`a``b`)") {
 *   throw new Error(st.sql);
 * }
 * if (st.params[1] !== "x'); drop table t; --") throw new Error();
 * ```
 */
export function writeStatements(
  table: string,
  rows: readonly { [key: string]: Json }[],
  columns: readonly string[],
  batchSize: number,
  upsertKey: readonly string[],
): { sql: string; params: unknown[] }[] {
  const target = quoteMysqlTable(table);
  const colList = columns.map(quoteMysqlIdent).join(", ");
  let tail = "";
  if (upsertKey.length > 0) {
    const rest = columns.filter((c) => !upsertKey.includes(c));
    const set = (rest.length > 0 ? rest : upsertKey).map((c) =>
      `${quoteMysqlIdent(c)} = values(${quoteMysqlIdent(c)})`
    );
    tail = ` on duplicate key update ${set.join(", ")}`;
  }
  // Bounded by MySQL's 65,535 placeholders per statement.
  const perChunk = Math.max(1, Math.min(batchSize, Math.floor(65535 / columns.length)));
  const statements: { sql: string; params: unknown[] }[] = [];
  for (let at = 0; at < rows.length; at += perChunk) {
    const params: unknown[] = [];
    const tuples = rows.slice(at, at + perChunk).map((row) =>
      `(${
        columns.map((c) => {
          if (!Object.hasOwn(row, c)) return "default";
          const v = row[c];
          params.push(v !== null && typeof v === "object" ? JSON.stringify(v) : v);
          return "?";
        }).join(", ")
      })`
    );
    statements.push({ sql: `insert into ${target} (${colList}) values ${tuples.join(", ")}${tail}`, params });
  }
  return statements;
}

/** The columns of `table` (`table` or `database.table`), empty when there is no such table. */
async function tableColumns(tx: MysqlTx, table: string): Promise<Set<string>> {
  const parts = table.split(".");
  const [schema, name] = parts.length === 2 ? parts : [null, parts[0]];
  const { rows } = await tx.execute(
    "select column_name as name from information_schema.columns " +
      "where table_schema = coalesce(?, database()) and table_name = ?",
    [schema, name],
  );
  return new Set(rows.map((r) => String(r.name ?? r.NAME ?? r.COLUMN_NAME)));
}

/** The rows to write, checked: objects, with fields, the key in some record; the last of a repeated key wins. */
function rowsToWrite(input: readonly Json[], keys: readonly string[]) {
  const bad = input.findIndex((r) => !isObject(r));
  if (bad >= 0) {
    throw new NodeError(
      "record_type",
      `mysql.write needs object records; record ${bad} is not an object`,
      false,
    );
  }
  let rows = input as { [key: string]: Json }[];
  const columnSet = new Set<string>();
  for (const r of rows) for (const k of Object.keys(r)) columnSet.add(k);
  if (columnSet.size === 0) {
    throw new NodeError("record_type", "mysql.write: the records have no fields", false);
  }
  for (const k of keys) {
    if (!columnSet.has(k)) {
      throw new NodeError("upsert_key_missing", `mysql.write: key ${k} is in no record`, false);
    }
  }
  if (keys.length > 0) {
    const byKey = new Map<string, { [key: string]: Json }>();
    for (const r of rows) byKey.set(canonicalJson(keys.map((k) => r[k] ?? null)), r);
    rows = [...byKey.values()];
  }
  return { rows, columns: [...columnSet] };
}

const writesReady = new WeakMap<MysqlClient, Promise<void>>();

function ensureWritesTable(client: MysqlClient): Promise<void> {
  let ready = writesReady.get(client);
  if (!ready) {
    ready = client.execute(CREATE_WRITES, []).then(() => {}, (e) => {
      writesReady.delete(client);
      throw mysqlError(e, `mysql.write: creating ${WRITES_TABLE}`);
    });
    writesReady.set(client, ready);
  }
  return ready;
}

/**
 * mysql.write: writes object records into `table` in batches of `batchSize` rows, `mode` `insert` or
 * `upsert` (on the table's primary or unique key; `key` names its columns, and a key repeated in the input
 * keeps its last record). Identifiers are quoted with backticks, values are parameters.
 *
 * Idempotent across retries and restarts: one transaction per attempt inserts the marker
 * `ctx.idempotencyKey` into `flowmesh_writes` and then the rows; when the marker is already there an
 * earlier attempt committed them, so nothing is written again. An attempt killed mid-write commits
 * nothing.
 */
export const mysqlWrite: Executor = async (ctx) => {
  const { table, batchSize, mode } = ctx.config as { table: string; batchSize: number; mode: string };
  const keys = keyColumns(ctx.config.key);
  if (mode === "upsert" && keys.length === 0) {
    throw new NodeError("config_missing", "mysql.write: mode upsert needs a key", false);
  }
  quoteMysqlTable(table);
  const input = ctx.inputs.records;
  if (input.length === 0) return { records: [], recordsProcessed: 0 };
  const { rows, columns } = rowsToWrite(input, mode === "upsert" ? keys : []);
  const statements = writeStatements(table, rows, columns, batchSize, mode === "upsert" ? keys : []);
  const client = clientOf(ctx);
  let written = true;
  try {
    await ensureWritesTable(client);
    await client.transaction(async (tx) => {
      const present = await tableColumns(tx, table);
      if (present.size === 0) {
        throw new NodeError("sql_table_missing", `mysql.write: no table ${table}`, false);
      }
      const missing = columns.filter((c) => !present.has(c));
      if (missing.length > 0) {
        throw new NodeError(
          "sql_column_missing",
          `mysql.write: table ${table} has no column ${missing.join(", ")}`,
          false,
        );
      }
      const marked = await tx.execute(`insert ignore into ${WRITES_TABLE} (idempotency_key) values (?)`, [
        ctx.idempotencyKey,
      ]);
      if (marked.affectedRows === 0) {
        written = false;
        return;
      }
      for (const st of statements) {
        ctx.signal.throwIfAborted();
        await tx.execute(st.sql, st.params);
      }
    });
  } catch (e) {
    if (ctx.signal.aborted && !(e instanceof NodeError)) throw e;
    throw mysqlError(e, `mysql.write into ${table}`);
  }
  if (!written) {
    ctx.services.log(
      `[${ctx.nodeId}] mysql.write into ${table}: already written by an earlier attempt (${ctx.idempotencyKey})`,
      { executionId: ctx.executionId, nodeId: ctx.nodeId, idempotencyKey: ctx.idempotencyKey },
    );
  }
  return { records: [], recordsProcessed: input.length };
};
