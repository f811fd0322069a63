/**
 * Executors of the sink nodes: console.log, file.text, file.csv, file.jsonl,
 * memory.collect and sql.insert. The file sinks write through
 * `services.writeFileAtomic`, so a reader sees the old file or the whole new one.
 *
 * @module
 */
import { type Executor, fromSync, type Json, NodeError, type SqlClient } from "./executor.ts";
import { checkDelimiter, CSV_LINE_END, formatCsvRow } from "./csv.ts";
import { quoteIdent, quoteTable, sqlError } from "./sql_support.ts";
import { canonicalJson, isObject } from "./values.ts";

function asLine(record: Json): string {
  return typeof record === "string" ? record : JSON.stringify(record);
}

/**
 * console.log: logs the first `limit` records, one `services.log` line each
 * (strings as-is, others as JSON), plus one line saying how many were not shown.
 * Passes its input through: the output records are all the input records, and
 * `recordsProcessed` is their count.
 */
export const consoleLog: Executor = fromSync((ctx) => {
  const records = ctx.inputs.records;
  const limit = ctx.config.limit as number;
  const fields = { executionId: ctx.executionId, workflowId: ctx.workflowId, nodeId: ctx.nodeId };
  const shown = Math.min(limit, records.length);
  for (let i = 0; i < shown; i++) {
    ctx.services.log(`[${ctx.nodeId}] ${asLine(records[i])}`, { ...fields, index: i });
  }
  if (records.length > shown) {
    ctx.services.log(`[${ctx.nodeId}] … ${records.length - shown} more records not shown (limit ${limit})`, {
      ...fields,
      omitted: records.length - shown,
    });
  }
  return { records, recordsProcessed: records.length };
});

/**
 * file.text (sink): one line per record, `\n`-terminated: strings as-is, anything
 * else as JSON. No records write an empty file. Emits no records.
 */
export const fileTextSink: Executor = async (ctx) => {
  const records = ctx.inputs.records;
  const text = records.map((r) => asLine(r) + "\n").join("");
  await ctx.services.writeFileAtomic(ctx.config.path as string, text);
  return { records: [], recordsProcessed: records.length };
};

/** file.jsonl: one JSON document per line, `\n`-terminated. Emits no records. */
export const fileJsonlSink: Executor = async (ctx) => {
  const records = ctx.inputs.records;
  const text = records.map((r) => JSON.stringify(r) + "\n").join("");
  await ctx.services.writeFileAtomic(ctx.config.path as string, text);
  return { records: [], recordsProcessed: records.length };
};

function csvCell(v: Json | undefined): string {
  if (v === undefined || v === null) return "";
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return JSON.stringify(v);
}

/**
 * The CSV text of `records`, lines ending in CRLF:
 * - object records: columns are the union of their keys in first-seen order, with
 *   a header row when `header`; a missing key or null is an empty cell;
 * - array records: one row each, positionally, never a header;
 * - other values: a one-cell row each.
 * Nested arrays and objects in cells are written as JSON. Objects mixed with
 * non-objects fail with `record_type`.
 */
export function recordsToCsv(records: readonly Json[], delimiter: string, header: boolean): string {
  checkDelimiter(delimiter);
  const objects = records.filter(isObject).length;
  if (objects > 0 && objects < records.length) {
    throw new NodeError("record_type", "file.csv cannot mix object records with other records", false);
  }
  const lines: string[] = [];
  if (objects > 0) {
    const columns = new Set<string>();
    for (const r of records as { [key: string]: Json }[]) for (const k of Object.keys(r)) columns.add(k);
    const cols = [...columns];
    if (header) lines.push(formatCsvRow(cols, delimiter));
    for (const r of records as { [key: string]: Json }[]) {
      lines.push(formatCsvRow(cols.map((c) => csvCell(r[c])), delimiter));
    }
  } else {
    for (const r of records) {
      lines.push(formatCsvRow(Array.isArray(r) ? r.map(csvCell) : [csvCell(r)], delimiter));
    }
  }
  return lines.map((l) => l + CSV_LINE_END).join("");
}

/** file.csv (sink): writes {@link recordsToCsv} of the input. Emits no records. */
export const fileCsvSink: Executor = async (ctx) => {
  const { path, delimiter, header } = ctx.config as { path: string; delimiter: string; header: boolean };
  const records = ctx.inputs.records;
  await ctx.services.writeFileAtomic(path, recordsToCsv(records, delimiter, header));
  return { records: [], recordsProcessed: records.length };
};

