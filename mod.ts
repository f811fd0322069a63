/**
 * flowmesh embedded in your own program: `createEngine` runs the engine in process (memory, an embedded
 * SQLite directory, or PostgreSQL; alone or as a member of a cluster), `defineNodeKind` adds your own node
 * kinds (their config checked by a Standard Schema such as zod's), and the engine answers in TypeScript what
 * the HTTP API answers — optionally serving that API too (`engine.serve({port})`).
 *
 * The pure core (validation, the decider, plans, views) is `./core`; the node, storages, transports and the
 * simulator are `./server`, `./storage`, `./transport` and `./sim`.
 *
 * @example
 * ```ts
 * import { createEngine, defineNodeKind } from "./mod.ts";
 *
 * const upper = defineNodeKind({
 *   type: "transform",
 *   name: "text.upper",
 *   run: (_ctx, input) => input.map((r) => String(r).toUpperCase()),
 * });
 * const engine = await createEngine({ storage: "memory", nodeKinds: [upper], log: "silent" });
 * await engine.putWorkflow({
 *   id: "hello",
 *   name: "hello",
 *   nodes: [
 *     { id: "s", type: "source", nodeType: "memory.collection", config: { data: ["a", "b"] } },
 *     { id: "u", type: "transform", nodeType: "text.upper", config: {} },
 *     { id: "k", type: "sink", nodeType: "memory.collect", config: {} },
 *   ],
 *   edges: [{ source: "s", target: "u" }, { source: "u", target: "k" }],
 * });
 * const run = await engine.execute("hello", { wait: 5000 });
 * const records = await engine.output(run.executionId, "k");
 * await engine.close();
 * if (run.status !== "completed" || records.join() !== "A,B") throw new Error(`${run.status} ${records}`);
 * ```
 *
 * @module
 */
export {
  createEngine,
  type CreateEngineOptions,
  type EmbeddedClusterOptions,
  EmbeddedEngine,
  type EngineStorageChoice,
  type ExecuteOptions,
  type ServedApi,
  type StoredWorkflowRef,
} from "./server/embedded_engine.ts";
export {
  type ConfigOf,
  defineNodeKind,
  NodeError,
  type NodeKind,
  type NodeKindContext,
  type NodeKindDefinition,
  type NodeLogger,
  type NodeSpan,
  type StandardResult,
  type StandardSchemaV1,
} from "./server/embed/node_kind.ts";
export { type ErrorDetail, FlowmeshError } from "./server/embed/in_process.ts";
export type { SubscribeOptions } from "./server/embed/subscribe.ts";
export type { ListenOptions } from "./server/deferred_http.ts";
export type { ApiCall } from "./server/embed/in_process.ts";
export type { EngineConfig } from "./server/ops/config_settings.ts";
export type { LogLevel } from "./server/ops/log.ts";
export type { Logger } from "./server/runtime/logger.ts";
export type { Json } from "./core/json.ts";
export type { WorkflowDefinition, WorkflowEdge, WorkflowNode } from "./core/workflow.ts";
export type { ExecutionView, NodeView } from "./core/view.ts";
export type {
  ChildEnded,
  ChildrenPlanned,
  ChildStarted,
  ConcurrencySlot,
  ErrorInfo,
  EventBase,
  ExecutionAdmitted,
  ExecutionCancelled,
  ExecutionEvent,
  ExecutionFailed,
  ExecutionMigrated,
  ExecutionPaused,
  ExecutionReopened,
  ExecutionResumed,
  ExecutionStarted,
  ExecutionSucceeded,
  ExecutionTerminated,
  ExecutionTimedOut,
  NodeFailed,
  NodeRetryScheduled,
  NodeScheduled,
  NodeSkipped,
  NodeStarted,
  NodeSucceeded,
  ParentLink,
  SignalReceived,
  TimerFired,
} from "./core/events.ts";
export type { Role } from "./core/cluster.ts";
export type { API_ROLES, ApiRole, ApiToken } from "./server/http/auth.ts";
export type { ExecutionStatus, ExecutionViewStatus } from "./core/state.ts";
export type { ExecutionTrigger } from "./core/schedule.ts";
export type { NodeViewStatus } from "./core/view.ts";
export type { NodeCategory, RetryPolicy, WorkflowSchedule } from "./core/workflow.ts";
