/**
 * The execution index over SQL: the `executions` table that every append updates
 * (status, times, last sequence number, the earliest due timer), its listings and
 * counts, and retention.
 *
 * @module
 */
import type { ExecutionQuery, Page, StoredExecution } from "../records.ts";
import type { ExecutionIndex } from "../roles.ts";
import { decodeExecutionCursor, encodeExecutionCursor } from "../storage.ts";
import type { SqlContext } from "./context.ts";
import { toExecution } from "./rows.ts";

/** The `ExecutionIndex` role over SQL. */
export class SqlExecutionIndex implements ExecutionIndex {
  constructor(private readonly ctx: SqlContext) {}

  getExecution(executionId: string): Promise<StoredExecution | undefined> {
    return this.ctx.run(async () => {
      const r = await this.ctx.db.selectFrom("executions").selectAll().where("execution_id", "=", executionId)
        .executeTakeFirst();
      return r && toExecution(r);
    });
  }

  listExecutions(query: ExecutionQuery): Promise<Page<StoredExecution>> {
    return this.ctx.run(async () => {
      let q = this.ctx.db.selectFrom("executions").selectAll()
        .orderBy("start_time", "desc").orderBy("execution_id", "desc").limit(query.limit + 1);
      if (query.workflowId !== undefined) q = q.where("workflow_id", "=", query.workflowId);
      if (query.status !== undefined) q = q.where("status", "=", query.status);
      const c = query.cursor ? decodeExecutionCursor(query.cursor) : undefined;
      if (c) {
        q = q.where((eb) =>
          eb.or([
            eb("start_time", "<", c.time),
            eb.and([eb("start_time", "=", c.time), eb("execution_id", "<", c.id)]),
          ])
        );
      }
      const rows = (await q.execute()).map(toExecution);
      const items = rows.slice(0, query.limit);
      return { items, next: rows.length > query.limit ? encodeExecutionCursor(items.at(-1)!) : null };
    });
  }

  countExecutions(workflowId: string): Promise<number> {
    return this.ctx.run(async () => {
      const r = await this.ctx.db.selectFrom("executions").select((eb) => eb.fn.countAll().as("n"))
        .where("workflow_id", "=", workflowId).executeTakeFirstOrThrow();
      return Number(r.n);
    });
  }

  countRunningByShard(): Promise<Map<number, number>> {
    return this.ctx.run(async () => {
      const rows = await this.ctx.db.selectFrom("executions")
        .select((eb) => ["shard", eb.fn.countAll().as("n")])
        .where("status", "=", "running").groupBy("shard").execute();
      return new Map(rows.map((r) => [r.shard, Number(r.n)]));
    });
  }

  listRunning(shards: readonly number[]): Promise<StoredExecution[]> {
    if (shards.length === 0) return Promise.resolve([]);
    return this.ctx.run(async () =>
      (await this.ctx.db.selectFrom("executions").selectAll().where("status", "=", "running")
        .where("shard", "in", [...shards]).execute()).map(toExecution)
    );
  }

  listDueTimers(shards: readonly number[], before: number, limit: number): Promise<StoredExecution[]> {
    if (shards.length === 0) return Promise.resolve([]);
    return this.ctx.run(async () =>
      (await this.ctx.db.selectFrom("executions").selectAll().where("status", "=", "running")
        .where("next_timer_at", "is not", null).where("next_timer_at", "<=", before)
        .where("shard", "in", [...shards]).orderBy("next_timer_at").orderBy("execution_id").limit(limit)
        .execute()).map(toExecution)
    );
  }

  deleteFinishedBefore(before: number, limit: number): Promise<number> {
    return this.ctx.run(() =>
      this.ctx.db.transaction().execute(async (trx) => {
        const victims = (await trx.selectFrom("executions").select("execution_id")
          .where("status", "<>", "running").where("end_time", "<", before).orderBy("end_time").limit(limit)
          .execute()).map((r) => r.execution_id);
        if (victims.length === 0) return 0;
        await trx.deleteFrom("event_batches").where("execution_id", "in", victims).execute();
        await trx.deleteFrom("outputs").where("execution_id", "in", victims).execute();
        await trx.deleteFrom("executions").where("execution_id", "in", victims).execute();
        return victims.length;
      })
    );
  }
}
