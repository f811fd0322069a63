/**
 * The refusals of an append, as values: one constructor per `AppendError` code,
 * shared by every backend so that each words them alike.
 *
 * @module
 */
import type { AppendRequest, AppendResult, StoredExecution } from "./records.ts";

/** A refused append's result. */
export type Refusal = Extract<AppendResult, { ok: false }>;

/**
 * The append's fence is not the shard's epoch: another node claimed the shard since.
 *
 * @example
 * ```ts
 * import { staleEpoch } from "./refusals.ts";
 * import type { AppendRequest } from "./records.ts";
 * const req = { fence: { shard: 3, epoch: 1 } } as AppendRequest;
 * const r = staleEpoch(req, 2);
 * if (r.error.code !== "stale_epoch" || r.error.currentEpoch !== 2) throw new Error("stale at epoch 2");
 * ```
 */
export function staleEpoch(req: AppendRequest, epoch: number): Refusal {
  return {
    ok: false,
    error: {
      code: "stale_epoch",
      message: `shard ${req.fence.shard} is at epoch ${epoch}, the write carried ${req.fence.epoch}`,
      currentEpoch: epoch,
    },
  };
}

/** A create (expectedSeq 0) of an execution that exists. */
export function executionExists(req: AppendRequest, existing: StoredExecution): Refusal {
  return {
    ok: false,
    error: { code: "execution_exists", message: `execution ${req.executionId} exists`, existing },
  };
}

/** A create with `requireLatestVersion` of a version that is not the latest of a live workflow. */
export function workflowChanged(req: AppendRequest): Refusal {
  return {
    ok: false,
    error: {
      code: "workflow_changed",
      message: `workflow ${req.summary.workflowId}@${req.summary.version} is not the latest live version`,
    },
  };
}

/**
 * The execution's last sequence number is not the append's `expectedSeq`.
 * @param found How the message names what was found (default: `lastSeq`).
 */
export function sequenceConflict(
  req: AppendRequest,
  lastSeq: number,
  found: string | number = lastSeq,
): Refusal {
  return {
    ok: false,
    error: { code: "sequence_conflict", message: `expected seq ${req.expectedSeq}, found ${found}`, lastSeq },
  };
}

/** A create carrying a schedule fire whose tick (schedule id, tick time) is recorded already. */
export function tickRecorded(req: AppendRequest): Refusal {
  const fire = req.scheduleFire?.fire;
  return {
    ok: false,
    error: {
      code: "tick_recorded",
      message: `tick ${fire?.tickAt} of schedule ${fire?.scheduleId} is recorded`,
    },
  };
}

/** A create carrying a schedule fire whose schedule moved past the version decided on, or is gone. */
export function scheduleChanged(req: AppendRequest, why: string): Refusal {
  const write = req.scheduleFire;
  return {
    ok: false,
    error: {
      code: "schedule_changed",
      message: `schedule ${write?.fire.scheduleId} is not at version ${write?.expectedVersion}: ${why}`,
    },
  };
}
