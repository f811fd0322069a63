/**
 * The execution index in the SQLite store: the `executions` table every append updates (status, times, last
 * sequence number, the earliest due timer), its listings and counts, and retention.
 *
 * @module
 */
import type { ExecutionQuery, Page, StoredExecution } from "../records.ts";
import type { ExecutionIndex } from "../roles.ts";
import { decodeExecutionCursor, encodeExecutionCursor } from "../storage.ts";
import type { SqliteContext } from "./context.ts";
import type { SqlValue } from "./database.ts";
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
    return this.ctx.run(() => {
      const where: string[] = [];
      const params: SqlValue[] = [];
      if (query.workflowId !== undefined) {
        where.push("workflow_id = ?");
        params.push(query.workflowId);
      }
      if (query.status !== undefined) {
        where.push("status = ?");
        params.push(query.status);
      }
      const c = query.cursor ? decodeExecutionCursor(query.cursor) : undefined;
      if (c) {
        where.push("(start_time < ? or (start_time = ? and execution_id < ?))");
        params.push(c.time, c.time, c.id);
      }
      const clause = where.length > 0 ? `where ${where.join(" and ")}` : "";
      const rows = this.ctx.db.all<ExecutionRow>(
        `select * from executions ${clause} order by start_time desc, execution_id desc limit ?`,
        ...params,
        query.limit + 1,
      ).map(toExecution);
      const items = rows.slice(0, query.limit);
      return { items, next: rows.length > query.limit ? encodeExecutionCursor(items.at(-1)!) : null };
    });
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
    return this.ctx.write(() => {
      const db = this.ctx.db;
      const victims = db.all<{ execution_id: string }>(
        `select execution_id from executions where status <> 'running' and end_time < ?
          order by end_time limit ?`,
        before,
        limit,
      ).map((r) => r.execution_id);
      if (victims.length === 0) return 0;
      const list = jsonList(victims);
      db.run("delete from event_batches where execution_id in (select value from json_each(?))", list);
      db.run("delete from outputs where execution_id in (select value from json_each(?))", list);
      db.run("delete from executions where execution_id in (select value from json_each(?))", list);
      return victims.length;
    });
  }
}
