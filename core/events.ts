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
  /** The event schema version (`EVENT_VERSION`) it was written with. */
  v: number;
  /** Its sequence number in the execution's history: 1, 2, … with no gaps. */
  seq: number;
  /** When it was decided, epoch ms. */
  at: number;
}

/** An error as recorded in events and shown by the API. */
export interface ErrorInfo {
  /** A stable error code (`node_timeout`, `cancelled`, `execution_timeout`, …). */
  code: string;
  /** What went wrong, for people. */
  message: string;
  /** On an execution's error: the node whose failure (or `terminate`) ended it. */
  nodeId?: string;
}

/** The first event of every execution: it started, on a workflow version, with its input. */
export interface ExecutionStarted extends EventBase {
  /** The event's type. */
  type: "ExecutionStarted";
  /** The execution's id. */
  executionId: string;
  /** The workflow it runs. */
  workflowId: string;
  /** The workflow version it started on (an `ExecutionMigrated` may move it to a newer one). */
  version: number;
  /** The execution's input. */
  input: Json;
  /** When the execution times out, epoch ms; `null`: no execution timeout. */
  timeoutAt: number | null;
  /** The idempotency key it was submitted with; `null`: none. */
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
  /** The parent execution's id. */
  executionId: string;
  /** The parent's `workflow.run` or `foreach` node that started it. */
  nodeId: string;
  /** The attempt of that node that started it. */
  attempt: number;
  /** Its item's index among that attempt's children, from 0. */
  index: number;
  /** How deep it is: 1 for a child, 2 for a grandchild, … */
  depth: number;
}
/** A concurrency key and its limit. */
export interface ConcurrencySlot {
  /** The key's value, evaluated over the execution's input. */
  key: string;
  /** At most this many runs with this key are admitted at once. */
  limit: number;
}
/** A queued execution got a slot of its concurrency key: its root nodes are scheduled. */
export interface ExecutionAdmitted extends EventBase {
  /** The event's type. */
  type: "ExecutionAdmitted";
}
/** No node starts until `ExecutionResumed`; running attempts finish. */
export interface ExecutionPaused extends EventBase {
  /** The event's type. */
  type: "ExecutionPaused";
  /** Why, as given to pause (default `paused by request`). */
  reason: string;
}
/** A paused execution goes on: its scheduled nodes may start again. */
export interface ExecutionResumed extends EventBase {
  /** The event's type. */
  type: "ExecutionResumed";
}
/**
 * An ended execution runs again (retry: its failed nodes; rerun: a node and what follows it). The `nodes`
 * are reset to pending (their attempt counts go on); the others keep their state and outputs.
 */
