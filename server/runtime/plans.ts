/**
 * Compiled plans of workflow versions, each compiled once and kept in a bounded cache.
 *
 * @module
 */
import { BoundedCache } from "../../core/cache.ts";
import { BUILTIN_CATALOG, type Catalog } from "../../core/catalog_set.ts";
import type { ExecutionEvent } from "../../core/events.ts";
import { compilePlan, type Plan } from "../../core/plan.ts";
import { type ExecutionState, historyVersions, replay } from "../../core/state.ts";
import type { StoredWorkflow, WorkflowStore } from "../../storage/storage.ts";

/** How many compiled plans are kept. */
const PLAN_CACHE = 1000;

/** Plans by `workflowId@version`. */
export class PlanCache {
  #plans = new BoundedCache<string, Plan>(PLAN_CACHE);

  constructor(
    private readonly storage: Pick<WorkflowStore, "getWorkflow">,
    private readonly catalog: Catalog = BUILTIN_CATALOG,
  ) {}

  /** The plan of a workflow version, read from storage the first time; `undefined` when it is not stored. */
  async get(workflowId: string, version: number): Promise<Plan | undefined> {
    const cached = this.#plans.get(`${workflowId}@${version}`);
    if (cached) return cached;
    const stored = await this.storage.getWorkflow(workflowId, version);
    if (!stored) return undefined;
    return this.of(stored);
  }

  /** The plan of a stored workflow version in hand. */
  of(stored: StoredWorkflow): Plan {
    const key = `${stored.id}@${stored.version}`;
    let plan = this.#plans.get(key);
    if (!plan) {
      plan = compilePlan(stored.definition, stored.version, this.catalog);
      this.#plans.set(key, plan);
    }
    return plan;
  }
}

/** Asserts an execution's workflow version was found: an execution outlives no version of its workflow. */
export function planOfExecution(
  plan: Plan | undefined,
  executionId: string,
  workflowId: string,
  version: number,
): Plan {
  if (!plan) throw new Error(`assertion: workflow ${workflowId}@${version} of ${executionId} is gone`);
  return plan;
}

/** Where the plans of workflow versions come from (a `PlanCache`). */
export interface PlanSource {
  get(workflowId: string, version: number): Promise<Plan | undefined>;
}

/**
 * Rebuilds an execution's state from its stored history: with the plan of the version it STARTED on and, for
 * a migrated execution, the plans of each version it moved to (`historyVersions`). Use it wherever a state is
 * replayed from storage: the index's `version` follows migrations, so it is not the version to start from.
 * `indexed` is the execution's index row (its workflow; its version only for a history without a start).
 *
 * @example
 * ```ts
 * import { replayStored } from "./plans.ts";
 * import { compilePlan } from "../../core/plan.ts";
 * import { decide } from "../../core/decide.ts";
 * import { initialState } from "../../core/state.ts";
 * const def = (nodes: string[]) => ({ id: "w", name: "w", edges: [], nodes: nodes.map((id) => (
 *   { id, type: "source" as const, nodeType: "memory.collection", config: { data: [1] } })) });
 * const v1 = compilePlan(def(["a"]), 1);
 * const v2 = compilePlan(def(["a", "b"]), 2);
 * const started = decide(initialState("e1", v1), { type: "Start", input: null }, 1);
 * if (!started.ok) throw new Error();
 * const paused = decide(started.state, { type: "Pause", reason: "" }, 2);
 * if (!paused.ok) throw new Error();
 * const moved = decide(paused.state, { type: "Migrate", plan: v2 }, 3);
 * if (!moved.ok) throw new Error();
 * const events = [...started.events, ...paused.events, ...moved.events];
 * const plans = { get: (_w: string, v: number) => Promise.resolve(v === 1 ? v1 : v === 2 ? v2 : undefined) };
 * // The index says version 2; the replay starts from version 1 all the same.
 * const state = await replayStored("e1", { workflowId: "w", version: 2 }, events, plans);
 * if (state.plan.version !== 2 || state.lastSeq !== moved.state.lastSeq) throw new Error("replayed");
 * ```
 */
export async function replayStored(
  executionId: string,
  indexed: { workflowId: string; version: number },
  events: readonly ExecutionEvent[],
  plans: PlanSource,
): Promise<ExecutionState> {
  const { workflowId } = indexed;
  const versions = historyVersions(events);
  if (versions.length === 0) versions.push(indexed.version);
  const byVersion = new Map<number, Plan>();
  for (const version of versions) {
    if (byVersion.has(version)) continue;
    byVersion.set(
      version,
      planOfExecution(await plans.get(workflowId, version), executionId, workflowId, version),
    );
  }
  return replay(executionId, byVersion.get(versions[0])!, events, (version) => byVersion.get(version));
}
