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

  constructor(
    /** The commands taken from the inbox. */
    readonly items: Pending[],
    /** The state after every event so far (the actor's committed state until the first event). */
    public state: ExecutionState,
  ) {}

  /** Decides every item at `now`, each followed by starting the nodes it made ready. */
  decideItems(now: number): void {
    for (const item of this.items) {
      const d = decide(this.state, item.command, now);
      this.decisions.push(d);
      this.add(d, item.outputs, 0);
      this.startReady(now);
    }
  }

  /** Adds an accepted decision's events, and the outputs (of `bytes` bytes) its command carried. */
  add(d: Decision, outputs: OutputWrite[] | undefined, bytes: number): void {
    if (!d.ok || d.events.length === 0) return;
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
