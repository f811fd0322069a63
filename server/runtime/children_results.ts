/**
 * What a parent reads back of its ended children when it collects them (`children.ts`): a child's output (the
 * records of its `memory.collect` sinks, in node order), as of its FIRST end — the end the parent counted; a
 * retry or rerun of the child afterwards changes nothing for the parent — and the failure of a node whose
 * completed child is gone (retention deleted it before the parent collected it).
 *
 * @module
 */
import type { ErrorInfo } from "../../core/events.ts";
import type { Json } from "../../core/json.ts";
import type { ExecutionState } from "../../core/state.ts";
import type { ExecutionIndex, ExecutionLog } from "../../storage/storage.ts";
import type { ExecutionActor } from "./actor.ts";
import type { AttemptRunner } from "./attempts.ts";
import type { ChildResult } from "./children_inline.ts";
import { isCollectSink } from "./local_plan.ts";
import { type PlanSource, replayStored } from "./plans.ts";

/** What reading children back needs. */
export interface ChildReadDeps {
  storage: Pick<ExecutionIndex, "getExecution"> & Pick<ExecutionLog, "readEvents">;
  plans: PlanSource;
  attempts: Pick<AttemptRunner, "outputOf">;
  /** The executions live here. */
  live: { actors: ReadonlyMap<string, ExecutionActor> };
  /** An execution's state: live, lately finished, or replayed from storage (`Engine.state`). */
  state(executionId: string): Promise<ExecutionState | undefined>;
}

/**
 * A completed execution's output: the records of its `memory.collect` sinks, in node order.
 *
 * @example
 * ```ts
 * import { collectedOutput } from "./children_results.ts";
 * import { compilePlan } from "../../core/plan.ts";
 * import { initialState } from "../../core/state.ts";
 * const plan = compilePlan({ id: "w", name: "w", edges: [], nodes: [
 *   { id: "out", type: "sink", nodeType: "memory.collect", config: {} }] }, 1);
 * const state = initialState("e", plan);
 * const done = { ...state, nodes: { out: { ...state.nodes.out, status: "completed" as const } } };
 * const attempts = { outputOf: () => Promise.resolve([1, 2]) };
 * if ((await collectedOutput(done, undefined, attempts)).join() !== "1,2") throw new Error();
 * ```
 */
export async function collectedOutput(
  state: ExecutionState,
  actor: ExecutionActor | undefined,
  attempts: Pick<AttemptRunner, "outputOf">,
): Promise<Json[]> {
  const out: Json[] = [];
  for (const node of state.plan.nodes) {
    if (!isCollectSink(node) || state.nodes[node.id].status !== "completed") continue;
    for (const r of await attempts.outputOf(state, actor, node)) out.push(r);
  }
  return out;
}

/**
 * The state of an execution at its first end, replayed from storage (its history before its first
 * `ExecutionReopened`); undefined when it is not stored.
 *
 * @example
 * ```ts
 * import { firstEndState } from "./children_results.ts";
 * import { MemoryStorage } from "../../storage/memory.ts";
 * const plans = { get: () => Promise.resolve(undefined) };
 * if (await firstEndState(new MemoryStorage(), plans, "nope") !== undefined) throw new Error();
 * ```
 */
export async function firstEndState(
  storage: ChildReadDeps["storage"],
  plans: PlanSource,
  executionId: string,
): Promise<ExecutionState | undefined> {
  const stored = await storage.getExecution(executionId);
  if (!stored) return undefined;
  const events = await storage.readEvents(executionId);
  const reopened = events.findIndex((e) => e.type === "ExecutionReopened");
  return replayStored(executionId, stored, reopened < 0 ? events : events.slice(0, reopened), plans);
}

/**
 * An ended child's status and output as its parent counted them (its first end), read back (its own
 * hand-over was lost: a reload, a recovery); undefined when the child is gone (retention deleted it).
 *
 * @example
 * ```ts
 * import { childResult } from "./children_results.ts";
 * import { MemoryStorage } from "../../storage/memory.ts";
 * const deps = { storage: new MemoryStorage(), plans: { get: () => Promise.resolve(undefined) },
 *   attempts: { outputOf: () => Promise.resolve([]) }, live: { actors: new Map() },
 *   state: () => Promise.resolve(undefined) };
 * if (await childResult(deps, "gone") !== undefined) throw new Error("a child that is gone has no result");
 * ```
 */
export async function childResult(deps: ChildReadDeps, childId: string): Promise<ChildResult | undefined> {
  let actor = deps.live.actors.get(childId);
  let state = actor?.state ?? await deps.state(childId);
  if (state !== undefined && state.reopened > 0) {
    // Retried or rerun since: its parent counted its first end.
    actor = undefined;
    state = await firstEndState(deps.storage, deps.plans, childId);
  }
  if (state === undefined) return undefined;
  if (state.status !== "completed") return { status: state.status ?? "unknown", records: [] };
  return { status: "completed", records: await collectedOutput(state, actor, deps.attempts) };
}

/**
 * Why a children node cannot gather its output: a child it counted as completed is gone (`ids[i]` has no
 * result), so its records are lost; undefined when every child gone was one counted as failed (it gives
 * nothing anyway). `failed` is how many children the node counted as failed.
 *
 * @example
 * ```ts
 * import { missingOutput } from "./children_results.ts";
 * const ok = { status: "completed", records: [1] };
 * if (missingOutput(["a", "b"], [ok, undefined], 1) !== undefined) throw new Error("b was the failure");
 * if (missingOutput(["a", "b"], [ok, undefined], 0)?.code !== "child_output_missing") throw new Error();
 * ```
 */
export function missingOutput(
  ids: readonly string[],
  results: readonly (ChildResult | undefined)[],
  failed: number,
): ErrorInfo | undefined {
  const gone = results.findIndex((r) => r === undefined);
  if (gone < 0) return undefined;
  let completed = 0, missing = 0;
  for (const r of results) {
    if (r === undefined) missing++;
    else if (r.status === "completed") completed++;
  }
  if (completed >= ids.length - failed) return undefined;
  return {
    code: "child_output_missing",
    message: `${missing} child execution(s) of this node are gone (the first: ${ids[gone]}, item ${gone}), ` +
      `a completed one among them: retention deleted it before its parent collected its output ` +
      `(keep executions longer than a parent runs)`,
  };
}
