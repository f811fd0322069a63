/**
 * The simulator's broker: a deterministic, in-memory stand-in for Kafka / NATS / RabbitMQ / Redis Streams
 * behind the messaging nodes (`server/executors/broker.ts` `BrokerClient`), on virtual time only.
 *
 * - Queues of messages with ids (`m1`, `m2`, … in publication order), named by the node's target and its
 *   `stream` / `queue` / `topic` / `subject`.
 * - A consume takes up to `maxMessages` available messages (oldest first, stopping before one that would pass
 *   `maxBytes`), waits up to `maxWaitMs` on the node's clock for more, and holds them for the consumer
 *   (the node incarnation and its `consumerName`) until the delivery is settled: `commit` acks them
 *   (recording which execution, node and attempt did), `release` makes them available again. An aborted
 *   consume gives back what it took and throws.
 * - Each node incarnation talks to the broker through its own session (its connection): when the incarnation
 *   dies (a crash, a leave), the session closes and whatever it held becomes available again, as a real
 *   broker does when a connection closes or an ack deadline passes; a settle after that fails. A delivery
 *   left unsettled for {@link DELIVERY_HOLD_MS} gives itself back (the bound `settledOnce` puts on real ones).
 * - A producer appends messages (no de-duplication by key) and the keys are handed to the witness.
 *
 * Every move is told to a {@link BrokerWitness} (invariant 13, `messaging_invariants.ts`), including a second
 * settle of one delivery by the runtime, which a real adapter's `settledOnce` would hide.
 *
 * @example
 * ```ts
 * import { FakeBroker } from "./fake_broker.ts";
 * import { Scheduler } from "./scheduler.ts";
 * const s = new Scheduler();
 * const acked: string[] = [];
 * const broker = new FakeBroker(s, { acked: (_d, ids) => acked.push(...ids) });
 * const client = broker.session("n1", 1, s.clock("n1")).client({ kind: "redis" });
 * const signal = new AbortController().signal;
 * await client.produce({ config: { stream: "q" }, messages: [{ key: "e:p:0", value: "1" }], signal });
 * const batch = await client.consume({
 *   config: { stream: "q" }, maxMessages: 5, maxBytes: 1_000, maxWaitMs: 0,
 *   consumerName: "e2:take:1", signal,
 * });
 * await batch.delivery.commit();
 * if (acked.join() !== "m1" || broker.counts().acked !== 1) throw new Error();
 * ```
 *
 * @module
 */
import {
  type BrokerClient,
  type BrokerTarget,
  type ConsumedBatch,
  type ConsumeRequest,
  type Delivery,
  DELIVERY_HOLD_MS,
  type ProduceRequest,
} from "../server/executors/broker.ts";
import { NodeError } from "../server/executors/executor.ts";
import type { Clock, TimerHandle } from "../server/runtime/clock.ts";
import type { Scheduler } from "./scheduler.ts";

/** Where a message is: waiting for a consumer, held by one, or acknowledged. */
export type MessageState = "available" | "held" | "acked";

/** The consumer attempt a delivery was taken for (parsed from `<executionId>:<nodeId>:<attempt>`). */
export interface Acker {
  executionId: string;
  nodeId: string;
  attempt: number;
}

/** One message in a queue. */
export interface SimMessage {
  id: string;
  queue: string;
  key: string;
  value: string;
  state: MessageState;
  /** The delivery holding it (state `held`). */
  holder: SimDelivery | null;
  /** How many times it was handed to a consumer. */
  deliveries: number;
  /** The delivery that acked it (state `acked`), and when. */
  ackedBy: SimDelivery | null;
  ackedAt: number | null;
}

/** One consume's batch, as the broker keeps it. */
export interface SimDelivery {
  id: number;
  /** The node incarnation (session) that took it. */
  node: string;
  incarnation: number;
  consumerName: string;
  acker: Acker | null;
  messages: SimMessage[];
  /** Virtual ms when the consume returned it (-1 while still taking). */
  takenAt: number;
  /** The runtime's first settle; null: not settled by the runtime. */
  settled: "commit" | "release" | null;
  /** The runtime's settle calls (more than one: invariant 13c). */
  calls: number;
  /** The broker let go of it itself: its session closed, its hold bound passed, its consume was aborted. */
  dropped: "closed" | "expired" | "aborted" | null;
}

