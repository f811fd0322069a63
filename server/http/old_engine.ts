/**
 * Words of the old engine's API that its clients still read: a workflow's `state` on the status routes.
 *
 * @module
 */

/** The old engine's workflow states: every `state` the status routes answer. */
export const OLD_STATES = ["idle", "running", "completed", "failed"] as const;

/** A workflow's state in the old engine's words. */
export type OldState = typeof OLD_STATES[number];

/**
 * A workflow's state in the old engine's four words: a latest run that ended `cancelled` or `timed_out`
 * (ends it did not have) is `failed`; `lastExecution.status` keeps the exact word.
 *
 * @example
 * ```ts
 * import { oldState } from "./old_engine.ts";
 * if (oldState("timed_out") !== "failed" || oldState("idle") !== "idle") throw new Error();
 * ```
 */
export function oldState(state: string): OldState {
  return (OLD_STATES as readonly string[]).includes(state) ? state as OldState : "failed";
}

/**
 * A status body (`{workflowId, state, ...}`) with its `state` in the old engine's words.
 *
 * @example
 * ```ts
 * import { withOldState } from "./old_engine.ts";
 * if (withOldState({ workflowId: "w", state: "cancelled" }).state !== "failed") throw new Error();
 * ```
 */
export function withOldState<T extends { state: string }>(body: T): Omit<T, "state"> & { state: OldState } {
  return { ...body, state: oldState(body.state) };
}
