/**
 * One turn of an actor's pump: the commands taken from its inbox, decided in order on a working copy of the
 * state, with the events and outputs they produced and the local nodes' outputs staged for the same append.
 *
 * @module
 */
import { type Command, decide, type Decision } from "../../core/decide.ts";
import type { ExecutionEvent } from "../../core/events.ts";
import type { Json } from "../../core/json.ts";
import { type ExecutionState, workingCopy } from "../../core/state.ts";
import { pendingWork } from "../../core/timers.ts";
import type { OutputWrite } from "../../storage/storage.ts";
import type { Pending } from "./actor.ts";
import { type HoldsDelivery, settleDeliveries, type SettleFailed } from "./deliveries.ts";

/** Events after which a scheduled node may be ready though no `NodeScheduled` came with them. */
const SCAN_AFTER: ReadonlySet<string> = new Set([
  "ExecutionResumed",
  "ExecutionAdmitted",
  "ExecutionReopened",
  "ExecutionMigrated",
]);

/** The commands of one turn and what deciding them produced, not committed yet. */
export class Batch {
  /** The events to append, in order. */
  readonly events: ExecutionEvent[] = [];
  /** The records to store with them. */
  readonly outputs: OutputWrite[] = [];
  /** The decision on each item, in order. */
  readonly decisions: Decision[] = [];
  /** Outputs of this batch, not committed yet: local nodes read their inputs here first. */
  readonly staged = new Map<string, Json[]>();
  /** Bytes of the local nodes' outputs staged so far. */
  stagedBytes = 0;
  /** Items and local attempts holding what consumers took: committed once this batch's append commits. */
  readonly holders: HoldsDelivery[] = [];
  /** Of `holders`, the local attempts' (run again, not retried, when the append throws). */
  readonly localHolders: HoldsDelivery[] = [];
  /** Whether `state` is this batch's own working copy (decided on in place), not the actor's state. */
  #owned = false;
  /** Nodes the events added since the last `startReady` scheduled: they may be ready to start. */
  #scheduled: string[] = [];
  /** Whether `startReady` looks at every node: first in a batch, then after a resume, admission, reopen. */
  #scanAll = true;

  constructor(
    /** The commands taken from the inbox. */
    readonly items: Pending[],
    /** The state after every event so far (the actor's committed state until the first decision). */
    public state: ExecutionState,
    /** The bound of the execution's history (`EngineLimits.maxHistoryEvents`). */
    private readonly maxHistoryEvents?: number,
  ) {}

  /**
   * Decides a command on the batch's state. The first decision copies the committed state once; every
   * decision after it changes that copy in place (no copy of every node's state per decision: a decision
   * costs what its events cost). Add an accepted decision with `add`; `state` is then its state already.
   */
  decide(command: Command, now: number): Decision {
    if (!this.#owned) {
      this.state = workingCopy(this.state);
      this.#owned = true;
    }
    return decide(this.state, command, now, { inPlace: true, maxHistoryEvents: this.maxHistoryEvents });
  }

  /**
   * Decides every item at `now`, each followed by starting the nodes it made ready. An item whose command is
   * refused releases what it holds (`failed` is told when that rejects).
   */
  decideItems(now: number, failed: SettleFailed): void {
    for (const item of this.items) {
      const d = this.decide(item.command, now);
      this.decisions.push(d);
      if (item.delivery && !(d.ok && d.events.length > 0)) {
        // Refused (a superseded attempt): its output will never be recorded.
        settleDeliveries([item], "release", failed);
      }
      this.add(d, item.outputs, 0, item.delivery ? item : undefined);
      this.startReady(now);
    }
  }

  /**
   * Adds an accepted decision's events, the outputs (of `bytes` bytes) its command carried and the holder of
   * the delivery it took (`local`: an attempt run in this batch rather than an inbox item).
   */
  add(
    d: Decision,
    outputs: OutputWrite[] | undefined,
    bytes: number,
    holder?: HoldsDelivery,
    local = false,
  ): void {
    if (!d.ok || d.events.length === 0) return;
    if (holder?.delivery) {
      this.holders.push(holder);
      if (local) this.localHolders.push(holder);
    }
    if (outputs) {
      for (const o of outputs) {
        this.outputs.push(o);
        this.staged.set(o.ref, o.records);
      }
      this.stagedBytes += bytes;
    }
    this.state = d.state;
    for (const e of d.events) {
      this.events.push(e);
      if (e.type === "NodeScheduled") this.#scheduled.push(e.nodeId);
      else if (SCAN_AFTER.has(e.type)) this.#scanAll = true;
    }
  }

  /** Starts every node that is ready, until none is. */
  startReady(at: number): void {
    for (let ready = this.#ready(); ready.length > 0; ready = this.#ready()) {
      for (const nodeId of ready) {
        this.add(this.decide({ type: "StartNode", nodeId }, at), undefined, 0);
      }
    }
  }

  /**
   * The nodes ready to start, in plan order: `pendingWork`'s `toStart`, found from the events added since the
   * last call rather than by looking at every node each time (only a `NodeScheduled` makes a node ready, and
   * a pause holds it until a resume, after which every node is looked at).
   */
  #ready(): string[] {
    const state = this.state;
    if (this.#scanAll) {
      this.#scanAll = false;
      this.#scheduled = [];
      return pendingWork(state).toStart;
    }
    if (this.#scheduled.length === 0) return [];
    const ids = this.#scheduled;
    this.#scheduled = [];
    if (state.status !== "running" || state.paused) return [];
    const plan = state.plan.byId;
    const ready = [...new Set(ids)].filter((id) => state.nodes[id]?.status === "scheduled");
    return ready.sort((a, b) => plan.get(a)!.index - plan.get(b)!.index);
  }

  /** Asserts the events follow `lastSeq` without a gap, as the append will claim. */
  assertContinuous(lastSeq: number): void {
    for (let i = 0; i < this.events.length; i++) {
      if (this.events[i].seq !== lastSeq + 1 + i) {
        throw new Error(
          `assertion: event ${i} of an append after seq ${lastSeq} has seq ${this.events[i].seq}`,
        );
      }
    }
  }
}