/**
 * memory.collect: outputs its input records unchanged; the runtime stores a node's
 * output and serves it at `.../nodes/{nodeId}/output`.
 */
export const memoryCollect: Executor = fromSync((ctx) => ({ records: ctx.inputs.records }));

// ---- sql.insert

/** The table of idempotency marks sql.insert keeps, one row per node of an execution written. */
export const SINK_MARKS_TABLE = "engine_sink_marks";

const CREATE_MARKS = `create table if not exists ${SINK_MARKS_TABLE} (
  idempotency_key text primary key,
  written_at timestamptz not null default now()
)`;

/** Most rows per INSERT statement (also bounded by PostgreSQL's 65,535 parameters). */
export const INSERT_CHUNK_ROWS = 500;

const marksReady = new WeakMap<SqlClient, Promise<void>>();

function ensureMarksTable(client: SqlClient): Promise<void> {
  let ready = marksReady.get(client);
  if (!ready) {
    ready = client.query(CREATE_MARKS, []).then(
      () => {},
      (e) => {
        const code = (e as { code?: string }).code;
        // Two sessions creating it at once: one loses on the catalog's unique index.
        if (code === "23505" || code === "42P07") return;
        marksReady.delete(client);
        throw sqlError(e, `sql.insert: creating ${SINK_MARKS_TABLE}`);
      },
    );
    marksReady.set(client, ready);
  }
  return ready;
}

const COLUMNS_SQL = `select a.attname as name,
    coalesce(nullif(t.typbasetype, 0), t.oid)::regtype::text as base_type
  from pg_attribute a join pg_type t on t.oid = a.atttypid
  where a.attrelid = to_regclass($1) and a.attnum > 0 and not a.attisdropped`;

/** The upsert key columns of a config value: a column, a list of columns, or none. */
export function upsertColumns(upsertKey: unknown): string[] {
  if (upsertKey === undefined || upsertKey === null) return [];
  const keys = Array.isArray(upsertKey) ? upsertKey : [upsertKey];
  if (keys.length === 0 || keys.some((k) => typeof k !== "string" || k === "")) {
    throw new NodeError("config_type", "upsertKey must be a column name or a non-empty list of them", false);
  }
  return keys as string[];
}

/**
 * Builds the INSERT statements for `rows` (already known to be objects): one per
 * chunk of at most {@link INSERT_CHUNK_ROWS} rows. A key missing from a record is
 * `DEFAULT`; values bound for json/jsonb columns are sent as JSON text and cast;
 * objects and arrays bound for other (non-array) columns are sent as JSON text.
 */
export function insertStatements(
  table: string,
  rows: readonly { [key: string]: Json }[],
  columns: readonly string[],
  columnTypes: ReadonlyMap<string, string>,
  upsertKey: readonly string[],
): { sql: string; params: unknown[] }[] {
  const target = quoteTable(table);
  const colList = columns.map(quoteIdent).join(", ");
  let conflict = "";
  if (upsertKey.length > 0) {
    const rest = columns.filter((c) => !upsertKey.includes(c));
    conflict = ` on conflict (${upsertKey.map(quoteIdent).join(", ")}) ` +
      (rest.length === 0
        ? "do nothing"
        : `do update set ${rest.map((c) => `${quoteIdent(c)} = excluded.${quoteIdent(c)}`).join(", ")}`);
  }
  const perChunk = Math.max(1, Math.min(INSERT_CHUNK_ROWS, Math.floor(65535 / columns.length)));
  const statements: { sql: string; params: unknown[] }[] = [];
  for (let at = 0; at < rows.length; at += perChunk) {
    const params: unknown[] = [];
    const tuples: string[] = [];
    for (const row of rows.slice(at, at + perChunk)) {
      const cells = columns.map((c) => {
        if (!Object.hasOwn(row, c)) return "default";
        const v = row[c];
        if (v === null) {
          params.push(null);
          return `$${params.length}`;
        }
        const type = columnTypes.get(c) ?? "";
        if (type === "json" || type === "jsonb") {
          params.push(JSON.stringify(v));
          return `$${params.length}::text::${type}`;
        }
        params.push(typeof v === "object" && !type.endsWith("[]") ? JSON.stringify(v) : v);
        return `$${params.length}`;
      });
      tuples.push(`(${cells.join(", ")})`);
    }
    statements.push({
      sql: `insert into ${target} (${colList}) values ${tuples.join(", ")}${conflict}`,
      params,
    });
  }
  return statements;
}

