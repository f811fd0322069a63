/**
 * What the child runtime remembers per actor (`Memo`: what it did already, so that it does nothing twice),
 * and the small helpers it shares: the retry back-off and whether a plan has children nodes at all.
 *
 * @module
 */
import type { Json } from "../../core/json.ts";
import type { Plan } from "../../core/plan.ts";
import type { StoredWorkflow } from "../../storage/storage.ts";
import type { ChildResult } from "./children_inline.ts";

/** What one actor did already (per node attempt, per child), so that nothing is done twice by it. */
export interface Memo {
  /** Whether the actor's first commit was seen (children live then were started before it: a recovery). */
  seen: boolean;
  /** Node attempts expanded or collected: `x:${node}#${attempt}`, `c:${node}#${attempt}`. */
  done: Set<string>;
  /** Children whose launch this actor began, pruned to the live ones. */
  launched: Set<string>;
  /** Children this actor created or found stored, pruned to the live ones (one gone since was deleted). */
  existing: Set<string>;
  /** Children this actor cancelled, pruned to those still listed. */
  cancelled: Set<string>;
  /** Items and child workflow of expanded attempts, by `${node}#${attempt}`. */
  items: Map<string, Json[]>;
  workflows: Map<string, StoredWorkflow>;
  /** Ended children's outputs handed over by the children themselves, by child id (bounded: `stashed`). */
  results: Map<string, ChildResult>;
  stashed: number;
  /** This execution (a child) told its parent of its end. */
  reported: boolean;
  /** This execution (a child) checked that its parent waits for it (else it cancels itself). */
  parentChecked: boolean;
  /** A retry of what failed for want of storage (or of a ready engine) is armed; how many in a row. */
  retryArmed: boolean;
  retries: number;
}

/** The back-off of retries after storage threw or the engine was not ready, by retries in a row. */
export const RETRY_MS = [100, 200, 500, 1000, 2000, 5000];

/** Plans that have a children node, by plan (compiled plans are shared and immutable). */
const hasChildrenNodes = new WeakMap<Plan, boolean>();

/**
 * Whether a plan has a `workflow.run` or `foreach` node (cached per plan).
 *
 * @example
 * ```ts
 * import { withChildren } from "./children_memo.ts";
 * import { compilePlan } from "../../core/plan.ts";
 * const plan = compilePlan({ id: "w", name: "w", edges: [], nodes: [
 *   { id: "a", type: "source", nodeType: "memory.collection", config: { data: [1] } }] }, 1);
 * if (withChildren(plan)) throw new Error("no children nodes");
 * ```
 */
export function withChildren(plan: Plan): boolean {
  let has = hasChildrenNodes.get(plan);
  if (has === undefined) {
    has = plan.nodes.some((n) => n.subflow !== undefined);
    hasChildrenNodes.set(plan, has);
  }
  return has;
}

/**
 * A fresh memo: nothing done yet.
 *
 * @example
 * ```ts
 * import { newMemo } from "./children_memo.ts";
 * if (newMemo().done.size !== 0) throw new Error();
 * ```
 */
export function newMemo(): Memo {
  return {
    seen: false,
    done: new Set(),
    launched: new Set(),
    existing: new Set(),
    cancelled: new Set(),
    items: new Map(),
    workflows: new Map(),
    results: new Map(),
    stashed: 0,
    reported: false,
    parentChecked: false,
    retryArmed: false,
    retries: 0,
  };
}
