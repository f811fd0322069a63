/**
 * A durable, distributed DAG workflow engine.
 *
 * The pure core (definitions, validation, the execution decider), the storage
 * contract and its memory implementation, and the node runtime with its HTTP API.
 *
 * @example
 * ```ts
 * import { validateWorkflow } from "./mod.ts";
 * const r = validateWorkflow({ id: "w", name: "w", nodes: [], edges: [] });
 * if (r.ok || r.problems[0].code !== "empty_graph") throw new Error("an empty graph is rejected");
 * ```
 *
 * @module
 */
export * from "./core/workflow.ts";
export * from "./core/json.ts";
export * from "./core/schema.ts";
export * from "./core/catalog.ts";
export * from "./core/validate.ts";
export * from "./core/plan.ts";
export * from "./core/events.ts";
export * from "./core/state.ts";
export * from "./core/decide.ts";
export * from "./core/timers.ts";
export * from "./core/view.ts";
export * from "./core/ids.ts";
export * from "./core/policy.ts";
export * from "./core/duration.ts";
export * from "./storage/storage.ts";
export * from "./storage/memory.ts";
export * from "./server/runtime/engine.ts";
export * from "./server/ops/config.ts";
export * from "./server/start.ts";
export * from "./server/runtime/clock.ts";
export * from "./server/ops/log.ts";
export * from "./server/runtime/logger.ts";
export type * from "./server/executors/executor.ts";
export { NodeError } from "./server/executors/executor.ts";
