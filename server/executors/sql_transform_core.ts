/**
 * The SQL of the `transform/sql.query` node, run synchronously against an
 * in-memory SQLite database (one per attempt, never the engine's own database):
 * the records become a table `input` (object keys are columns; a record that is
 * not an object fills a `value` column), an authorizer then allows only reads
 * (no write, no ATTACH, no PRAGMA, no recursive CTE), and at most `maxRecords`
 * rows are read back; no string or blob may be longer than `maxBytes`.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import type { Json } from "./executor.ts";

/** What the node sends its worker. */
export interface SqlTransformRequest {
  sql: string;
  records: Json[];
  /** At most this many rows are read; one more fails the node. */
  maxRecords: number;
  /** The node's byte bound: also the longest string or blob SQLite may make. */
  maxBytes: number;
}

/** What the worker answers: rows, or an error with a stable code. */
export type SqlTransformReply =
  | { rows: Json[] }
  | { error: { code: string; message: string } };

/** The table the records are loaded into. */
export const SQL_INPUT_TABLE = "input";
/** The column of a record that is not an object. */
export const SQL_VALUE_COLUMN = "value";
/** The most columns the records' keys may make. */
export const SQL_MAX_COLUMNS = 1000;

/** The authorizer's action codes allowed after loading: reading only. */
const READ_ACTIONS = ["SQLITE_SELECT", "SQLITE_READ", "SQLITE_FUNCTION"] as const;

/** A double-quoted SQLite identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** The columns of `records`: object keys in first-seen order, `value` for the rest. */
export function recordColumns(records: readonly Json[]): string[] {
  const cols = new Set<string>();
  for (const r of records) {
    if (r !== null && typeof r === "object" && !Array.isArray(r)) {
      for (const k of Object.keys(r)) cols.add(k);
    } else cols.add(SQL_VALUE_COLUMN);
    if (cols.size > SQL_MAX_COLUMNS) break;
  }
  return [...cols];
}

/** A record's value as SQLite stores it: a whole number as INTEGER (bound as a bigint), else as it is. */
function cell(v: Json | undefined): string | number | bigint | null {
  if (v === undefined || v === null) return null;
  if (typeof v === "boolean") return v ? 1n : 0n;
  if (typeof v === "number") return Number.isSafeInteger(v) ? BigInt(v) : v;
  if (typeof v === "string") return v;
  return JSON.stringify(v);
}

function fromSqlite(v: unknown): Json {
  if (v === null || typeof v === "number" || typeof v === "string") return v;
  if (typeof v === "bigint") return Number(v);
  if (v instanceof Uint8Array) return Array.from(v, (b) => b.toString(16).padStart(2, "0")).join("");
  return String(v);
}

function failure(code: string, message: string): SqlTransformReply {
  return { error: { code, message } };
}

/** Loads `records` into the table `input` with columns `cols`. */
function load(db: DatabaseSync, cols: readonly string[], records: readonly Json[]): void {
  const table = quoteIdent(SQL_INPUT_TABLE);
  const defs = cols.length === 0 ? quoteIdent(SQL_VALUE_COLUMN) : cols.map(quoteIdent).join(", ");
  db.exec(`CREATE TABLE ${table} (${defs})`);
  if (cols.length === 0 || records.length === 0) return;
  const insert = db.prepare(`INSERT INTO ${table} VALUES (${cols.map(() => "?").join(", ")})`);
  db.exec("BEGIN");
  for (const r of records) {
    const obj = r !== null && typeof r === "object" && !Array.isArray(r)
      ? r as Record<string, Json>
      : { [SQL_VALUE_COLUMN]: r };
    insert.run(...cols.map((c) => cell(Object.hasOwn(obj, c) ? obj[c] : undefined)));
  }
  db.exec("COMMIT");
}