export interface ExecutionReopened extends EventBase {
  /** The event's type. */
  type: "ExecutionReopened";
  /** The steering that reopened it: `retry` or `rerun`. */
  mode: "retry" | "rerun";
  /** A rerun's node: it and every node after it run again. */
  fromNode?: string;
  /** The ids of the nodes reset to pending, in plan order. */
  nodes: string[];
  /** A rerun's new execution input. */
  input?: Json;
  /** The new execution timeout. */
  timeoutAt: number | null;
}
/** A live execution moved to another version of its workflow (see `Migrate`). */
export interface ExecutionMigrated extends EventBase {
  /** The event's type. */
  type: "ExecutionMigrated";
  /** The version it ran before. */
  fromVersion: number;
  /** The version it runs from now on. */
  toVersion: number;
}
/** A `foreach` or `workflow.run` attempt has read its input: `count` children will run. */
export interface ChildrenPlanned extends EventBase {
  /** The event's type. */
  type: "ChildrenPlanned";
  /** The `foreach` or `workflow.run` node. */
  nodeId: string;
  /** The node's attempt the children belong to. */
  attempt: number;
  /** How many children will run: one per item. */
  count: number;
  /** The child workflow's version every child of this attempt runs (resolved once: "latest" at planning). */
  version?: number;
}
/** A child execution is due: the runtime creates `childId` (once: the id is fixed) with item `index`. */
export interface ChildStarted extends EventBase {
  /** The event's type. */
  type: "ChildStarted";
  /** The `foreach` or `workflow.run` node that starts it. */
  nodeId: string;
  /** The node's attempt it belongs to. */
  attempt: number;
  /** Its item's index, from 0. */
  index: number;
  /** The child execution's id, derived from the parent's id, node, attempt and index. */
  childId: string;
}
/** A child execution ended. */
export interface ChildEnded extends EventBase {
  /** The event's type. */
  type: "ChildEnded";
  /** The `foreach` or `workflow.run` node that started it. */
  nodeId: string;
  /** The node's attempt it belongs to. */
  attempt: number;
  /** Its item's index, from 0. */
  index: number;
  /** The child execution's id. */
  childId: string;
  /** The child's end status (`completed`, `failed`, …); anything but `completed` counts as a failure. */
  status: string;
  /** The child's error, when it has one. */
  error?: ErrorInfo;
}
/** A `terminate` node ended the execution. */
export interface ExecutionTerminated extends EventBase {
  /** The event's type. */
  type: "ExecutionTerminated";
  /** The `terminate` node. */
  nodeId: string;
  /** The status the execution ends with. */
  status: "completed" | "failed";
  /** The `terminate` node's reason (a `failed` execution's error message). */
  reason: string;
}
/** A node is due to run: its parents are done with a live input (a root at once), or its retry is due. */
export interface NodeScheduled extends EventBase {
  /** The event's type. */
  type: "NodeScheduled";
  /** The node scheduled. */
  nodeId: string;
}
/** An attempt of a node started. */
export interface NodeStarted extends EventBase {
  /** The event's type. */
  type: "NodeStarted";
  /** The node started. */
  nodeId: string;
  /** The attempt's number, from 1. */
  attempt: number;
  /** When this attempt times out, if the node has a timeout. */
  timeoutAt: number | null;
  /** Delay nodes: when the durable timer fires. */
  wakeAt?: number;
  /** Signal nodes: the signal awaited. */
  awaitSignal?: string;
}
/** An attempt of a node completed. */
export interface NodeSucceeded extends EventBase {
  /** The event's type. */
  type: "NodeSucceeded";
  /** The node that completed. */
  nodeId: string;
  /** The attempt that completed. */
  attempt: number;
  /** Where the output records are stored; `null`: the node passes its input on (delay, signal). */
  outputRef: string | null;
  /** The records it processed (the meaning per kind is in docs/NODES.md). */
  recordsProcessed: number;
  /** The records it output. */
  recordsEmitted: number;
  /** Condition nodes: the output handle taken. */
  handle?: string;
}
/** An attempt of a node failed; a `NodeRetryScheduled` or an `ExecutionFailed` follows. */
export interface NodeFailed extends EventBase {
  /** The event's type. */
  type: "NodeFailed";
  /** The node that failed. */
  nodeId: string;
  /** The attempt that failed. */
  attempt: number;
  /** What went wrong. */
  error: ErrorInfo;
  /** Whether it may be retried: a retryable failure runs again while the node's retry policy allows. */
  retryable: boolean;
}
/** A failed node will run again at `dueAt`, after its retry policy's backoff. */
export interface NodeRetryScheduled extends EventBase {
  /** The event's type. */
  type: "NodeRetryScheduled";
  /** The node to retry. */
  nodeId: string;
  /** The attempt that will run. */
  attempt: number;
  /** When the retry is due, epoch ms. */
  dueAt: number;
}
/** A node will not run: none of its incoming edges is live. */
export interface NodeSkipped extends EventBase {
  /** The event's type. */
  type: "NodeSkipped";
  /** The node skipped. */
  nodeId: string;
  /** Why, for people. */
  reason: string;
}
/** A durable timer fired. */
export interface TimerFired extends EventBase {
  /** The event's type. */
  type: "TimerFired";
  /** Which timer: `execution-timeout`, or `retry:`, `delay:` or `node-timeout:` then `<nodeId>:<attempt>`. */
  timerId: string;
}
/** A signal arrived (`POST /api/v1/executions/{id}/signals/{name}`). */
export interface SignalReceived extends EventBase {
  /** The event's type. */
  type: "SignalReceived";
  /** The signal's name. */
  name: string;
  /** The signal's payload (`null` when none was sent). */
  payload: Json;
}
/** Every node completed or was skipped: the execution completed. */
export interface ExecutionSucceeded extends EventBase {
  /** The event's type. */
  type: "ExecutionSucceeded";
}
/** The execution failed: a node failed for good, or its history reached its bound. */
export interface ExecutionFailed extends EventBase {
  /** The event's type. */
  type: "ExecutionFailed";
  /** The error that ended it (a node's carries its `nodeId`). */
  error: ErrorInfo;
}
/** The execution was cancelled: every node not yet done ends `cancelled`. */
export interface ExecutionCancelled extends EventBase {
  /** The event's type. */
  type: "ExecutionCancelled";
  /** Why, as given (the execution's error message). */
  reason: string;
}
/** The execution's timeout passed: every node not yet done ends `cancelled`. */
export interface ExecutionTimedOut extends EventBase {
  /** The event's type. */
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
