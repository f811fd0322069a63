/**
 * The execution index over SQL: the `executions` table that every append updates
 * (status, times, last sequence number, the earliest due timer), its listings
 * (`execution_search.ts`: every filter of the runs list through an index) and counts, and retention: the
 * node's (`deleteFinishedBefore`) and the workflows' own (`deleteExpired`), each through its partial index.
 *
 * @module
 */
import type { SelectQueryBuilder, Transaction } from "npm:kysely@0.29.9";
import type { ExecutionQuery, Page, StoredExecution } from "../records.ts";
import type { ExecutionIndex } from "../roles.ts";
import { searchExecutions } from "../execution_search.ts";
import type { SqlContext } from "./context.ts";
import { sqlSearchStatements } from "./execution_search.ts";
import { toExecution } from "./rows.ts";
import type { Database } from "./schema.ts";

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
    return this.ctx.run(() => searchExecutions(sqlSearchStatements(this.ctx), query));
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
    // Through the partial index executions_ended_default (its predicate spelled as the index's).
    return this.#deleteWhere((trx) =>
      trx.selectFrom("executions").select("execution_id")
        .where("status", "<>", "running").where("expires_at", "is", null).where("end_time", "<", before)
        .orderBy("end_time").limit(limit)
    );
  }

  deleteExpired(now: number, limit: number): Promise<number> {
    // Through the partial index executions_expiring.
    return this.#deleteWhere((trx) =>
      trx.selectFrom("executions").select("execution_id")
        .where("expires_at", "is not", null).where("expires_at", "<", now).where("status", "<>", "running")
        .orderBy("expires_at").limit(limit)
    );
  }

  /** Deletes the executions `victims` selects (their history, outputs and row) in one transaction. */
  #deleteWhere(
    victims: (
      trx: Transaction<Database>,
    ) => SelectQueryBuilder<Database, "executions", { execution_id: string }>,
  ): Promise<number> {
    return this.ctx.run(() =>
      this.ctx.db.transaction().execute(async (trx) => {
        const chosen = (await victims(trx).execute()).map((r) => r.execution_id);
        if (chosen.length === 0) return 0;
        // The rows first, each still ended as it is deleted (a retry that reopened one since the select keeps
        // it), then the history and outputs of those deleted.
        const ids = (await trx.deleteFrom("executions").where("execution_id", "in", chosen)
          .where("status", "<>", "running").returning("execution_id").execute()).map((r) => r.execution_id);
        if (ids.length === 0) return 0;
        await trx.deleteFrom("event_batches").where("execution_id", "in", ids).execute();
        await trx.deleteFrom("outputs").where("execution_id", "in", ids).execute();
        return ids.length;
      })
    );
  }
}
