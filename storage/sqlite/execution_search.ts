/**
 * The statements of an execution search in the SQLite store, as `storage/execution_search.ts` asks for them.
 * SQLite keeps no statistics here (no `ANALYZE`), so each walk of the ordered indexes names its index
 * (`INDEXED BY`, which fails rather than scan without it): `executions_by_workflow_status` for a workflow and
 * a status, `executions_by_workflow`, `executions_by_status` (migration 4 adding it and the first) or
 * `executions_by_time`, all `(…, start_time desc, execution_id desc)`. Id prefixes are ranges of the primary
 * key's index (`BINARY`: code-point order over UTF-8). A cursor is a row-value comparison
 * `(start_time, execution_id) < (?, ?)`, a seek in those indexes. Each function returns the statement's text
 * and parameters, so a test can `EXPLAIN QUERY PLAN` exactly what runs.
 *
 * @module
 */
import type { ExecutionKey, IdRange, SearchFilters, SearchStatements } from "../execution_search.ts";
import type { SqliteContext } from "./context.ts";
import type { SqlValue } from "./database.ts";
import { type ExecutionRow, jsonList, toExecution } from "./rows.ts";

/** A statement: its text and its parameters. */
export interface SqliteStatement {
  sql: string;
  params: SqlValue[];
}

const NEWEST_FIRST = "order by start_time desc, execution_id desc";

/**
 * The ordered index a search's equalities lead.
 *
 * @example
 * ```ts
 * import { orderedIndex } from "./execution_search.ts";
 * if (orderedIndex({ workflowId: "w", status: "failed" }) !== "executions_by_workflow_status") throw new Error();
 * if (orderedIndex({ from: 5 }) !== "executions_by_time") throw new Error();
 * ```
 */
export function orderedIndex(f: SearchFilters): string {
  if (f.workflowId !== undefined) {
    return f.status !== undefined ? "executions_by_workflow_status" : "executions_by_workflow";
  }
  return f.status !== undefined ? "executions_by_status" : "executions_by_time";
}

/** The conditions of `f` (workflow, status, window, cursor) and their parameters. */
function conditions(f: SearchFilters): SqliteStatement {
  const where: string[] = [];
  const params: SqlValue[] = [];
  const add = (clause: string, ...values: SqlValue[]) => {
    where.push(clause);
    params.push(...values);
  };
  if (f.workflowId !== undefined) add("workflow_id = ?", f.workflowId);
  if (f.status !== undefined) add("status = ?", f.status);
  if (f.from !== undefined) add("start_time >= ?", f.from);
  if (f.to !== undefined) add("start_time <= ?", f.to);
  if (f.cursor) add("(start_time, execution_id) < (?, ?)", f.cursor.time, f.cursor.id);
  return { sql: where.length === 0 ? "true" : where.join(" and "), params };
}

/** The ids of `range` (the primary key's index, `BINARY`). */
function inRange(range: IdRange): SqliteStatement {
  return range.high === null
    ? { sql: "execution_id >= ?", params: [range.low] }
    : { sql: "execution_id >= ? and execution_id < ?", params: [range.low, range.high] };
}

/**
 * Rows matching `f`, newest first, at most `limit`: one walk of the ordered index its equalities lead.
 *
 * @example
 * ```ts
 * import { orderedStatement } from "./execution_search.ts";
 * const s = orderedStatement({ status: "failed", cursor: { time: 5, id: "ex-9" } }, 51);
 * if (!s.sql.includes("indexed by executions_by_status") || s.params.join() !== "failed,5,ex-9,51") throw new Error(s.sql);
 * ```
 */
export function orderedStatement(f: SearchFilters, limit: number): SqliteStatement {
  const c = conditions(f);
  return {
    sql: `select * from executions indexed by ${orderedIndex(f)} where ${c.sql} ${NEWEST_FIRST} limit ?`,
    params: [...c.params, limit],
  };
}

/** How many ids `range` holds, counting at most `bound + 1` (a covering read of the primary key's index). */
export function countIdsStatement(range: IdRange, bound: number): SqliteStatement {
  const r = inRange(range);
  return {
    sql: `select count(*) as n from (select 1 from executions where ${r.sql} order by execution_id limit ?)`,
    params: [...r.params, bound + 1],
  };
}

/** Rows of `range` matching `f`, newest first, at most `limit`: the (small) range read, filtered, sorted. */
export function inIdRangeStatement(f: SearchFilters, range: IdRange, limit: number): SqliteStatement {
  const r = inRange(range);
  const c = conditions(f);
  return {
    sql: `with ids as materialized (select * from executions where ${r.sql})
      select * from ids where ${c.sql} ${NEWEST_FIRST} limit ?`,
    params: [...r.params, ...c.params, limit],
  };
}

/** The keys (start time, id) of rows matching `f`, newest first, at most `limit`: a covering index read. */
export function keysStatement(f: SearchFilters, limit: number): SqliteStatement {
  const c = conditions(f);
  return {
    sql: `select start_time, execution_id from executions indexed by ${orderedIndex(f)}
      where ${c.sql} ${NEWEST_FIRST} limit ?`,
    params: [...c.params, limit],
  };
}

/** The rows of `ids` (through the primary key). */
export function byIdsStatement(ids: readonly string[]): SqliteStatement {
  return {
    sql: "select * from executions where execution_id in (select value from json_each(?))",
    params: [jsonList(ids)],
  };
}

/** The search's statements run on `ctx`'s database. */
export function sqliteSearchStatements(ctx: SqliteContext): SearchStatements {
  const all = <T>(s: SqliteStatement) => ctx.run(() => ctx.db.all<T>(s.sql, ...s.params));
  const rows = async (s: SqliteStatement) => (await all<ExecutionRow>(s)).map(toExecution);
  return {
    ordered: (f, limit) => rows(orderedStatement(f, limit)),
    countIds: async (range, bound) => (await all<{ n: number }>(countIdsStatement(range, bound)))[0].n,
    inIdRange: (f, range, limit) => rows(inIdRangeStatement(f, range, limit)),
    keys: async (f, limit): Promise<ExecutionKey[]> =>
      (await all<{ start_time: number; execution_id: string }>(keysStatement(f, limit))).map((r) => ({
        startTime: r.start_time,
        executionId: r.execution_id,
      })),
    byIds: (ids) => rows(byIdsStatement(ids)),
  };
}