/** Who watches the broker (the messaging invariants); every method is optional. */
export interface BrokerWitness {
  /** A commit acked `ids` (every message the delivery held). */
  acked?(delivery: SimDelivery, ids: string[]): void;
  /** The runtime settled `delivery` again (`first` was its first settle). */
  settledTwice?(delivery: SimDelivery, first: string, second: string): void;
  /** A producer appended a message. */
  produced?(message: SimMessage): void;
  /** The broker gave `delivery` back after its hold bound: the runtime never settled it. */
  expired?(delivery: SimDelivery): void;
  /** A line for the run's trace. */
  trace?(line: string): void;
}

/** What the broker did in a run. */
export interface BrokerCounts {
  published: number;
  /** Deliveries handed out with at least one message. */
  deliveries: number;
  /** Messages handed out (redeliveries included). */
  delivered: number;
  acked: number;
  /** Messages given back by a release. */
  released: number;
  /** Messages given back because their session closed (the node died). */
  closed: number;
  /** Messages given back by the hold bound. */
  expired: number;
  /** Messages handed out more than once. */
  redelivered: number;
  /** At the end: available, held. */
  available: number;
  held: number;
}

/** A consume waiting for messages. */
interface Waiter {
  /** Takes what arrived; finishes when full. */
  poke(): void;
  /** The session closed: forget it (the incarnation is dead; its promise never settles). */
  drop(): void;
}

interface Queue {
  name: string;
  messages: SimMessage[];
  waiters: Set<Waiter>;
}

/**
 * The consumer attempt a consumer name `<executionId>:<nodeId>:<attempt>` names (null: another form).
 *
 * @example
 * ```ts
 * import { parseConsumerName } from "./fake_broker.ts";
 * const a = parseConsumerName("sched@1:x:take:2");
 * if (a?.executionId !== "sched@1:x" || a.nodeId !== "take" || a.attempt !== 2) throw new Error();
 * ```
 */
export function parseConsumerName(name: string): Acker | null {
  const m = /^(.+):([^:]+):(\d+)$/.exec(name);
  return m ? { executionId: m[1], nodeId: m[2], attempt: Number(m[3]) } : null;
}

/** The queue a node's config names on its target. */
function queueName(target: BrokerTarget, config: Record<string, unknown>): string {
  const name = config.stream ?? config.queue ?? config.topic ?? config.subject ?? config.routingKey;
  return `${target.kind}/${target.connection ?? target.url ?? "default"}/${String(name)}`;
}

const utf8 = new TextEncoder();

/** The broker of a run. */
export class FakeBroker {
  readonly #queues = new Map<string, Queue>();
  readonly #sessions = new Map<string, Session>();
  readonly #messages: SimMessage[] = [];
  #nextMessage = 0;
  #nextDelivery = 0;
  readonly #counts = { deliveries: 0, delivered: 0, released: 0, closed: 0, expired: 0 };

  constructor(
    private readonly scheduler: Scheduler,
    readonly witness: BrokerWitness = {},
    /** How long a delivery may stay unsettled before it gives itself back. */
    readonly holdMs: number = DELIVERY_HOLD_MS,
  ) {}

  /** Opens the session (connection) of incarnation `incarnation` of `node`, timed by its clock. */
  session(node: string, incarnation: number, clock: Clock): Session {
    const s = new Session(this, node, incarnation, clock);
    this.#sessions.set(`${node}#${incarnation}`, s);
    return s;
  }

  /** The incarnation died: its session closes and what it held is available again. */
  disconnect(node: string, incarnation: number): void {
    const s = this.#sessions.get(`${node}#${incarnation}`);
    if (!s || s.closed) return;
    s.closed = true;
    for (const w of [...s.waiters]) w.drop();
    if (s.held.size > 0) this.#trace(`broker ${node}#${incarnation} closed holding ${s.held.size}`);
    for (const d of [...s.held]) this.#drop(d, "closed");
  }

  /** Every message published so far, in order. */
  get messages(): readonly SimMessage[] {
    return this.#messages;
  }

  /** Whether the session that took `d` is still open. */
  open(d: SimDelivery): boolean {
    return this.#sessions.get(`${d.node}#${d.incarnation}`)?.closed === false;
  }

