/**
 * What the child runtime (`children.ts`) tells a parent, and the child workflow it runs: the `ChildEnded` of a
 * child, the end of a children node's attempt with its gathered output, and the resolution of the workflow a
 * node names.
 *
 * @module
 */
import type { Command } from "../../core/decide.ts";
import type { ErrorInfo } from "../../core/events.ts";
import type { Json } from "../../core/json.ts";
import type { PlanNode } from "../../core/plan.ts";
import type { ExecutionState } from "../../core/state.ts";
import type { LiveChild } from "../../core/timers.ts";
import type { StoredWorkflow, WorkflowStore } from "../../storage/storage.ts";
import type { AttemptResult } from "./actor.ts";
import type { Gathered } from "./children_inline.ts";

/**
 * The child workflow of a children node: `version` (the one its planning recorded), else its pinned version,
 * else the latest; a missing one is an error that fails the node (`workflow_not_found`, `version_not_found`).
 *
 * @example
 * ```ts
 * import { resolveChildWorkflow } from "./children_commands.ts";
 * import { MemoryStorage } from "../../storage/memory.ts";
 * import { compilePlan } from "../../core/plan.ts";
 * const node = compilePlan({ id: "p", name: "p", edges: [], nodes: [
 *   { id: "run", type: "control", nodeType: "workflow.run", config: { workflow: "nope" } }] }, 1).nodes[0];
 * const r = await resolveChildWorkflow(new MemoryStorage(), node);
 * if (r.ok || r.error.code !== "workflow_not_found") throw new Error();
 * ```
 */
export async function resolveChildWorkflow(
  storage: Pick<WorkflowStore, "getWorkflow">,
  node: PlanNode,
  planned: number | null = null,
): Promise<{ ok: true; workflow: StoredWorkflow } | { ok: false; error: ErrorInfo }> {
  const { workflowId } = node.subflow!;
  const version = planned ?? node.subflow!.version;
  const workflow = await storage.getWorkflow(workflowId, version ?? undefined);
  if (workflow !== undefined) return { ok: true, workflow };
  if (version !== null && (await storage.getWorkflow(workflowId)) !== undefined) {
    return {
      ok: false,
      error: { code: "version_not_found", message: `workflow ${workflowId} has no version ${version}` },
    };
  }
  return { ok: false, error: { code: "workflow_not_found", message: `no workflow ${workflowId}` } };
}

/**
 * A non-retryable failure of a node's attempt.
 *
 * @example
 * ```ts
 * import { failNode } from "./children_commands.ts";
 * const c = failNode("each", 1, { code: "workflow_not_found", message: "no workflow w" });
 * if (c.type !== "FailNode" || c.retryable) throw new Error();
 * ```
 */
export function failNode(nodeId: string, attempt: number, error: ErrorInfo): Command & { type: "FailNode" } {
  return { type: "FailNode", nodeId, attempt, error, retryable: false };
}

/**
 * The `ChildEnded` of a child that ended with `state`.
 *
 * @example
 * ```ts
 * import { endedCommand } from "./children_commands.ts";
 * import type { ExecutionState } from "../../core/state.ts";
 * const child = { nodeId: "each", attempt: 1, index: 3, childId: "ex-1@ch-x-3" };
 * const c = endedCommand(child, { status: "failed", error: { code: "boom", message: "b" } } as ExecutionState);
 * if (c.type !== "ChildEnded" || c.index !== 3 || c.error?.code !== "boom") throw new Error();
 * ```
 */
export function endedCommand(child: LiveChild, state: ExecutionState): Command & { type: "ChildEnded" } {
  const error: ErrorInfo | null = state.error;
  return {
    type: "ChildEnded",
    nodeId: child.nodeId,
    attempt: child.attempt,
    index: child.index,
    status: state.status!,
    ...(error !== null && { error }),
  };
}

/** Refusals of a child's creation that pass (the engine not ready or busy, the shard moving): retried. */
const TRANSIENT_REFUSALS = new Set(["overloaded", "not_owner", "not_ready"]);

/**
 * The `ChildEnded` of a child whose creation was refused for good (its concurrency key does not evaluate over
 * its item, say): it counts as failed, with the refusal as its error. Undefined for a refusal that passes.
 *
 * @example
 * ```ts
 * import { refusedChild } from "./children_commands.ts";
 * const child = { nodeId: "each", attempt: 1, index: 2, childId: "ex-1@ch-x-2" };
 * const c = refusedChild(child, { code: "concurrency_key_invalid", message: "no key" });
 * if (c?.status !== "failed" || c.error?.code !== "concurrency_key_invalid") throw new Error();
 * if (refusedChild(child, { code: "overloaded", message: "busy" }) !== undefined) throw new Error();
 * ```
 */
export function refusedChild(
  child: LiveChild,
  error: { code: string; message: string },
): (Command & { type: "ChildEnded" }) | undefined {
  if (TRANSIENT_REFUSALS.has(error.code)) return undefined;
  return failedChild(child, error.code, `child ${child.childId} not created: ${error.message}`);
}

/** The `ChildEnded` of a child that counts as failed with `code`. */
function failedChild(child: LiveChild, code: string, message: string): Command & { type: "ChildEnded" } {
  return {
    type: "ChildEnded",
    nodeId: child.nodeId,
    attempt: child.attempt,
    index: child.index,
    status: "failed",
    error: { code, message },
  };
}

/**
 * The `ChildEnded` of a child its parent still waits for that is gone (it ended unheard of, and retention
 * deleted it since): it counts as failed (`child_missing`).
 *
 * @example
 * ```ts
 * import { missingChild } from "./children_commands.ts";
 * const c = missingChild({ nodeId: "each", attempt: 1, index: 0, childId: "ex-1@ch-x-0" });
 * if (c.status !== "failed" || c.error?.code !== "child_missing") throw new Error();
 * ```
 */
export function missingChild(child: LiveChild): Command & { type: "ChildEnded" } {
  const message = `child ${child.childId} ended unheard of and is gone (retention deleted it)`;
  return failedChild(child, "child_missing", message);
}

/**
 * The command (and stored records, under `${node}@${attempt}` as a task's) that ends a children node's attempt
 * with its gathered output, or fails it.
 *
 * @example
 * ```ts
 * import { completion } from "./children_commands.ts";
 * const node = { id: "each", subflow: { each: true } } as Parameters<typeof completion>[0];
 * const r = completion(node, 2, [1, 2], { ok: true, records: [10, 20], bytes: 7 });
 * if (r.command.type !== "CompleteNode" || r.outputs?.[0].ref !== "each@2") throw new Error();
 * ```
 */
export function completion(
  node: PlanNode,
  attempt: number,
  items: Json[],
  output: Gathered,
): AttemptResult {
  if (!output.ok) {
    const { code, message, retryable } = output.error;
    return {
      command: { type: "FailNode", nodeId: node.id, attempt, error: { code, message }, retryable },
      bytes: 0,
    };
  }
  const ref = `${node.id}@${attempt}`;
  const processed = node.subflow!.each ? items.length : (items[0] as Json[]).length;
  return {
    command: {
      type: "CompleteNode",
      nodeId: node.id,
      attempt,
      outputRef: ref,
      recordsProcessed: processed,
      recordsEmitted: output.records.length,
    },
    outputs: [{ ref, records: output.records }],
    bytes: output.bytes,
  };
}
