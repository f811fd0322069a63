/**
 * The invariant of the messaging nodes' at-least-once contract (numbered on from `children_invariants.ts`),
 * checked against what the fake broker (`fake_broker.ts`) saw:
 *
 * 13. **At least once, never acked early**:
 *   a. a message is acked only once the acking attempt's output is durably in its execution's history: at
 *      the commit, committed storage holds the consumer node's `NodeSucceeded` for that attempt and its
 *      stored output holds every message of the delivery;
 *   b. no message is lost: at the end every published message is acked, or available, or held by a live
 *      session (so it is delivered again if that holder lets go); every acked message is in its acking
 *      attempt's stored output and, when that execution completed, in its collected records; every
 *      producer key is `<executionId>:<nodeId>:<index>` of a stored execution's producer node, and one key
 *      always carries one value;
 *   c. the runtime settles a delivery at most once (a real adapter's `settledOnce` would hide a second call);
 *   d. the runtime settles what a live node took: at the end (the cluster converged), no delivery of a
 *      node still up is held unsettled for an execution that ended more than {@link GRACE_MS} before, and
 *      none ran into the broker's hold bound.
 *
 * @module
 */
import type { ExecutionEvent } from "../core/events.ts";
import type { Json } from "../core/json.ts";
import { PlanCache, replayStored } from "../server/runtime/plans.ts";
import { SIM_CATALOG } from "./custom_kinds.ts";
import type { MemoryStorage } from "../storage/memory.ts";
import type { Fail } from "./children_invariants.ts";
import type { BrokerCounts, BrokerWitness, FakeBroker, SimDelivery, SimMessage } from "./fake_broker.ts";

/** A delivery held this long (virtual ms) by an ended execution's live node was forgotten (13d). */
export const GRACE_MS = 5_000;

/** What the messaging nodes did in a run. */
export interface MessagingStats extends BrokerCounts {
  /** Commits checked against storage (13a). */
  acksChecked: number;
  /** Messages recorded by more than one consumer attempt (at-least-once duplicates). */
  duplicates: number;
}

/** A producer key: `<executionId>:<nodeId>:<index>`. */
const KEY = /^(.+):([^:]+):(\d+)$/;

const short = (ids: readonly string[]) => ids.length > 6 ? `${ids.slice(0, 6).join(",")},…` : ids.join(",");

/** The message ids in records of the form `{position: {id}}` (a consumer's) or `{id}` (collected). */
function idsIn(records: readonly Json[] | undefined, collected = false): Set<string> {
  const out = new Set<string>();
  for (const r of records ?? []) {
    if (r === null || typeof r !== "object" || Array.isArray(r)) continue;
    const holder = collected ? r : r.position;
    if (holder === null || typeof holder !== "object" || Array.isArray(holder)) continue;
    if (typeof holder.id === "string") out.add(holder.id);
  }
  return out;
}

/**
 * The witness of the fake broker: it checks every commit against committed storage as it happens (13a),
 * every second settle (13c), every producer key (13b), and storage and the broker at the end (13b, 13d).
 *
 * @example
 * ```ts
 * import { MessagingChecker } from "./messaging_invariants.ts";
 * import { FakeBroker } from "./fake_broker.ts";
 * import { Scheduler } from "./scheduler.ts";
 * import { MemoryStorage } from "../storage/memory.ts";
 * const seen: string[] = [];
 * const s = new Scheduler();
 * const checker = new MessagingChecker(new MemoryStorage(), (inv) => seen.push(inv));
 * const broker = new FakeBroker(s, checker.witness);
 * const client = broker.session("n1", 1, s.clock("n1")).client({ kind: "redis" });
 * const signal = new AbortController().signal;
 * await client.produce({ config: { stream: "q" }, messages: [{ key: "e:p:0", value: "1" }], signal });
 * const b = await client.consume({
 *   config: { stream: "q" }, maxMessages: 1, maxBytes: 100, maxWaitMs: 0, consumerName: "e2:take:1", signal,
 * });
 * await b.delivery.commit(); // e2's output is not in storage: an early ack
 * await checker.settledChecks();
 * if (seen[0] !== "13a ack after commit") throw new Error(seen.join());
 * ```
 */
export class MessagingChecker {
  /** Checks of commits still running (awaited at the end). */
  readonly #pending: Promise<void>[] = [];
  /** The value each producer key carried first. */
  readonly #valueOfKey = new Map<string, string>();
  #acksChecked = 0;
  #duplicates = 0;
  /** The deliveries the broker let go of after its hold bound. */
  readonly #expired: SimDelivery[] = [];

  constructor(private readonly base: MemoryStorage, private readonly fail: Fail) {}

