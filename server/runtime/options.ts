/**
 * What an engine is made of and what it answers: its options, its bounds, a submission, and the errors it
 * returns as values.
 *
 * @module
 */
import type { Catalog } from "../../core/catalog_set.ts";
import type { ExecutionTrigger } from "../../core/schedule.ts";
import type { Rejection } from "../../core/decide.ts";
import type { Json } from "../../core/json.ts";
import type { ParentLink } from "../../core/events.ts";
import type { ScheduleFireWrite } from "../../storage/schedule_records.ts";
import type {
  AppendRequest,
  AppendResult,
  ExecutionIndex,
  ExecutionLog,
  ShardLeases,
  WorkflowStore,
} from "../../storage/storage.ts";
import type { Executor, NodeServices } from "../executors/executor.ts";
import type { SecretSource } from "../executors/secrets.ts";
import type { Clock } from "./clock.ts";
import type { Logger } from "./logger.ts";
import type { EngineObserver } from "./observer.ts";

/** Bounds of one engine. */
export interface EngineLimits {
  /** Records one node may emit. */
  maxRecords: number;
  /** Bytes (as JSON) one node may emit. */
  maxBytes: number;
  /** Executions live at once; a submission over it is refused with `overloaded`. */
  maxActiveExecutions: number;
  /** Node attempts running at once; more wait their turn. */
  maxConcurrentAttempts: number;
  /** Waiters on `wait()` at once. */
  maxWaiters: number;
  /**
   * How long a finished execution keeps its history (retention) when its workflow sets no `retentionMs` of
   * its own; 0 keeps it forever.
   */
  retentionMs: number;
  /** How often the maintenance sweep runs (reconcile running executions, retention). */
  sweepIntervalMs: number;
  /** Executions deleted per retention batch. */
  retentionBatch: number;
  /**
   * Local nodes run inside the append that starts them until their outputs reach this many bytes of JSON
   * (one node's output may go over); the rest run after the commit. 0 runs every node after a commit.
   */
  localBatchBytes: number;
  /** ... and for at most this long (clock ms). */
  localBatchMs: number;
  /**
   * Events one execution's history may hold: a running execution that reaches it ends failed with
   * `history_too_large` (`DecideOptions.maxHistoryEvents`), and a retry or rerun with no room is refused.
   */
  maxHistoryEvents: number;
}

/** The defaults of `EngineLimits`. */
export const DEFAULT_ENGINE_LIMITS: Readonly<EngineLimits> = Object.freeze({
  maxRecords: 100_000,
  maxBytes: 16 * 1024 * 1024,
  maxActiveExecutions: 250_000,
  maxConcurrentAttempts: 256,
  maxWaiters: 10_000,
  retentionMs: 7 * 24 * 3_600_000,
  sweepIntervalMs: 5_000,
  retentionBatch: 500,
  localBatchBytes: 1024 * 1024,
  localBatchMs: 50,
  maxHistoryEvents: 100_000,
});

/** The storage roles an engine uses: workflow versions (plans), the executions' log and index, shard leases. */
export type EngineStorage = Pick<WorkflowStore, "getWorkflow"> & ExecutionLog & ExecutionIndex & ShardLeases;

/** What an engine is made of. */
export interface EngineOptions {
  storage: EngineStorage;
  clock: Clock;
  /** A fresh unique id (execution ids without an idempotency key). */
  newId: () => string;
  executorFor: (type: string, nodeType: string) => Executor | undefined;
  services: NodeServices;
  /** The values of `{"$secret": "NAME"}` references, resolved right before an executor runs (none: no secrets). */
  secrets?: SecretSource;
  /** This node's name, the owner written into shard records. */
  nodeName: string;
  log: Logger;
  shardCount?: number;
  limits?: Partial<EngineLimits>;
  /** Where appends go: a commit group over `storage` (default: `storage` itself). */
  appender?: { append(request: AppendRequest): Promise<AppendResult> };
  /** Metrics and traces (none by default: the simulator runs without them). */
  observer?: EngineObserver;
  /** The node kinds plans are compiled against (default: the built-in ones). */
  catalog?: Catalog;
}

/** A submission of one execution. */
export interface Submission {
  /** The execution id, when the caller derived it already (routing needs it first). */
  executionId?: string;
  input: Json;
  idempotencyKey?: string;
  /** A hash of the request, compared when the idempotency key was seen before. */
  requestHash?: string;
  timeoutMs?: number;
  /**
   * Create it only if `workflow` is the latest live version as its creating append sees it (the workflow
   * came from a cache); else the submission fails with `workflow_changed` (`AppendRequest.requireLatestVersion`).
   */
  requireLatestVersion?: boolean;
  /** Why it starts (default: an API submission). */
  trigger?: ExecutionTrigger;
  /**
   * A schedule's tick that starts it: recorded by its creating append, same transaction and fence
   * (`AppendRequest.scheduleFire`); refused with `tick_recorded` (fired before) or `schedule_changed`.
   */
  scheduleFire?: ScheduleFireWrite;
  /** A child execution: the parent node that starts it (`executionId` is then the child's fixed id). */
  parent?: ParentLink;
}

/** Errors the engine returns as values; `code` is stable and maps to an HTTP status. */
export type EngineError =
  | Rejection
  | { code: "execution_not_found"; message: string }
  | { code: "node_not_found"; message: string }
  | { code: "idempotency_mismatch"; message: string; executionId: string }
  | { code: "overloaded"; message: string }
  | { code: "not_owner"; message: string }
  | { code: "conflict"; message: string }
  | { code: "execution_exists"; message: string }
  | { code: "workflow_changed"; message: string }
  | { code: "tick_recorded"; message: string }
  | { code: "schedule_changed"; message: string }
  | { code: "version_not_found"; message: string; path?: string }
  /** Retry or rerun of a child execution its parent still waits for (it would count the child's first end). */
  | { code: "parent_waiting"; message: string }
  /** The workflow's concurrency key did not evaluate to a usable key over the input (`$.input`). */
  | { code: "concurrency_key_invalid"; message: string; path?: string };

/** A result: a value or an `EngineError`. */
export type Result<T> = { ok: true; value: T } | { ok: false; error: EngineError };
