/**
 * Rows as the drivers hand them back, turned into storage records: `bigint`
 * columns arrive as strings (or numbers) and become numbers.
 *
 * @module
 */
import type { ExecutionStatus } from "../../core/state.ts";
import type { WorkflowDefinition } from "../../core/workflow.ts";
import type { ShardRecord, StoredExecution, StoredWorkflow } from "../records.ts";
import type { ExecutionsTable } from "./schema.ts";

type Row<T> = { [K in keyof T]: T[K] extends { __select__: infer S } ? S : T[K] };

/** A row of `executions` as selected. */
export type ExecutionRow = Row<ExecutionsTable>;

/** A `bigint` column's value as a number. */
export const num = (v: string | number): number => typeof v === "number" ? v : Number(v);

/** A nullable `bigint` column's value as a number or null. */
export const numOrNull = (v: string | number | null): number | null => v === null ? null : num(v);

/** An `executions` row as the index's record. */
export function toExecution(r: ExecutionRow): StoredExecution {
  return {
    executionId: r.execution_id,
    workflowId: r.workflow_id,
    version: r.version,
    status: r.status as ExecutionStatus,
    startTime: num(r.start_time as string | number),
    endTime: numOrNull(r.end_time as string | number | null),
    shard: r.shard,
    lastSeq: r.last_seq,
    idempotencyKey: r.idempotency_key,
    requestHash: r.request_hash,
    nextTimerAt: numOrNull(r.next_timer_at as string | number | null),
    expiresAt: numOrNull(r.expires_at as string | number | null),
  };
}

/** A `workflows` row as a stored workflow version. */
export function toWorkflow(
  r: { id: string; version: number; definition: unknown; hash: string; created_at: unknown },
): StoredWorkflow {
  return {
    id: r.id,
    version: r.version,
    definition: r.definition as WorkflowDefinition,
    hash: r.hash,
    createdAt: num(r.created_at as string | number),
  } satisfies StoredWorkflow;
}

/** A `shards` row as a shard record. */
export function toShard(r: { shard: number; owner: string | null; epoch: unknown }): ShardRecord {
  return { shard: r.shard, owner: r.owner, epoch: num(r.epoch as string | number) };
}
