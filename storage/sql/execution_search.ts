/**
 * The statements of an execution search on PostgreSQL (and the embedded PGlite), as `storage/execution_search.ts`
 * asks for them: each reads one index of `executions` — the ordered indexes `executions_by_workflow_status`,
 * `executions_by_workflow`, `executions_by_status` and `executions_by_time` (all `(…, start_time desc,
 * execution_id desc)`, migration 6 adding the first and third), and `executions_by_id_c` (`execution_id
 * collate "C"`, migration 6) for id prefixes. A cursor is a row comparison `(start_time, execution_id) < (…)`,
 * which the planner seeks in those indexes. Each function returns the statement unexecuted, so a test can
 * `EXPLAIN` exactly what runs.
 *
 * @module
 */
import { type Kysely, type RawBuilder, sql } from "npm:kysely@0.29.9";
import type { StoredExecution } from "../records.ts";
import type { ExecutionKey, IdRange, SearchFilters, SearchStatements } from "../execution_search.ts";
import type { SqlContext } from "./context.ts";
import { type ExecutionRow, num, toExecution } from "./rows.ts";
import type { Database } from "./schema.ts";

/** The newest first order, the ordered indexes' own. */
const NEWEST_FIRST = sql`order by start_time desc, execution_id desc`;

/** The conditions of `f` (workflow, status, window, cursor), joined by `and` (`true` for none). */
function conditions(f: SearchFilters): RawBuilder<unknown> {
  const parts: RawBuilder<unknown>[] = [];
  if (f.workflowId !== undefined) parts.push(sql`workflow_id = ${f.workflowId}`);
  if (f.status !== undefined) parts.push(sql`status = ${f.status}`);
  if (f.from !== undefined) parts.push(sql`start_time >= ${f.from}::bigint`);
  if (f.to !== undefined) parts.push(sql`start_time <= ${f.to}::bigint`);
  if (f.cursor) {
    parts.push(sql`(start_time, execution_id) < (${f.cursor.time}::bigint, ${f.cursor.id}::text)`);
  }
  return parts.length === 0 ? sql`true` : sql.join(parts, sql` and `);
}

/** The ids of `range`, in the `"C"` collation (code-point order) of the id index. */
function inRange(range: IdRange): RawBuilder<unknown> {
  const low = sql`execution_id collate "C" >= ${range.low}::text`;
  return range.high === null ? low : sql`${low} and execution_id collate "C" < ${range.high}::text`;
}

/**
 * Rows matching `f`, newest first, at most `limit`: one walk of the ordered index its equalities lead.
 *
 * @example
 * ```ts
 * import { DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler } from "npm:kysely@0.29.9";
 * import { orderedStatement } from "./execution_search.ts";
 * const db = new Kysely<unknown>({
 *   dialect: {
 *     createAdapter: () => new PostgresAdapter(),
 *     createDriver: () => new DummyDriver(),
 *     createIntrospector: (k) => new PostgresIntrospector(k),
 *     createQueryCompiler: () => new PostgresQueryCompiler(),
 *   },
 * });
 * const q = orderedStatement({ status: "failed", cursor: { time: 5, id: "ex-9" } }, 51).compile(db);
 * if (!q.sql.includes("(start_time, execution_id) < ($2::bigint, $3::text)")) throw new Error(q.sql);
 * ```
 */
export function orderedStatement(f: SearchFilters, limit: number): RawBuilder<ExecutionRow> {
  return sql<ExecutionRow>`select * from executions where ${conditions(f)} ${NEWEST_FIRST} limit ${limit}`;
}

/**
 * How many ids `range` holds, counting at most `bound + 1`: an index-only read of `executions_by_id_c` (in its
 * order, so that a prefix of most ids is not counted by a scan of the table either).
 */
export function countIdsStatement(range: IdRange, bound: number): RawBuilder<{ n: string | number }> {
  return sql<{ n: string | number }>`select count(*) as n from (select 1 from executions
    where ${inRange(range)} order by execution_id collate "C" limit ${bound + 1}) ids`;
}

/**
 * Rows of `range` matching `f`, newest first, at most `limit`: the range read through `executions_by_id_c`
 * (it holds few rows: the search counted them), then filtered and sorted.
 */
export function inIdRangeStatement(
  f: SearchFilters,
  range: IdRange,
  limit: number,
): RawBuilder<ExecutionRow> {
  return sql<ExecutionRow>`with ids as materialized (select * from executions where ${inRange(range)})
    select * from ids where ${conditions(f)} ${NEWEST_FIRST} limit ${limit}`;
}

/** The keys (start time, id) of rows matching `f`, newest first, at most `limit`: index-only. */
export function keysStatement(
  f: SearchFilters,
  limit: number,
): RawBuilder<{ start_time: string | number; execution_id: string }> {
  return sql<{ start_time: string | number; execution_id: string }>`select start_time, execution_id
    from executions where ${conditions(f)} ${NEWEST_FIRST} limit ${limit}`;
}

/** The rows of `ids` (through the primary key). */
export function byIdsStatement(ids: readonly string[]): RawBuilder<ExecutionRow> {
  return sql<ExecutionRow>`select * from executions where execution_id = any(${[...ids]}::text[])`;
}

/** The search's statements run on `ctx`'s database. */
export function sqlSearchStatements(ctx: SqlContext): SearchStatements {
  const db: Kysely<Database> = ctx.db;
  const rows = async (s: RawBuilder<ExecutionRow>): Promise<StoredExecution[]> =>
    (await s.execute(db)).rows.map(toExecution);
  return {
    ordered: (f, limit) => rows(orderedStatement(f, limit)),
    countIds: async (range, bound) => num((await countIdsStatement(range, bound).execute(db)).rows[0].n),
    inIdRange: (f, range, limit) => rows(inIdRangeStatement(f, range, limit)),
    keys: async (f, limit): Promise<ExecutionKey[]> =>
      (await keysStatement(f, limit).execute(db)).rows.map((r) => ({
        startTime: num(r.start_time),
        executionId: r.execution_id,
      })),
    byIds: (ids) => rows(byIdsStatement(ids)),
  };
}
