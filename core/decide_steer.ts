/**
 * The commands that steer an execution from outside: pause and resume, retry and rerun (reopen an ended
 * execution), migrate to another version, and admit a run waiting on its concurrency key.
 *
 * @module
 */
import type { Json } from "./json.ts";
import { accept, type DecideOptions, type Decision, Emitter, nothing, reject, settleAll } from "./emitter.ts";
import type { Plan, PlanNode } from "./plan.ts";
import { topUpChildren } from "./decide_children.ts";
import { type ExecutionState, TERMINAL_STATUSES } from "./state.ts";

/** Pause: no node starts and no timer but the execution timeout fires until `Resume`. */
export interface PauseCommand {
  type: "Pause";
  reason: string;
}
/** Resume a paused execution: what waited starts, due timers fire. */
export interface ResumeCommand {
  type: "Resume";
}
/** Run an ended (failed, cancelled or timed out) execution's failed and cancelled nodes again. */
export interface RetryCommand {
  type: "Retry";
}
/** Run `fromNode` and everything downstream again, in the same execution (its upstream outputs kept). */
export interface RerunCommand {
  type: "Rerun";
  fromNode: string;
  /** A new execution input for the rerun. */
  input?: Json;
}
/** Move a live execution to another version of its workflow. */
export interface MigrateCommand {
  type: "Migrate";
  plan: Plan;
}
/** A run waiting on its concurrency key got a slot. */
export interface AdmitCommand {
  type: "Admit";
}

/** The steering commands. */
export type SteerCommand =
  | PauseCommand
  | ResumeCommand
  | RetryCommand
  | RerunCommand
  | MigrateCommand
  | AdmitCommand;

/** The nodes `from` and every node downstream of them. */
export function downstreamOf(plan: Plan, from: Iterable<string>): Set<string> {
  const out = new Set<string>();
  const work = [...from];
  while (work.length > 0) {
    const id = work.pop()!;
    if (out.has(id)) continue;
    out.add(id);
    for (const edge of plan.byId.get(id)?.children ?? []) work.push(edge.target);
  }
  return out;
}

/** The timeout of a reopened execution: as long from now as the original run had. */
function reopenedTimeout(state: ExecutionState, now: number): number | null {
  return state.timeoutMs === null ? null : now + state.timeoutMs;
}

function reopen(e: Emitter, mode: "retry" | "rerun", seeds: string[], fromNode?: string, input?: Json): void {
  const state = e.state;
  const broken = state.plan.nodes.filter((n) => {
    const s = state.nodes[n.id].status;
    return s === "failed" || s === "cancelled";
  }).map((n) => n.id);
  const reset = downstreamOf(state.plan, [...seeds, ...broken]);
  const nodes = state.plan.nodes.filter((n) => reset.has(n.id)).map((n) => n.id);
  e.emit({
    type: "ExecutionReopened",
    mode,
    ...(fromNode !== undefined && { fromNode }),
    nodes,
    ...(input !== undefined && { input }),
    timeoutAt: reopenedTimeout(state, e.now),
  });
  // A run with a concurrency key waits for a slot again (the state says queued); others go on at once.
  if (!e.state.queued) settleAll(e);
}

/** Whether a children node runs the same sub-workflow, the same way, over the same parents. */
function sameChildren(a: PlanNode, b: PlanNode): boolean {
  const parents = (n: PlanNode) =>
    n.parents.map((p) => `${p.source}\u0000${p.sourceHandle ?? ""}`).join("\u0001");
  return JSON.stringify(a.subflow) === JSON.stringify(b.subflow) && parents(a) === parents(b);
}

/** Why a migration to `plan` is refused: a node that ran (or runs) is gone or changed kind. */
export function migrationProblems(
  state: ExecutionState,
  plan: Plan,
): { path: string; code: string; message: string }[] {
  const problems: { path: string; code: string; message: string }[] = [];
  if (plan.workflowId !== state.plan.workflowId) {
    problems.push({ path: "$.version", code: "workflow_mismatch", message: "another workflow's version" });
  } else if (plan.version <= state.plan.version) {
    problems.push({
      path: "$.version",
      code: "version_not_newer",
      message: `version ${plan.version} is not newer than ${state.plan.version}`,
    });
  }
  for (const old of state.plan.nodes) {
    const status = state.nodes[old.id].status;
    if (status === "pending" || status === "skipped") continue;
    const next = plan.byId.get(old.id);
    if (next === undefined) {
      problems.push({
        path: `$.nodes.${old.id}`,
        code: "node_removed",
        message: `node ${old.id} is ${status} in this execution and version ${plan.version} removed it`,
      });
    } else if (next.type !== old.type || next.nodeType !== old.nodeType) {
      problems.push({
        path: `$.nodes.${old.id}`,
        code: "node_kind_changed",
        message: `node ${old.id} is ${status} as ${old.type}/${old.nodeType}; version ${plan.version} ` +
          `makes it ${next.type}/${next.nodeType}`,
      });
    } else if (status !== "completed" && old.subflow !== undefined && !sameChildren(old, next)) {
      problems.push({
        path: `$.nodes.${old.id}`,
        code: "node_running_changed",
        message:
          `node ${old.id} is ${status} with its children; version ${plan.version} changes what it runs ` +
          `or what feeds it`,
      });
    } else if (next.signalName !== old.signalName && status !== "completed") {
      problems.push({
        path: `$.nodes.${old.id}`,
        code: "node_signal_changed",
        message: `node ${old.id} waits for signal ${old.signalName}; version ${plan.version} renames it`,
      });
    }
  }
  return problems;
}