/** Allows only reads from now on; returns what was denied first, if anything. */
function readOnly(db: DatabaseSync, codes: Record<string, number>): () => string | undefined {
  const allowed = new Set(READ_ACTIONS.map((a) => codes[a]));
  let denied: string | undefined;
  // node:sqlite has setAuthorizer; the bundled types do not list it yet.
  const authorized = db as DatabaseSync & {
    setAuthorizer(fn: (action: number, arg1: string | null) => number): void;
  };
  authorized.setAuthorizer((action, arg1) => {
    if (allowed.has(action)) return codes.SQLITE_OK;
    const name = Object.keys(codes).find((k) =>
      k.startsWith("SQLITE_") && k !== "SQLITE_OK" && codes[k] === action
    );
    denied ??= `${name ?? action}${arg1 ? ` ${arg1}` : ""}`;
    return codes.SQLITE_DENY;
  });
  return () => denied;
}

/**
 * Runs one request; `open` makes the in-memory database (`:memory:`) with the
 * given SQLite limits, `codes` are node:sqlite's `constants`.
 *
 * @example
 * ```ts
 * import { constants, DatabaseSync } from "node:sqlite";
 * const r = runSqlTransform(
 *   { sql: "SELECT sum(n) AS total FROM input", records: [{ n: 1 }, { n: 2 }], maxRecords: 10, maxBytes: 1000 },
 *   (p, o) => new DatabaseSync(p, o as never),
 *   constants,
 * );
 * if (!("rows" in r) || (r.rows[0] as { total: number }).total !== 3) throw new Error("sum");
 * ```
 */
export function runSqlTransform(
  req: SqlTransformRequest,
  open: (path: string, options: { limits: Record<string, number> }) => DatabaseSync,
  codes: Record<string, number>,
): SqlTransformReply {
  const cols = recordColumns(req.records);
  if (cols.length > SQL_MAX_COLUMNS) {
    return failure("sql_too_many_columns", `records have more than ${SQL_MAX_COLUMNS} keys`);
  }
  // No value longer than the node's byte bound; no attached database, ever.
  const length = Math.max(1_000, Math.min(req.maxBytes, 1_000_000_000));
  const db = open(":memory:", { limits: { length, attach: 0 } });
  try {
    load(db, cols, req.records);
    const denied = readOnly(db, codes);
    const failed = (err: unknown): SqlTransformReply => {
      const why = denied();
      return why !== undefined
        ? failure("sql_not_allowed", `only reads of the table input are allowed, not ${why}`)
        : failure("sql_error", err instanceof Error ? err.message : String(err));
    };
    let one: string;
    try {
      const stmt = db.prepare(req.sql);
      if (denied() === undefined && stmt.columns().length === 0) {
        return failure("sql_not_allowed", "the statement is not a query: it returns no columns");
      }
      one = stmt.sourceSQL;
    } catch (err) {
      return failed(err);
    }
    if (denied() !== undefined) return failed(undefined);
    if (!req.sql.startsWith(one) || req.sql.slice(one.length).trim() !== "") {
      return failure("sql_not_allowed", "one statement only");
    }
    // node:sqlite's iterate() ends quietly on a run-time error, so the rows are read with all(), bounded
    // by a LIMIT around the query (the newline ends a trailing -- comment).
    const bounded = `SELECT * FROM (\n${one.replace(/[\s;]+$/, "")}\n) LIMIT ${req.maxRecords + 1}`;
    let raw: unknown[];
    try {
      raw = db.prepare(bounded).all();
    } catch (err) {
      if (err instanceof Error && /too big/.test(err.message)) {
        return failure("output_too_large", `a value over ${length} bytes: ${err.message}`);
      }
      return failed(err);
    }
    if (denied() !== undefined) return failed(undefined);
    if (raw.length > req.maxRecords) return failure("output_too_large", `more than ${req.maxRecords} rows`);
    return { rows: raw.map(toRecord) };
  } finally {
    db.close();
  }
}

function toRecord(row: unknown): Json {
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(row as Record<string, unknown>)) out[k] = fromSqlite(v);
  return out;
}
