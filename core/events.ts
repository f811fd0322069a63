/**
 * The events of an execution's append-only history. Each carries its schema
 * version `v`, its sequence number in the execution (1, 2, ...) and the time it
 * was decided (`at`, epoch ms, an input to the decider).
 *
 * @module
 */
import type { ExecutionTrigger } from "./schedule.ts";
import type { Json } from "./json.ts";

/** The schema version written into every new event. */
export const EVENT_VERSION = 1;

/** Fields every event has. */
export interface EventBase {
  v: number;
  seq: number;
  at: number;
}

/** An error as recorded in events and shown by the API. */
export interface ErrorInfo {
  code: string;
  message: string;
  nodeId?: string;
}

export interface ExecutionStarted extends EventBase {
  type: "ExecutionStarted";
  executionId: string;
  workflowId: string;
  version: number;
  input: Json;
  timeoutAt: number | null;
  idempotencyKey: string | null;
  /** Why it started, when not through the API (a schedule's tick). */
  trigger?: ExecutionTrigger;
  /** A child execution: the parent node (`workflow.run` or `foreach`) that started it. */
  parent?: ParentLink;
  /** The workflow's concurrency key, evaluated over the input, with the limit of this version. */
  concurrency?: ConcurrencySlot;
  /** Started over its key's limit: it waits, its nodes unscheduled, until `ExecutionAdmitted`. */
  queued?: true;
}
/** Where a child execution hangs: its parent's execution, node, attempt and item, and its depth (1 = a child). */
export interface ParentLink {
  executionId: string;
  nodeId: string;
  attempt: number;
  index: number;
  depth: number;
}
/** A concurrency key and its limit. */
export interface ConcurrencySlot {
  key: string;
  limit: number;
}
/** A queued execution got a slot of its concurrency key: its root nodes are scheduled. */
export interface ExecutionAdmitted extends EventBase {
  type: "ExecutionAdmitted";
}
/** No node starts until `ExecutionResumed`; running attempts finish. */
export interface ExecutionPaused extends EventBase {
  type: "ExecutionPaused";
  reason: string;
}
export interface ExecutionResumed extends EventBase {
  type: "ExecutionResumed";
}
/**
 * An ended execution runs again (retry: its failed nodes; rerun: a node and what follows it). The `nodes`
 * are reset to pending (their attempt counts go on); the others keep their state and outputs.
 */
export interface ExecutionReopened extends EventBase {
  type: "ExecutionReopened";
  mode: "retry" | "rerun";
  fromNode?: string;
  nodes: string[];
  /** A rerun's new execution input. */
  input?: Json;
  /** The new execution timeout. */
  timeoutAt: number | null;
}
/** A live execution moved to another version of its workflow (see `Migrate`). */
export interface ExecutionMigrated extends EventBase {
  type: "ExecutionMigrated";
  fromVersion: number;
  toVersion: number;
}
/** A `foreach` or `workflow.run` attempt has read its input: `count` children will run. */
export interface ChildrenPlanned extends EventBase {
  type: "ChildrenPlanned";
  nodeId: string;
  attempt: number;
  count: number;
  /** The child workflow's version every child of this attempt runs (resolved once: "latest" at planning). */
  version?: number;
}
/** A child execution is due: the runtime creates `childId` (once: the id is fixed) with item `index`. */
export interface ChildStarted extends EventBase {
  type: "ChildStarted";
  nodeId: string;
  attempt: number;
  index: number;
  childId: string;
}
/** A child execution ended. */
export interface ChildEnded extends EventBase {
  type: "ChildEnded";
  nodeId: string;
  attempt: number;
  index: number;
  childId: string;
  status: string;
  error?: ErrorInfo;
}
/** A `terminate` node ended the execution. */
export interface ExecutionTerminated extends EventBase {
  type: "ExecutionTerminated";
  nodeId: string;
  status: "completed" | "failed";
  reason: string;
}
export interface NodeScheduled extends EventBase {
  type: "NodeScheduled";
  nodeId: string;
}
export interface NodeStarted extends EventBase {
  type: "NodeStarted";
  nodeId: string;
  attempt: number;
  /** When this attempt times out, if the node has a timeout. */
  timeoutAt: number | null;
  /** Delay nodes: when the durable timer fires. */
  wakeAt?: number;
  /** Signal nodes: the signal awaited. */
  awaitSignal?: string;
}
export interface NodeSucceeded extends EventBase {
  type: "NodeSucceeded";
  nodeId: string;
  attempt: number;
  /** Where the output records are stored; `null`: the node passes its input on (delay, signal). */
  outputRef: string | null;
  recordsProcessed: number;
  recordsEmitted: number;
  /** Condition nodes: the output handle taken. */
  handle?: string;
}
export interface NodeFailed extends EventBase {
  type: "NodeFailed";
  nodeId: string;
  attempt: number;
  error: ErrorInfo;
  retryable: boolean;
}
export interface NodeRetryScheduled extends EventBase {
  type: "NodeRetryScheduled";
  nodeId: string;
  /** The attempt that will run. */
  attempt: number;
  dueAt: number;
}
export interface NodeSkipped extends EventBase {
  type: "NodeSkipped";
  nodeId: string;
  reason: string;
}
export interface TimerFired extends EventBase {
  type: "TimerFired";
  timerId: string;
}
export interface SignalReceived extends EventBase {
  type: "SignalReceived";
  name: string;
  payload: Json;
}
export interface ExecutionSucceeded extends EventBase {
  type: "ExecutionSucceeded";
}
export interface ExecutionFailed extends EventBase {
  type: "ExecutionFailed";
  error: ErrorInfo;
}
export interface ExecutionCancelled extends EventBase {
  type: "ExecutionCancelled";
  reason: string;
}
export interface ExecutionTimedOut extends EventBase {
  type: "ExecutionTimedOut";
}

/** Every event of an execution. */
export type ExecutionEvent =
  | ExecutionStarted
  | NodeScheduled
  | NodeStarted
  | NodeSucceeded
  | NodeFailed
  | NodeRetryScheduled
  | NodeSkipped
  | TimerFired
  | SignalReceived
  | ExecutionSucceeded
  | ExecutionFailed
  | ExecutionCancelled
  | ExecutionTimedOut
  | ExecutionAdmitted
  | ExecutionPaused
  | ExecutionResumed
  | ExecutionReopened
  | ExecutionMigrated
  | ChildrenPlanned
  | ChildStarted
  | ChildEnded
  | ExecutionTerminated;

/** The name of an event type. */
export type EventType = ExecutionEvent["type"];

/** An event before the decider stamps `v`, `seq` and `at` on it. */
export type EventBody = ExecutionEvent extends infer E
  ? E extends ExecutionEvent ? Omit<E, keyof EventBase> : never
  : never;
