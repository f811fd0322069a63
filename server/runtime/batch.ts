/**
 * One turn of an actor's pump: the commands taken from its inbox, decided in order on a working copy of the
 * state, with the events and outputs they produced and the local nodes' outputs staged for the same append.
 *
 * @module
 */
import { decide, type Decision } from "../../core/decide.ts";
import type { ExecutionEvent } from "../../core/events.ts";
import type { Json } from "../../core/json.ts";
import type { ExecutionState } from "../../core/state.ts";
import { pendingWork } from "../../core/timers.ts";
import type { OutputWrite } from "../../storage/storage.ts";
import type { Pending } from "./actor.ts";
import { type HoldsDelivery, settleDeliveries, type SettleFailed } from "./deliveries.ts";

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

  constructor(
    /** The commands taken from the inbox. */
    readonly items: Pending[],
    /** The state after every event so far (the actor's committed state until the first event). */
    public state: ExecutionState,
  ) {}

  /**
   * Decides every item at `now`, each followed by starting the nodes it made ready. An item whose command is
   * refused releases what it holds (`failed` is told when that rejects).
   */
  decideItems(now: number, failed: SettleFailed): void {
    for (const item of this.items) {
      const d = decide(this.state, item.command, now);
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
    for (const e of d.events) this.events.push(e);
  }

  /** Starts every node that is ready, until none is. */
  startReady(at: number): void {
    for (
      let ready = pendingWork(this.state).toStart;
      ready.length > 0;
      ready = pendingWork(this.state).toStart
    ) {
      for (const nodeId of ready) {
        this.add(decide(this.state, { type: "StartNode", nodeId }, at), undefined, 0);
      }
    }
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
