/**
 * The execution index in the SQLite store: the `executions` table every append updates (status, times, last
 * sequence number, the earliest due timer), its listings (`execution_search.ts`: every filter of the runs list
 * through an index) and counts, and retention: the node's (`deleteFinishedBefore`) and the workflows' own
 * (`deleteExpired`), each through its partial index.
 *
 * @module
 */
import type { ExecutionQuery, Page, StoredExecution } from "../records.ts";
import type { ExecutionIndex } from "../roles.ts";
import { searchExecutions } from "../execution_search.ts";
import type { SqliteContext } from "./context.ts";
import { sqliteSearchStatements } from "./execution_search.ts";
import { type ExecutionRow, jsonList, toExecution } from "./rows.ts";

/** The `ExecutionIndex` role over SQLite. */
export class SqliteExecutionIndex implements ExecutionIndex {
  constructor(private readonly ctx: SqliteContext) {}

  getExecution(executionId: string): Promise<StoredExecution | undefined> {
    return this.ctx.run(() => {
      const r = this.ctx.db.get<ExecutionRow>("select * from executions where execution_id = ?", executionId);
      return r && toExecution(r);
    });
  }

  listExecutions(query: ExecutionQuery): Promise<Page<StoredExecution>> {
    return searchExecutions(sqliteSearchStatements(this.ctx), query);
  }

  countExecutions(workflowId: string): Promise<number> {
    return this.ctx.run(() =>
      this.ctx.db.get<{ n: number }>(
        "select count(*) as n from executions where workflow_id = ?",
        workflowId,
      )!.n
    );
  }

  countRunningByShard(): Promise<Map<number, number>> {
    return this.ctx.run(() => {
      const rows = this.ctx.db.all<{ shard: number; n: number }>(
        "select shard, count(*) as n from executions where status = 'running' group by shard",
      );
      return new Map(rows.map((r) => [r.shard, r.n]));
    });
  }

  listRunning(shards: readonly number[]): Promise<StoredExecution[]> {
    if (shards.length === 0) return Promise.resolve([]);
    return this.ctx.run(() =>
      this.ctx.db.all<ExecutionRow>(
        "select * from executions where status = 'running' and shard in (select value from json_each(?))",
        jsonList(shards),
      ).map(toExecution)
    );
  }

  listDueTimers(shards: readonly number[], before: number, limit: number): Promise<StoredExecution[]> {
    if (shards.length === 0) return Promise.resolve([]);
    return this.ctx.run(() =>
      this.ctx.db.all<ExecutionRow>(
        `select * from executions where status = 'running' and next_timer_at is not null and next_timer_at <= ?
          and shard in (select value from json_each(?)) order by next_timer_at, execution_id limit ?`,
        before,
        jsonList(shards),
        limit,
      ).map(toExecution)
    );
  }

  deleteFinishedBefore(before: number, limit: number): Promise<number> {
    // Through the partial index executions_ended_default (its predicate spelled as the index's).
    return this.#deleteWhere(
      `select execution_id from executions where status <> 'running' and expires_at is null and end_time < ?
        order by end_time limit ?`,
      before,
      limit,
    );
  }

  deleteExpired(now: number, limit: number): Promise<number> {
    // Through the partial index executions_expiring.
    return this.#deleteWhere(
      `select execution_id from executions where expires_at is not null and expires_at < ?
        and status <> 'running' order by expires_at limit ?`,
      now,
      limit,
    );
  }

  /** Deletes the executions `select` answers (their history, outputs and row) in one write transaction. */
  #deleteWhere(select: string, bound: number, limit: number): Promise<number> {
    return this.ctx.write(() => {
      const db = this.ctx.db;
      const victims = db.all<{ execution_id: string }>(select, bound, limit).map((r) => r.execution_id);
      if (victims.length === 0) return 0;
      const list = jsonList(victims);
      db.run("delete from event_batches where execution_id in (select value from json_each(?))", list);
      db.run("delete from outputs where execution_id in (select value from json_each(?))", list);
      db.run("delete from executions where execution_id in (select value from json_each(?))", list);
      return victims.length;
    });
  }
}
