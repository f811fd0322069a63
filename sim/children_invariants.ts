/**
 * The invariants of child executions and steering (numbered on from `schedule_invariants.ts`):
 *
 * 9. **A child starts once**: every execution is created at most once; each item of a parent's children
 *    node attempt (parent, node, attempt, index) is created under one id only, and started (`ChildStarted`)
 *    once by its parent — checked on every accepted append as it lands. At the end, every child in storage
 *    was started by its parent under its own id.
 * 10. **No orphan**: at the end (faults healed, the run drained), every running child has a running parent
 *    that still waits for it (`core/timers.ts` `isOrphan` false); every child a running parent waits for (a
 *    `ChildStarted` more than {@link GRACE_MS} old) exists; a child that ended more than {@link GRACE_MS}
 *    before is not still awaited; a child's end the parent recorded (`ChildEnded`) has the child's status.
 * 11. **A pause holds**: between `ExecutionPaused` and `ExecutionResumed` (or a reopening) no `NodeStarted`
 *    and no `ChildStarted` is appended — checked on every accepted append and again over the stored histories;
 *    and no execution whose resume was answered `not_paused` is paused at the end.
 * 12. **Children's outputs in item order**: the stored output of a completed `foreach`/`workflow.run` node is
 *    the outputs of its children (a child's output: the records of its `memory.collect` sinks in node order;
 *    a child that did not complete gives nothing) concatenated in item order.
 *
 * @module
 */
import type { ExecutionEvent, ParentLink } from "../core/events.ts";
import { childExecutionId } from "../core/ids.ts";
import type { Json } from "../core/json.ts";
import type { ExecutionState } from "../core/state.ts";
import { isOrphan, liveChildren } from "../core/timers.ts";
import { PlanCache, replayStored } from "../server/runtime/plans.ts";
import { SIM_CATALOG } from "./custom_kinds.ts";
import type { MemoryStorage } from "../storage/memory.ts";
import type { AppendRequest, AppendResult } from "../storage/storage.ts";

/** Reports a violation of invariant `invariant`, tagged `known` when it matches a known runtime bug. */
export type Fail = (invariant: string, message: string, known?: string) => void;

/** A child or an end younger than this (virtual ms) may still be in flight at the end of a run. */
export const GRACE_MS = 5_000;

/** What the children did in a run. */
export interface ChildrenStats {
  /** Child executions created. */
  children: number;
  /** Children cancelled (their parent or its node ended first). */
  childrenCancelled: number;
  /** Parents whose children node completed (their output checked by invariant 12). */
  collected: number;
  /** Pauses and resumes appended. */
  paused: number;
  resumed: number;
  /** Executions reopened (retried or rerun). */
  reopened: number;
}

/** The key of an item of a children node attempt. */
const itemKey = (parentId: string, nodeId: string, attempt: number, index: number) =>
  `${parentId}\u0000${nodeId}\u0000${attempt}\u0000${index}`;

/** One stored execution, replayed. */
interface Stored {
  state: ExecutionState;
  events: ExecutionEvent[];
}

/**
 * The witness of children and pauses: it sees every accepted append as it lands (9, 11) and checks storage
 * at the end (9–12).
 *
 * @example
 * ```ts
 * import { ChildrenChecker } from "./children_invariants.ts";
 * const seen: string[] = [];
 * const c = new ChildrenChecker((inv, msg) => seen.push(`${inv}: ${msg}`));
 * const fence = { shard: 0, epoch: 1 };
 * const summary = {} as never;
 * const at = { v: 1, at: 0 };
 * c.checkAppend({ executionId: "e", expectedSeq: 1, fence, summary, events: [
 *   { ...at, seq: 2, type: "ExecutionPaused", reason: "x" },
 *   { ...at, seq: 3, type: "NodeStarted", nodeId: "a", attempt: 1, timeoutAt: null },
 * ] }, { ok: true } as never);
 * if (!seen[0]?.startsWith("11")) throw new Error("a node started while paused");
 * ```
 */
export class ChildrenChecker {
  /** Executions whose creating append was accepted. */
  readonly #created = new Set<string>();
  /** Item → the id it was created under. */
  readonly #childOf = new Map<string, string>();
  /** Items started by their parents (`ChildStarted`). */
  readonly #started = new Set<string>();
  /** Executions paused now, as the accepted appends say. */
  readonly #paused = new Set<string>();
  /** Executions created as children. */
  readonly #children = new Set<string>();
  readonly stats: ChildrenStats = {
    children: 0,
    childrenCancelled: 0,
    collected: 0,
    paused: 0,
    resumed: 0,
    reopened: 0,
  };

  constructor(private readonly fail: Fail) {}