  /** What the broker did, and where the messages are now. */
  counts(): BrokerCounts {
    let acked = 0, available = 0, held = 0, redelivered = 0;
    for (const m of this.#messages) {
      if (m.state === "acked") acked++;
      else if (m.state === "available") available++;
      else held++;
      if (m.deliveries > 1) redelivered++;
    }
    return { published: this.#messages.length, ...this.#counts, acked, redelivered, available, held };
  }

  #trace(line: string): void {
    this.witness.trace?.(line);
  }

  #queue(name: string): Queue {
    let q = this.#queues.get(name);
    if (!q) this.#queues.set(name, q = { name, messages: [], waiters: new Set() });
    return q;
  }

  /** Wakes the consumes waiting on `q` (in the order they started). */
  #wake(q: Queue): void {
    for (const w of [...q.waiters]) w.poke();
  }

  /** Appends the messages of a produce. */
  produce(s: Session, target: BrokerTarget, req: ProduceRequest): Promise<void> {
    if (s.closed) return Promise.reject(new NodeError("broker_unreachable", "connection closed", true));
    if (req.signal.aborted) return Promise.reject(req.signal.reason);
    const q = this.#queue(queueName(target, req.config));
    for (const out of req.messages) {
      const m: SimMessage = {
        id: `m${++this.#nextMessage}`,
        queue: q.name,
        key: out.key,
        value: out.value,
        state: "available",
        holder: null,
        deliveries: 0,
        ackedBy: null,
        ackedAt: null,
      };
      q.messages.push(m);
      this.#messages.push(m);
      this.witness.produced?.(m);
    }
    this.#trace(`broker ${s.node} produced ${req.messages.length} to ${q.name} (${this.#nextMessage})`);
    this.#wake(q);
    return Promise.resolve();
  }

  /** Takes a batch for a consumer (see the module's text). */
  consume(s: Session, target: BrokerTarget, req: ConsumeRequest): Promise<ConsumedBatch> {
    if (s.closed) return Promise.reject(new NodeError("broker_unreachable", "connection closed", true));
    if (req.signal.aborted) return Promise.reject(req.signal.reason);
    const q = this.#queue(queueName(target, req.config));
    const d: SimDelivery = {
      id: ++this.#nextDelivery,
      node: s.node,
      incarnation: s.incarnation,
      consumerName: req.consumerName,
      acker: parseConsumerName(req.consumerName),
      messages: [],
      takenAt: -1,
      settled: null,
      calls: 0,
      dropped: null,
    };
    s.held.add(d);
    return new Promise((resolve, reject) => {
      let bytes = 0, full = false, done = false;
      let timer: TimerHandle | null = null;
      const take = () => {
        for (const m of q.messages) {
          if (d.messages.length >= req.maxMessages) break;
          if (m.state !== "available") continue;
          const size = utf8.encode(m.value).length;
          if (bytes + size > req.maxBytes) {
            full = true;
            break;
          }
          bytes += size;
          m.state = "held";
          m.holder = d;
          m.deliveries++;
          d.messages.push(m);
        }
        if (d.messages.length >= req.maxMessages) full = true;
      };
      const stop = () => {
        done = true;
        q.waiters.delete(waiter);
        s.waiters.delete(waiter);
        if (timer !== null) s.clock.clearTimer(timer);
        req.signal.removeEventListener("abort", onAbort);
      };
      const finish = () => {
        if (done) return;
        stop();
        resolve(this.#handOut(s, d));
      };
      const onAbort = () => {
        if (done) return;
        stop();
        this.#drop(d, "aborted");
        reject(req.signal.reason ?? new Error("consume aborted"));
      };
      const waiter: Waiter = {
        poke: () => {
          if (done) return;
          take();
          if (full) finish();
        },
        drop: stop,
      };
      take();
      if (full || req.maxWaitMs <= 0) return finish();
      q.waiters.add(waiter);
      s.waiters.add(waiter);
      timer = s.clock.setTimer(req.maxWaitMs, finish);
      req.signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** A consume returns: the batch, its hold bound armed, and the delivery the runtime settles. */
  #handOut(s: Session, d: SimDelivery): ConsumedBatch {
    d.takenAt = this.scheduler.now;
    if (d.messages.length > 0) {
      this.#counts.deliveries++;
      this.#counts.delivered += d.messages.length;
    }
    this.#trace(`broker ${s.node} delivery ${d.id} to ${d.consumerName}: ${ids(d)}`);
    const hold = s.clock.setTimer(this.holdMs, () => {
      if (d.settled !== null || d.dropped !== null) return;
      this.#drop(d, "expired");
      this.witness.expired?.(d);
    });
    const settle = (how: "commit" | "release") => (): Promise<void> => {
      d.calls++;
      if (d.settled !== null) {
        this.witness.settledTwice?.(d, d.settled, how);
        return Promise.resolve();
      }
      d.settled = how;
      if (d.dropped === "closed") return Promise.reject(new Error("broker connection closed"));
      if (d.dropped !== null) return Promise.resolve(); // given back already: nothing left to settle
      s.clock.clearTimer(hold);
      s.held.delete(d);
      if (how === "commit") this.#ack(d);
      else this.#giveBack(d, "released");
      return Promise.resolve();
    };
    const delivery: Delivery = { commit: settle("commit"), release: settle("release") };
    return {
      messages: d.messages.map((m) => ({
        value: m.value,
        key: m.key,
        position: { queue: m.queue, id: m.id },
      })),
      delivery,
    };
  }

  #ack(d: SimDelivery): void {
    for (const m of d.messages) {
      m.state = "acked";
      m.holder = null;
      m.ackedBy = d;
      m.ackedAt = this.scheduler.now;
    }
    this.#trace(`broker commit ${d.id} by ${d.consumerName}: ${ids(d)}`);
    this.witness.acked?.(d, d.messages.map((m) => m.id));
  }

  /** The broker lets go of `d` itself. */
  #drop(d: SimDelivery, why: "closed" | "expired" | "aborted"): void {
    d.dropped = why;
    this.#sessions.get(`${d.node}#${d.incarnation}`)?.held.delete(d);
    this.#giveBack(d, why === "aborted" ? "released" : why);
  }

  /** `d`'s messages are available again (the first in line get them). */
  #giveBack(d: SimDelivery, why: "released" | "closed" | "expired"): void {
    const wake = new Set<Queue>();
    for (const m of d.messages) {
      if (m.holder !== d) continue;
      m.state = "available";
      m.holder = null;
      this.#counts[why]++;
      wake.add(this.#queue(m.queue));
    }
    if (d.messages.length > 0) this.#trace(`broker ${why} ${d.id} of ${d.consumerName}: ${ids(d)}`);
    for (const q of wake) this.#wake(q);
  }
}

