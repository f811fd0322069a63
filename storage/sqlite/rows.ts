/**
 * Rows of the SQLite store turned into storage records: integers arrive as numbers, flags as 0 or 1, and
 * documents as the JSON text they were written as.
 *
 * @module
 */
import type { MemberRecord, Role } from "../../core/cluster.ts";
import type {
  FireOutcome,
  FireReason,
  Schedule,
  ScheduleFire,
  ScheduleSpec,
  ScheduleStatus,
} from "../../core/schedule.ts";
import type { ExecutionStatus } from "../../core/state.ts";
import type { WorkflowDefinition } from "../../core/workflow.ts";
import type { ShardRecord, StoredExecution, StoredWorkflow } from "../records.ts";

/** A row of `executions`. */
export interface ExecutionRow {
  execution_id: string;
  workflow_id: string;
  version: number;
  status: string;
  start_time: number;
  end_time: number | null;
  shard: number;
  last_seq: number;
  idempotency_key: string | null;
  request_hash: string | null;
  next_timer_at: number | null;
  /** When its own retention deletes it (migration 5); null or absent: the node's `--retention`. */
  expires_at?: number | null;
}

/**
 * An `executions` row as the index's record.
 *
 * @example
 * ```ts
 * import { toExecution } from "./rows.ts";
 * const e = toExecution({ execution_id: "e1", workflow_id: "w", version: 1, status: "running", start_time: 5,
 *   end_time: null, shard: 3, last_seq: 2, idempotency_key: null, request_hash: null, next_timer_at: null });
 * if (e.executionId !== "e1" || e.lastSeq !== 2) throw new Error(JSON.stringify(e));
 * ```
 */
export function toExecution(r: ExecutionRow): StoredExecution {
  return {
    executionId: r.execution_id,
    workflowId: r.workflow_id,
    version: r.version,
    status: r.status as ExecutionStatus,
    startTime: r.start_time,
    endTime: r.end_time,
    shard: r.shard,
    lastSeq: r.last_seq,
    idempotencyKey: r.idempotency_key,
    requestHash: r.request_hash,
    nextTimerAt: r.next_timer_at,
    expiresAt: r.expires_at ?? null,
  };
}

/** A row of `workflows`. */
export interface WorkflowRow {
  id: string;
  version: number;
  definition: string;
  hash: string;
  created_at: number;
}

/** A `workflows` row as a stored workflow version. */
export function toWorkflow(r: WorkflowRow): StoredWorkflow {
  return {
    id: r.id,
    version: r.version,
    definition: JSON.parse(r.definition) as WorkflowDefinition,
    hash: r.hash,
    createdAt: r.created_at,
  };
}

/** A `shards` row as a shard record. */
export function toShard(r: { shard: number; owner: string | null; epoch: number }): ShardRecord {
  return { shard: r.shard, owner: r.owner, epoch: r.epoch };
}

/** A row of `members`. */
export interface MemberRow {
  id: string;
  address: string;
  http_address: string;
  roles: string;
  joined_at: number;
  heartbeat_at: number;
  leaving: number;
}

/** A `members` row as a member record. */
export function toMember(r: MemberRow): MemberRecord {
  return {
    id: r.id,
    address: r.address,
    httpAddress: r.http_address,
    roles: r.roles === "" ? [] : r.roles.split(",") as Role[],
    joinedAt: r.joined_at,
    heartbeatAt: r.heartbeat_at,
    leaving: r.leaving !== 0,
  };
}

/** A row of `schedules`. */
export interface ScheduleRow {
  id: string;
  workflow_id: string;
  shard: number;
  spec: string;
  status: string;
  source: string;
  version: number;
  created_at: number;
  updated_at: number;
  next_tick_at: number | null;
  last_tick_at: number | null;
  last_execution_id: string | null;
  buffered_tick_at: number | null;
  runs: number;
  fire_count: number;
}

/** A `schedules` row as a schedule. */
export function toSchedule(r: ScheduleRow): Schedule {
  return {
    id: r.id,
    workflowId: r.workflow_id,
    spec: JSON.parse(r.spec) as ScheduleSpec,
    status: r.status as ScheduleStatus,
    source: r.source as Schedule["source"],
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    version: r.version,
    state: {
      nextTickAt: r.next_tick_at,
      lastTickAt: r.last_tick_at,
      lastExecutionId: r.last_execution_id,
      bufferedTickAt: r.buffered_tick_at,
      runs: r.runs,
    },
  };
}

/** A row of `schedule_fires`. */
export interface FireRow {
  schedule_id: string;
  tick_at: number;
  fired_at: number;
  outcome: string;
  reason: string;
  execution_id: string | null;
}

/** A `schedule_fires` row as a fire. */
export function toFire(r: FireRow): ScheduleFire {
  return {
    scheduleId: r.schedule_id,
    tickAt: r.tick_at,
    firedAt: r.fired_at,
    outcome: r.outcome as FireOutcome,
    reason: r.reason as FireReason,
    executionId: r.execution_id,
  };
}

/** A list of values as one JSON text, for `in (select value from json_each(?))`. */
export function jsonList(values: readonly (string | number)[]): string {
  return JSON.stringify(values);
}
