/**
 * The storage interface: the contract that memory, PostgreSQL and the embedded
 * store implement, in the spirit of a Kysely dialect. It is the sum of roles, one
 * per concern (roles.ts): workflow definitions, the execution log, the execution
 * index, shard leases, the cluster registry, the cluster event log, API tokens,
 * the audit log, schedules, and the backend's lifecycle. Every write that changes an
 * execution carries the expected last sequence number and the shard's epoch (the
 * fencing token); a stale one is refused atomically, as a value.
 *
 * @module
 */
import type {
  ApiTokenStore,
  AuditLog,
  ClusterEventLog,
  ClusterRegistry,
  ExecutionIndex,
  ExecutionLog,
  ScheduleStore,
  ShardLeases,
  StorageLifecycle,
  WorkflowStore,
} from "./roles.ts";

export type {
  AppendError,
  AppendRequest,
  AppendResult,
  ClusterEvent,
  ExecutionQuery,
  Fence,
  OutputWrite,
  Page,
  PutWorkflowResult,
  ShardRecord,
  StoredExecution,
  StoredWorkflow,
} from "./records.ts";
export type {
  AuditEvent,
  AuditOutcome,
  CreateApiTokenResult,
  NewApiToken,
  StoredApiToken,
} from "./access_records.ts";
export { isLiveToken } from "./access_records.ts";
export type { WorkflowVersionInfo } from "./workflow_versions.ts";
export type {
  ScheduleDeleteResult,
  ScheduleFireWrite,
  ScheduleQuery,
  ScheduleStateWrite,
  ScheduleWriteError,
  ScheduleWriteResult,
} from "./schedule_records.ts";
export type {
  ApiTokenStore,
  AuditLog,
  ClusterEventLog,
  ClusterRegistry,
  ExecutionIndex,
  ExecutionLog,
  ScheduleStore,
  ShardLeases,
  StorageLifecycle,
  WorkflowStore,
} from "./roles.ts";

/**
 * The storage contract: every role together. Every method may reject with `StorageUnavailable` when the
 * backend is down. A component that needs less asks for the roles it uses.
 *
 * @example
 * ```ts
 * import { MemoryStorage } from "./memory.ts";
 * import type { ShardLeases, Storage } from "./storage.ts";
 *
 * // A component that only claims shards depends on that role alone.
 * async function owners(leases: ShardLeases): Promise<(string | null)[]> {
 *   return (await leases.getShards()).map((s) => s.owner);
 * }
 * const storage: Storage = new MemoryStorage();
 * await storage.claimShard(3, "node-1", 0);
 * if ((await owners(storage)).join() !== "node-1") throw new Error("one shard, owned by node-1");
 * ```
 */
export interface Storage
  extends
    WorkflowStore,
    ExecutionLog,
    ExecutionIndex,
    ShardLeases,
    ClusterRegistry,
    ClusterEventLog,
    ApiTokenStore,
    AuditLog,
    ScheduleStore,
    StorageLifecycle {}

/** The backend could not be reached; the API answers 503 and nothing is acknowledged. */
export class StorageUnavailable extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StorageUnavailable";
  }
}

/** A listing cursor that this storage did not hand out; the API answers 400. */
export class InvalidCursor extends Error {
  constructor(cursor: string) {
    super(`not a cursor of this listing: ${JSON.stringify(cursor.slice(0, 100))}`);
    this.name = "InvalidCursor";
  }
}

/** Execution listings page newest first; a cursor is the last item's `startTime:executionId`. */
export function encodeExecutionCursor(e: { startTime: number; executionId: string }): string {
  return `${e.startTime}:${e.executionId}`;
}

/** Reads an execution cursor, or throws `InvalidCursor`. */
export function decodeExecutionCursor(cursor: string): { time: number; id: string } {
  const at = cursor.indexOf(":");
  const time = Number(cursor.slice(0, at));
  if (at <= 0 || !Number.isSafeInteger(time) || at === cursor.length - 1) throw new InvalidCursor(cursor);
  return { time, id: cursor.slice(at + 1) };
}

/** The audit log pages newest first; a cursor is the last listed call's serial number. */
export function encodeAuditCursor(seq: number): string {
  return String(seq);
}

/** Reads an audit cursor, or throws `InvalidCursor`. */
export function decodeAuditCursor(cursor: string): number {
  const n = /^\d{1,15}$/.test(cursor) ? Number(cursor) : NaN;
  if (!Number.isSafeInteger(n)) throw new InvalidCursor(cursor);
  return n;
}