const ids = (d: SimDelivery) => d.messages.map((m) => m.id).join(",") || "-";

/**
 * One node incarnation's connection to the broker: what its consumers hold goes back when it closes
 * (`FakeBroker.disconnect`).
 *
 * @example
 * ```ts
 * import { FakeBroker } from "./fake_broker.ts";
 * import { Scheduler } from "./scheduler.ts";
 * const s = new Scheduler();
 * const broker = new FakeBroker(s);
 * const session = broker.session("n1", 1, s.clock("n1"));
 * const client = session.client({ kind: "nats" });
 * const signal = new AbortController().signal;
 * await client.produce({ config: { subject: "q" }, messages: [{ key: "e:p:0", value: "x" }], signal });
 * await client.consume({
 *   config: { subject: "q" }, maxMessages: 1, maxBytes: 10, maxWaitMs: 0, consumerName: "e:c:1", signal,
 * });
 * broker.disconnect("n1", 1); // a crash: the message is available again
 * if (broker.counts().available !== 1 || broker.counts().closed !== 1) throw new Error();
 * ```
 */
export class Session {
  closed = false;
  /** Deliveries taken (or being taken) and not settled. */
  readonly held = new Set<SimDelivery>();
  /** Consumes waiting for messages. */
  readonly waiters = new Set<Waiter>();

  constructor(
    private readonly broker: FakeBroker,
    readonly node: string,
    readonly incarnation: number,
    readonly clock: Clock,
  ) {}

  /** The client a messaging node gets for `target` (`NodeServices.broker`). */
  client(target: BrokerTarget): BrokerClient {
    return {
      consume: (req) => this.broker.consume(this, target, req),
      produce: (req) => this.broker.produce(this, target, req),
    };
  }
}
