/**
 * The `CompleteNode` of an executor's result, shared by attempts run by the engine (`attempts.ts`) and by the
 * inline runner of all-local plans (`local_plan.ts`): a condition's or switch's handle checked, the output
 * stored under `${nodeId}@${attempt}`.
 *
 * @module
 */
import type { CompleteNodeCommand } from "../../core/decide.ts";
import type { PlanNode } from "../../core/plan.ts";
import { NodeError, type NodeResult } from "../executors/executor.ts";

/**
 * The command that completes attempt `attempt` of `node` with `out`, given how many records came in.
 *
 * @throws {NodeError} `condition_handle` (not retryable) when a condition or switch names no handle of its own.
 * @example
 * ```ts
 * import { completion } from "./completion.ts";
 * import { compilePlan } from "../../core/plan.ts";
 * const plan = compilePlan({ id: "w", name: "w", edges: [], nodes: [
 *   { id: "a", type: "source", nodeType: "memory.collection", config: { data: [1, 2] } }] }, 1);
 * const c = completion(plan.nodes[0], 1, { records: [1, 2] }, 0);
 * if (c.outputRef !== "a@1" || c.recordsProcessed !== 2) throw new Error();
 * ```
 */
export function completion(
  node: PlanNode,
  attempt: number,
  out: NodeResult,
  inputCount: number,
): CompleteNodeCommand {
  if (node.behaviour === "condition" && (out.handle === undefined || !node.handles.includes(out.handle))) {
    throw new NodeError("condition_handle", `condition returned handle ${out.handle}`, false);
  }
  const command: CompleteNodeCommand = {
    type: "CompleteNode",
    nodeId: node.id,
    attempt,
    outputRef: `${node.id}@${attempt}`,
    recordsProcessed: out.recordsProcessed ?? (node.type === "source" ? out.records.length : inputCount),
    recordsEmitted: out.records.length,
  };
  if (out.handle !== undefined) command.handle = out.handle;
  return command;
}