/**
 * sql.insert: inserts object records into `table` (`table` or `schema.table`;
 * names are quoted, so case-sensitive). Columns are the union of the records'
 * keys. With `upsertKey` (a column or a list), conflicting rows are updated
 * (`on conflict (...) do update`), and when records repeat a key, the last wins.
 *
 * Idempotent across retries: in one transaction it first records
 * `ctx.idempotencyKey` in `engine_sink_marks`; when the mark is already there, an
 * earlier attempt committed the rows, so nothing is written again (a log line says
 * so). Either way `recordsProcessed` is the input count; no records are emitted.
 *
 * Fails with `record_type` for a non-object record, `sql_table_missing`,
 * `sql_column_missing`, `upsert_key_missing` (all not retryable), or `sql_error` /
 * `sql_connection` from the database.
 */
export const sqlInsert: Executor = async (ctx) => {
  const { table, connection, connectionUrl } = ctx.config as {
    table: string;
    connection?: string;
    connectionUrl?: string;
  };
  const keys = upsertColumns(ctx.config.upsertKey);
  const input = ctx.inputs.records;
  quoteTable(table);
  if (input.length === 0) return { records: [], recordsProcessed: 0 };
  const bad = input.findIndex((r) => !isObject(r));
  if (bad >= 0) {
    throw new NodeError(
      "record_type",
      `sql.insert needs object records; record ${bad} is not an object`,
      false,
    );
  }
  let rows = input as { [key: string]: Json }[];
  const columnSet = new Set<string>();
  for (const r of rows) for (const k of Object.keys(r)) columnSet.add(k);
  const columns = [...columnSet];
  if (columns.length === 0) {
    throw new NodeError("record_type", "sql.insert: the records have no fields", false);
  }
  for (const k of keys) {
    if (!columnSet.has(k)) {
      throw new NodeError("upsert_key_missing", `sql.insert: upsert key ${k} is in no record`, false);
    }
  }
  if (keys.length > 0) {
    const byKey = new Map<string, { [key: string]: Json }>();
    for (const r of rows) byKey.set(canonicalJson(keys.map((k) => r[k] ?? null)), r);
    rows = [...byKey.values()];
  }

  const client = ctx.services.sql({ connection, connectionUrl });
  await ensureMarksTable(client);
  let written = true;
  try {
    await client.transaction(async (tx) => {
      const described = await tx.query(COLUMNS_SQL, [quoteTable(table)]);
      if (described.length === 0) {
        throw new NodeError("sql_table_missing", `sql.insert: no table ${table}`, false);
      }
      const types = new Map(described.map((d) => [d.name as string, d.base_type as string]));
      const missing = columns.filter((c) => !types.has(c));
      if (missing.length > 0) {
        throw new NodeError(
          "sql_column_missing",
          `sql.insert: table ${table} has no column ${missing.join(", ")}`,
          false,
        );
      }
      const marked = await tx.query(
        `insert into ${SINK_MARKS_TABLE} (idempotency_key) values ($1) on conflict do nothing returning 1`,
        [ctx.idempotencyKey],
      );
      if (marked.length === 0) {
        written = false;
        return;
      }
      for (const st of insertStatements(table, rows, columns, types, keys)) {
        ctx.signal.throwIfAborted();
        await tx.query(st.sql, st.params);
      }
    });
  } catch (e) {
    if (e instanceof NodeError) throw e;
    if (ctx.signal.aborted && !(e as { severity?: unknown }).severity) throw e;
    throw sqlError(e, `sql.insert into ${table}`);
  }
  if (!written) {
    ctx.services.log(
      `[${ctx.nodeId}] sql.insert into ${table}: already written by an earlier attempt (${ctx.idempotencyKey})`,
      { executionId: ctx.executionId, nodeId: ctx.nodeId, idempotencyKey: ctx.idempotencyKey },
    );
  }
  return { records: [], recordsProcessed: input.length };
};