  /** Invariants 9 and 11 on an accepted append. */
  checkAppend(req: AppendRequest, result: AppendResult): void {
    if (!result.ok) return;
    const id = req.executionId;
    for (const ev of req.events) {
      switch (ev.type) {
        case "ExecutionStarted":
          this.#creation(id, ev.parent);
          break;
        case "ExecutionPaused":
          this.stats.paused++;
          this.#paused.add(id);
          break;
        case "ExecutionResumed":
          this.stats.resumed++;
          this.#paused.delete(id);
          break;
        case "ExecutionReopened":
          this.stats.reopened++;
          this.#paused.delete(id);
          break;
        case "ExecutionCancelled":
          if (this.#children.has(id)) this.stats.childrenCancelled++;
          break;
        case "NodeStarted":
          if (this.#paused.has(id)) {
            this.fail("11 pause holds", `node ${ev.nodeId} of ${id} started while paused`);
          }
          break;
        case "ChildStarted":
          if (this.#paused.has(id)) {
            this.fail("11 pause holds", `child ${ev.index} of ${id}/${ev.nodeId} started while paused`);
          }
          this.#childStarted(id, ev);
          break;
      }
    }
  }

  #creation(id: string, parent: ParentLink | undefined): void {
    if (this.#created.has(id)) this.fail("9 child once", `execution ${id} was created twice`);
    this.#created.add(id);
    if (parent === undefined) return;
    this.stats.children++;
    this.#children.add(id);
    const k = itemKey(parent.executionId, parent.nodeId, parent.attempt, parent.index);
    const other = this.#childOf.get(k);
    if (other !== undefined && other !== id) {
      this.fail(
        "9 child once",
        `item ${parent.index} of ${parent.executionId}/${parent.nodeId} attempt ${parent.attempt} ` +
          `started twice: ${other}, ${id}`,
      );
    }
    this.#childOf.set(k, id);
  }

  #childStarted(id: string, ev: Extract<ExecutionEvent, { type: "ChildStarted" }>): void {
    const k = itemKey(id, ev.nodeId, ev.attempt, ev.index);
    if (this.#started.has(k)) {
      this.fail("9 child once", `${id}/${ev.nodeId} attempt ${ev.attempt} started item ${ev.index} twice`);
    }
    this.#started.add(k);
    const fixed = childExecutionId(id, ev.nodeId, ev.attempt, ev.index);
    if (ev.childId !== fixed) {
      this.fail("9 child once", `${id}/${ev.nodeId} started item ${ev.index} as ${ev.childId}, not ${fixed}`);
    }
  }

  /**
   * The end-of-run checks (9–12) over storage. `now` is the healed clocks' epoch ms: ends and starts older
   * than {@link GRACE_MS} must have had their effect. `resumedNotPaused`: executions whose resume, after a
   * pause that landed, was answered `not_paused` — none may be paused at the end (11).
   */
  async final(
    base: MemoryStorage,
    now: number,
    resumedNotPaused: ReadonlySet<string> = new Set(),
  ): Promise<void> {
    const plans = new PlanCache(base, SIM_CATALOG);
    const all = new Map<string, Stored>();
    for (const e of (await base.listExecutions({ limit: 1_000_000 })).items) {
      const events = await base.readEvents(e.executionId);
      try {
        all.set(e.executionId, { state: await replayStored(e.executionId, e, events, plans), events });
      } catch { /* invariant 3 reports a history that does not replay */ }
    }
    for (const id of resumedNotPaused) {
      const s = all.get(id);
      if (s?.state.status === "running" && s.state.paused) {
        this.fail("11 pause holds", `a resume of ${id} was answered not_paused; it stays paused`, "K5");
      }
    }
    for (const [id, s] of all) {
      this.#pausedInHistory(id, s.events);
      if (s.state.parent !== null) this.#child(id, s.state, s.state.parent, all, now);
      this.#waits(id, s, all, now);
      await this.#outputs(base, id, s, all);
    }
  }

