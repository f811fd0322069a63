/**
 * Compiled plans of workflow versions, each compiled once and kept in a bounded cache.
 *
 * @module
 */
import { BoundedCache } from "../../core/cache.ts";
import { compilePlan, type Plan } from "../../core/plan.ts";
import type { StoredWorkflow, WorkflowStore } from "../../storage/storage.ts";

/** How many compiled plans are kept. */
const PLAN_CACHE = 1000;

/** Plans by `workflowId@version`. */
export class PlanCache {
  #plans = new BoundedCache<string, Plan>(PLAN_CACHE);

  constructor(private readonly storage: Pick<WorkflowStore, "getWorkflow">) {}

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
      plan = compilePlan(stored.definition, stored.version);
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
