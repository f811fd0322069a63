/**
 * Many rows of the execution index, made up and written straight into a SQL store's `executions` table (bulk,
 * for speed): what the execution-search tests and `bench/console_scale.ts` list. Row `i` is a function of `i`
 * alone, so a test can tell what any filter must find. Imported only by tests and benches.
 *
 * - ids: `ex-<md5(i)>` (32 hex digits), every tenth one `ck-<md5("k" + i % 50)>@ex-<md5(i)>` (an id routed
 *   by one of 50 concurrency keys), so `ex-` matches 90% of the rows, `ck-` 10%, a key's `ck-…@` 0.2%;
 * - workflows `wf-0` … `wf-99`, from the id's hash (about 1% each);
 * - statuses from the hash too: 1% failed, 1% running, 0.4% cancelled, 0.2% timed out, the rest completed;
 * - start times 10 ms apart, two rows each (`T0 + ⌊i / 2⌋ · 20`), so the id breaks ties.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { type Kysely, sql } from "npm:kysely@0.29.9";
import type { ExecutionStatus } from "../../core/state.ts";
import type { SqliteDatabase } from "../../storage/sqlite/database.ts";

/** The first start time. */
export const T0 = 1_800_000_000_000;

/** One made-up row. */
export interface SeedRow {
  executionId: string;
  workflowId: string;
  status: ExecutionStatus;
  startTime: number;
  endTime: number | null;
  shard: number;
}

/**
 * Row `i`.
 *
 * @example
 * ```ts
 * import { seedRow, T0 } from "./execution_rows.ts";
 * const r = seedRow(3);
 * if (!r.executionId.startsWith("ex-") || r.startTime !== T0 + 20 || seedRow(10).executionId.slice(0, 3) !== "ck-") {
 *   throw new Error(JSON.stringify(r));
 * }
 * ```
 */
export function seedRow(i: number): SeedRow {
  const hash = createHash("md5").update(String(i)).digest("hex");
  const executionId = i % 10 === 0
    ? `ck-${createHash("md5").update(`k${i % 50}`).digest("hex")}@ex-${hash}`
    : `ex-${hash}`;
  const pick = parseInt(hash.slice(4, 8), 16) % 1000;
  const status: ExecutionStatus = pick < 10
    ? "failed"
    : pick < 20
    ? "running"
    : pick < 24
    ? "cancelled"
    : pick < 26
    ? "timed_out"
    : "completed";
  const startTime = T0 + Math.floor(i / 2) * 20;
  return {
    executionId,
    workflowId: `wf-${parseInt(hash.slice(0, 4), 16) % 100}`,
    status,
    startTime,
    endTime: status === "running" ? null : startTime + 5,
    shard: i % 64,
  };
}

/** Rows `from` … `to - 1`. */
function rows(from: number, to: number): SeedRow[] {
  return Array.from({ length: to - from }, (_, k) => seedRow(from + k));
}

/** Writes rows `0 … n - 1` into a PostgreSQL store's `executions` (migrated), `batch` rows a statement. */
export async function seedPostgres(
  // deno-lint-ignore no-explicit-any
  db: Kysely<any>,
  n: number,
  batch = 20_000,
  onProgress?: (done: number) => void,
): Promise<void> {
  for (let from = 0; from < n; from += batch) {
    const part = rows(from, Math.min(n, from + batch));
    await sql`insert into executions (execution_id, workflow_id, version, status, start_time, end_time, shard,
        last_seq)
      select id, wf, 1, st, t, e, sh, 4 from unnest(${part.map((r) => r.executionId)}::text[],
        ${part.map((r) => r.workflowId)}::text[], ${part.map((r) => r.status)}::text[],
        ${part.map((r) => r.startTime)}::bigint[], ${part.map((r) => r.endTime)}::bigint[],
        ${part.map((r) => r.shard)}::int[]) as r(id, wf, st, t, e, sh)`.execute(db);
    onProgress?.(from + part.length);
  }
}

/** Writes rows `0 … n - 1` into a SQLite store's `executions` (migrated), `batch` rows a transaction. */
export function seedSqlite(
  db: SqliteDatabase,
  n: number,
  batch = 50_000,
  onProgress?: (done: number) => void,
): void {
  for (let from = 0; from < n; from += batch) {
    const part = rows(from, Math.min(n, from + batch));
    db.transaction(() => {
      for (const r of part) {
        db.run(
          `insert into executions (execution_id, workflow_id, version, status, start_time, end_time, shard,
            last_seq) values (?, ?, 1, ?, ?, ?, ?, 4)`,
          r.executionId,
          r.workflowId,
          r.status,
          r.startTime,
          r.endTime,
          r.shard,
        );
      }
    });
    onProgress?.(from + part.length);
  }
}