  /** What the broker tells this checker. */
  readonly witness: BrokerWitness = {
    acked: (d, ids) => {
      if (ids.length > 0) this.#pending.push(this.#checkAck(d, ids));
    },
    settledTwice: (d, first, second) =>
      this.fail(
        "13c settled once",
        `delivery ${d.id} of ${d.consumerName} (${d.messages.map((m) => m.id).join(",") || "empty"}) ` +
          `settled twice: ${first}, then ${second}`,
      ),
    produced: (m) => this.#produced(m),
    // The runtime never settled it: 13d, reported at the end.
    expired: (d) => void this.#expired.push(d),
  };

  /** Waits for the commit checks started so far. */
  async settledChecks(): Promise<void> {
    while (this.#pending.length > 0) await this.#pending.shift();
  }

  #produced(m: SimMessage): void {
    if (!KEY.test(m.key)) {
      return this.fail(
        "13b no message lost",
        `message ${m.id} has key ${m.key}, not <execution>:<node>:<index>`,
      );
    }
    const before = this.#valueOfKey.get(m.key);
    if (before === undefined) this.#valueOfKey.set(m.key, m.value);
    else if (before !== m.value) {
      this.fail("13b no message lost", `key ${m.key} carried ${before}, then ${m.value} (${m.id})`);
    }
  }