/**
 * Decides a steering command on a started execution.
 *
 * @example
 * ```ts
 * import { decideSteer } from "./decide_steer.ts";
 * import { decide } from "./decide.ts";
 * import { compilePlan } from "./plan.ts";
 * import { initialState } from "./state.ts";
 * const plan = compilePlan({ id: "w", name: "w", nodes: [
 *   { id: "a", type: "source", nodeType: "memory.collection", config: { data: [1] } }], edges: [] }, 1);
 * const started = decide(initialState("e1", plan), { type: "Start", input: null }, 1000);
 * if (!started.ok) throw new Error();
 * const paused = decideSteer(started.state, { type: "Pause", reason: "look" }, 1001);
 * if (!paused.ok || !paused.state.paused) throw new Error("paused");
 * ```
 */
export function decideSteer(
  state: ExecutionState,
  command: SteerCommand,
  now: number,
  opts: DecideOptions = {},
): Decision {
  const terminal = state.status !== null && TERMINAL_STATUSES.has(state.status);
  const id = state.executionId;
  switch (command.type) {
    case "Retry":
    case "Rerun": {
      if (!terminal) return reject("execution_running", `execution ${id} is still ${state.status}`);
      if (command.type === "Retry" && state.status === "completed") {
        return reject("execution_not_failed", `execution ${id} completed: there is nothing to retry`);
      }
      if (opts.maxHistoryEvents !== undefined && state.lastSeq + 1 >= opts.maxHistoryEvents) {
        return reject(
          "history_too_large",
          `execution ${id} holds ${state.lastSeq} events, its bound is ${opts.maxHistoryEvents}: ` +
            "no room to run again",
        );
      }
      const e = new Emitter(state, now, undefined, opts);
      // A run a `terminate` node failed has no failed node: the terminate node is what runs again.
      const terminator = state.error?.code === "terminated" ? state.error.nodeId : undefined;
      if (command.type === "Retry") reopen(e, "retry", terminator === undefined ? [] : [terminator]);
      else {
        if (!state.plan.byId.has(command.fromNode)) {
          return reject("node_unknown", `no node ${command.fromNode} in ${state.plan.workflowId}`, {
            path: "$.fromNode",
          });
        }
        reopen(e, "rerun", [command.fromNode], command.fromNode, command.input);
      }
      return accept(e);
    }
    default:
      break;
  }
  if (terminal) {
    if (command.type === "Admit") return nothing(state);
    return reject("execution_terminal", `execution ${id} is already ${state.status}`);
  }
  const e = new Emitter(
    state,
    now,
    command.type === "Migrate" ? planOfCommand(command.plan) : undefined,
    opts,
  );
  switch (command.type) {
    case "Pause":
      if (state.paused) return reject("already_paused", `execution ${id} is already paused`);
      e.emit({ type: "ExecutionPaused", reason: command.reason });
      return accept(e);
    case "Resume":
      if (!state.paused) return reject("not_paused", `execution ${id} is not paused`);
      e.emit({ type: "ExecutionResumed" });
      for (const node of state.plan.nodes) if (node.subflow !== undefined) topUpChildren(e, node);
      return accept(e);
    case "Admit":
      if (!state.queued) return nothing(state);
      e.emit({ type: "ExecutionAdmitted" });
      settleAll(e);
      return accept(e);
    case "Migrate": {
      const problems = migrationProblems(state, command.plan);
      if (problems.length > 0) {
        return reject("migration_refused", problems.map((p) => p.message).join("; "), {
          path: "$.version",
          details: problems,
        });
      }
      e.emit({ type: "ExecutionMigrated", fromVersion: state.plan.version, toVersion: command.plan.version });
      if (!e.state.queued) settleAll(e);
      return accept(e);
    }
  }
}

function planOfCommand(plan: Plan) {
  return (version: number) => (version === plan.version ? plan : undefined);
}