  /** 11 over a stored history. */
  #pausedInHistory(id: string, events: readonly ExecutionEvent[]): void {
    let paused = false;
    for (const ev of events) {
      if (ev.type === "ExecutionPaused") paused = true;
      else if (ev.type === "ExecutionResumed" || ev.type === "ExecutionReopened") paused = false;
      else if (paused && (ev.type === "NodeStarted" || ev.type === "ChildStarted")) {
        this.fail("11 pause holds", `${id}: ${ev.type} (seq ${ev.seq}) while paused`);
        return;
      }
    }
  }

  /** 9 and 10 for one child: started by its parent under its id; not orphaned; its end recorded right. */
  #child(id: string, child: ExecutionState, link: ParentLink, all: Map<string, Stored>, now: number): void {
    const parent = all.get(link.executionId);
    const where = `${link.executionId}/${link.nodeId} attempt ${link.attempt} item ${link.index}`;
    if (!parent) {
      return this.fail("10 no orphan", `child ${id}: its parent ${link.executionId} is not stored`);
    }
    const started = parent.events.find((ev) =>
      ev.type === "ChildStarted" && ev.nodeId === link.nodeId && ev.attempt === link.attempt &&
      ev.index === link.index
    ) as Extract<ExecutionEvent, { type: "ChildStarted" }> | undefined;
    if (!started) return this.fail("9 child once", `child ${id} was created but ${where} was never started`);
    if (started.childId !== id) {
      return this.fail(
        "9 child once",
        `child ${id} was created for ${where}, which started ${started.childId}`,
      );
    }
    if (child.status === "running") {
      if (isOrphan(parent.state, link)) {
        this.fail("10 no orphan", `child ${id} runs but its parent no longer waits for it (${where})`);
      }
      return;
    }
    const ended = parent.events.find((ev) =>
      ev.type === "ChildEnded" && ev.nodeId === link.nodeId && ev.attempt === link.attempt &&
      ev.index === link.index
    ) as Extract<ExecutionEvent, { type: "ChildEnded" }> | undefined;
    if (ended && ended.status !== child.status) {
      this.fail("10 no orphan", `${where} recorded child ${id} ended ${ended.status}; it is ${child.status}`);
    }
    if (!ended && !isOrphan(parent.state, link) && (child.endedAt ?? now) < now - GRACE_MS) {
      this.fail("10 no orphan", `child ${id} ended ${child.status}; ${where} still waits for it`, "K3");
    }
  }

  /** 10 for one parent: the children it waits for exist (a running child it no longer waits for: `#child`). */
  #waits(id: string, s: Stored, all: Map<string, Stored>, now: number): void {
    const { keep } = liveChildren(s.state);
    for (const c of keep) {
      if (all.has(c.childId)) continue;
      const started = s.events.find((ev) =>
        ev.type === "ChildStarted" && ev.nodeId === c.nodeId && ev.attempt === c.attempt &&
        ev.index === c.index
      );
      if (started && started.at < now - GRACE_MS) {
        this.fail(
          "10 no orphan",
          `${id}/${c.nodeId} waits for child ${c.childId} (item ${c.index}), never created`,
        );
      }
    }
  }

  /** 12 for one execution's completed children nodes. */
  async #outputs(base: MemoryStorage, id: string, s: Stored, all: Map<string, Stored>): Promise<void> {
    for (const node of s.state.plan.nodes) {
      const ns = s.state.nodes[node.id];
      if (node.subflow === undefined || ns.status !== "completed" || ns.outputRef === null) continue;
      const planned = s.events.findLast((ev) =>
        ev.type === "ChildrenPlanned" && ev.nodeId === node.id && ev.attempt === ns.attempts
      ) as Extract<ExecutionEvent, { type: "ChildrenPlanned" }> | undefined;
      if (!planned) {
        this.fail("12 children order", `${id}/${node.id} completed with an output but planned no children`);
        continue;
      }
      this.stats.collected++;
      const expected: Json[] = [];
      for (let i = 0; i < planned.count; i++) {
        const childId = childExecutionId(id, node.id, ns.attempts, i);
        const child = all.get(childId);
        if (!child) {
          this.fail("12 children order", `${id}/${node.id} completed; its child ${childId} is not stored`);
          return;
        }
        if (child.state.status === "completed") expected.push(...await childOutput(base, child.state));
      }
      const actual = await base.getOutput(id, ns.outputRef);
      if (JSON.stringify(actual) !== JSON.stringify(expected)) {
        this.fail(
          "12 children order",
          `${id}/${node.id}: output ${short(actual)}, the children's outputs in order ${short(expected)}`,
        );
      }
    }
  }
}

const short = (v: unknown) => {
  const s = JSON.stringify(v) ?? "undefined";
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
};

/** A child's output: the records of its `memory.collect` sinks, in node order. */
async function childOutput(base: MemoryStorage, state: ExecutionState): Promise<Json[]> {
  const out: Json[] = [];
  for (const node of state.plan.nodes) {
    if (node.nodeType !== "memory.collect" || state.nodes[node.id].status !== "completed") continue;
    out.push(...await nodeOutput(base, state, node.id));
  }
  return out;
}

/** The records a completed node emitted: its stored output, a signal's records, or its live inputs. */
async function nodeOutput(base: MemoryStorage, state: ExecutionState, nodeId: string): Promise<Json[]> {
  const ns = state.nodes[nodeId];
  if (ns.signalRecords !== null) return ns.signalRecords;
  if (ns.outputRef !== null) return (await base.getOutput(state.executionId, ns.outputRef)) ?? [];
  const out: Json[] = [];
  for (const edge of state.plan.byId.get(nodeId)!.parents) {
    if (state.nodes[edge.source].status === "completed") {
      out.push(...await nodeOutput(base, state, edge.source));
    }
  }
  return out;
}