  /** The stored output of `executionId`'s `nodeId` attempt `attempt`, if that attempt succeeded. */
  async #recorded(executionId: string, nodeId: string, attempt: number): Promise<Json[] | undefined> {
    const events = await this.base.readEvents(executionId);
    const done = events.find((e): e is Extract<ExecutionEvent, { type: "NodeSucceeded" }> =>
      e.type === "NodeSucceeded" && e.nodeId === nodeId && e.attempt === attempt
    );
    if (!done || done.outputRef === null) return undefined;
    return await this.base.getOutput(executionId, done.outputRef) ?? [];
  }

  /** 13a: at the commit, the acking attempt's output is in committed storage and holds every message. */
  async #checkAck(d: SimDelivery, ids: readonly string[]): Promise<void> {
    this.#acksChecked++;
    const a = d.acker;
    if (a === null) {
      return this.fail("13a ack after commit", `delivery ${d.id} acked by ${d.consumerName}, not an attempt`);
    }
    const where = `${a.executionId}/${a.nodeId} attempt ${a.attempt}`;
    const output = await this.#recorded(a.executionId, a.nodeId, a.attempt);
    if (output === undefined) {
      return this.fail(
        "13a ack after commit",
        `${short([...ids])} acked by ${where} (${d.node}#${d.incarnation}), whose success is not in storage`,
      );
    }
    const recorded = idsIn(output);
    const missing = ids.filter((id) => !recorded.has(id));
    if (missing.length > 0) {
      this.fail("13a ack after commit", `${short(missing)} acked by ${where}, not in its stored output`);
    }
  }

  /**
   * The end-of-run checks (13b, 13d) over the broker and storage. `now` is virtual ms; `converged`: the
   * cluster converged (every execution ended), so nothing is in flight and 13d applies.
   */
  async final(broker: FakeBroker, now: number, converged: boolean): Promise<void> {
    await this.settledChecks();
    const lost: string[] = [];
    const outputs = new Map<string, Set<string>>();
    const recordedIds = async (d: SimDelivery) => {
      const a = d.acker!;
      const k = `${a.executionId}\u0000${a.nodeId}\u0000${a.attempt}`;
      if (!outputs.has(k)) outputs.set(k, idsIn(await this.#recorded(a.executionId, a.nodeId, a.attempt)));
      return outputs.get(k)!;
    };
    const collected = new CollectedIds(this.base);
    for (const m of broker.messages) {
      if (m.state === "held" && (m.holder === null || m.holder.dropped !== null || !broker.open(m.holder))) {
        lost.push(`${m.id} (held by a closed session)`);
      } else if (m.state === "acked") {
        const d = m.ackedBy!;
        if (d.acker === null || !(await recordedIds(d)).has(m.id)) {
          lost.push(`${m.id} (acked by ${d.consumerName}, not in its stored output)`);
        } else if (!(await collected.of(d.acker.executionId)).has(m.id)) {
          lost.push(`${m.id} (acked by ${d.consumerName}; its completed execution did not collect it)`);
        }
      }
    }
    if (lost.length > 0) {
      this.fail("13b no message lost", `${lost.length} message(s) lost: ${lost.slice(0, 3).join("; ")}`);
    }
    await this.#checkKeys();
    if (converged) await this.#checkForgotten(broker, now);
    this.#duplicates = await this.#countDuplicates(broker);
  }

  /** 13b: every key names a stored execution and a producer node of its workflow. */
  async #checkKeys(): Promise<void> {
    const plans = new PlanCache(this.base, SIM_CATALOG);
    const producers = new Map<string, Set<string> | null>();
    for (const key of this.#valueOfKey.keys()) {
      const [, executionId, nodeId] = KEY.exec(key)!;
      if (!producers.has(executionId)) {
        const e = await this.base.getExecution(executionId);
        const plan = e && await plans.get(e.workflowId, e.version);
        producers.set(
          executionId,
          plan ? new Set(plan.nodes.filter((n) => n.nodeType.endsWith(".producer")).map((n) => n.id)) : null,
        );
      }
      const ids = producers.get(executionId);
      if (!ids?.has(nodeId)) {
        this.fail(
          "13b no message lost",
          `key ${key}: no producer ${nodeId} of a stored execution ${executionId}`,
        );
        return;
      }
    }
  }

  /** 13d: nothing a live node took for an ended execution stays unsettled, nor ran into the hold bound. */
  async #checkForgotten(broker: FakeBroker, now: number): Promise<void> {
    const forgotten: string[] = this.#expired.map((d) => `${d.id} of ${d.consumerName} (hold bound)`);
    const seen = new Set<SimDelivery>();
    for (const m of broker.messages) {
      const d = m.holder;
      if (m.state !== "held" || d === null || seen.has(d) || d.acker === null) continue;
      seen.add(d);
      if (d.takenAt < 0 || d.takenAt > now - GRACE_MS) continue;
      const e = await this.base.getExecution(d.acker.executionId);
      if (e && e.status !== "running") {
        forgotten.push(`${d.id} of ${d.consumerName} on ${d.node}#${d.incarnation} (execution ${e.status})`);
      }
    }
    if (forgotten.length > 0) {
      this.fail(
        "13d settled while live",
        `${forgotten.length} delivery(ies) never settled by a live node: ${forgotten.slice(0, 3).join("; ")}`,
      );
    }
  }

  /** Messages recorded by more than one consumer attempt's stored output (of the `msg-*` workflows). */
  async #countDuplicates(broker: FakeBroker): Promise<number> {
    const times = new Map<string, number>();
    const consumerNodes = new Set<string>();
    for (const m of broker.messages) if (m.ackedBy?.acker) consumerNodes.add(m.ackedBy.acker.nodeId);
    const all = (await this.base.listExecutions({ limit: 1_000_000 })).items;
    for (const e of all) {
      if (!e.workflowId.startsWith("msg-")) continue;
      for (const ev of await this.base.readEvents(e.executionId)) {
        if (ev.type !== "NodeSucceeded" || ev.outputRef === null || !consumerNodes.has(ev.nodeId)) continue;
        for (const id of idsIn(await this.base.getOutput(e.executionId, ev.outputRef))) {
          times.set(id, (times.get(id) ?? 0) + 1);
        }
      }
    }
    let n = 0;
    for (const t of times.values()) if (t > 1) n++;
    return n;
  }

  /** What the broker did and what this checker checked. */
  stats(broker: FakeBroker): MessagingStats {
    return { ...broker.counts(), acksChecked: this.#acksChecked, duplicates: this.#duplicates };
  }
}

/** The message ids a completed execution collected (its `memory.collect` nodes' records `{id}`). */
class CollectedIds {
  readonly #cache = new Map<string, Set<string> | null>();
  readonly #plans: PlanCache;

  constructor(private readonly base: MemoryStorage) {
    this.#plans = new PlanCache(base, SIM_CATALOG);
  }

  /** Every id collected when the execution completed; `ALL` (no check) when it did not. */
  async of(executionId: string): Promise<{ has(id: string): boolean }> {
    if (!this.#cache.has(executionId)) this.#cache.set(executionId, await this.#load(executionId));
    return this.#cache.get(executionId) ?? ALL;
  }

  async #load(executionId: string): Promise<Set<string> | null> {
    const e = await this.base.getExecution(executionId);
    if (!e || e.status !== "completed") return null;
    const state = await replayStored(executionId, e, await this.base.readEvents(executionId), this.#plans);
    const out = new Set<string>();
    for (const node of state.plan.nodes) {
      const ns = state.nodes[node.id];
      if (node.nodeType !== "memory.collect" || ns.status !== "completed" || ns.outputRef === null) continue;
      for (const id of idsIn(await this.base.getOutput(executionId, ns.outputRef), true)) out.add(id);
    }
    return out;
  }
}

const ALL = { has: () => true };
