/**
 * An in-process transport: a `MemoryNetwork` hub and one `MemoryTransport` per node, for tests and the
 * deterministic simulator. Delivery is asynchronous through an injected scheduler, and faults come from
 * hooks: partitions (symmetric or one-way), node disconnects, and a per-envelope `decide` hook that drops,
 * duplicates or delays. Nothing in here is random: the hooks bring the randomness.
 *
 * Fault model, mirroring the WebSocket transport:
 * - `disconnect(node)` breaks the node's connections: peer-down events fire on both sides, envelopes in
 *   flight are lost, and new sends wait in the senders' bounded queues until `reconnect(node)` (peer-up
 *   events, then the queues flush in order).
 * - `partition(a, b)` / `partitionOneWay(from, to)` black-hole traffic without telling anyone (as a
 *   network partition does before heartbeats notice): envelopes sent or in flight across it are lost.
 *   `heal` restores delivery of later envelopes.
 *
 * @module
 */

import {
  DEFAULT_MAX_QUEUE,
  type Envelope,
  ENVELOPE_VERSION,
  type MessageHandler,
  type PeerHandler,
  type Transport,
  TransportHandlers,
  type TransportLogger,
  type TransportStats,
} from "./transport.ts";

/** What the network does with one envelope (all fields optional: deliver once, without delay). */
export interface Decision {
  /** Lose the envelope. */
  drop?: boolean;
  /** Deliver it twice. */
  duplicate?: boolean;
  /** Deliver it after this many milliseconds (may reorder envelopes). */
  delayMs?: number;
}

/** Runs `fn` later. The default is `setTimeout(fn, delayMs)`; the simulator injects its own. */
export type Scheduler = (fn: () => void, delayMs: number) => void;

/** Options of a `MemoryNetwork`. */
export interface MemoryNetworkOptions {
  /** Schedules deliveries and peer events; `setTimeout`-like by default. */
  schedule?: Scheduler;
  /** Decides the fate of each envelope handed to the network (drop/duplicate/delay). */
  decide?: (envelope: Envelope) => Decision;
  /** Default bound of each per-peer queue (envelopes waiting or in flight); 10,000. */
  maxQueue?: number;
  /** Where unknown envelope versions and throwing handlers are reported; `console.warn` by default. */
  logger?: TransportLogger;
}

/** Network-level counters of a `MemoryNetwork`. */
export interface MemoryNetworkStats {
  /** Envelopes delivered to a receiver (duplicates included). */
  delivered: number;
  /** Envelopes lost: dropped by `decide`, black-holed by a partition, or in flight over a broken link. */
  lost: number;
  /** Extra copies made by `decide`. */
  duplicated: number;
}

const consoleLogger: TransportLogger = { warn: (m, f) => console.warn(m, f ?? {}) };

/**
 * The hub connecting in-memory nodes.
 *
 * @example
 * ```ts
 * import { MemoryNetwork } from "./memory.ts";
 * const queue: (() => void)[] = [];
 * const net = new MemoryNetwork({ schedule: (fn) => queue.push(fn) });
 * const a = net.join("a"), b = net.join("b");
 * const got: unknown[] = [];
 * b.onMessage((e) => got.push(e.body));
 * a.send({ v: 1, from: "a", to: "b", type: "t", body: 42 });
 * while (queue.length > 0) queue.shift()!();
 * if (got[0] !== 42) throw new Error("delivered when the scheduler ran");
 * await net.close();
 * ```
 */
export class MemoryNetwork {
  /** The per-envelope fault hook; may be replaced at any time. */
  decide: ((envelope: Envelope) => Decision) | undefined;
  readonly #schedule: Scheduler;
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  readonly #maxQueue: number;
  readonly #logger: TransportLogger;
  readonly #nodes = new Map<string, MemoryTransport>();
  readonly #known = new Set<string>();
  readonly #disconnected = new Set<string>();
  readonly #blocked = new Set<string>();
  readonly #epoch = new Map<string, number>();
  readonly #stats: MemoryNetworkStats = { delivered: 0, lost: 0, duplicated: 0 };

  /** An empty network; nodes join with `join`. */
  constructor(options: MemoryNetworkOptions = {}) {
    this.decide = options.decide;
    this.#maxQueue = options.maxQueue ?? DEFAULT_MAX_QUEUE;
    this.#logger = options.logger ?? consoleLogger;
    this.#schedule = options.schedule ?? ((fn, delayMs) => {
      const handle = setTimeout(() => {
        this.#timers.delete(handle);
        fn();
      }, Math.max(0, delayMs));
      this.#timers.add(handle);
    });
  }

  /**
   * Adds a node (or brings a closed one back) and returns its transport. Throws if `id` is already open.
   * Peer-up events fire on both sides, and envelopes queued for `id` flush.
   */
  join(id: string, options: { maxQueue?: number } = {}): MemoryTransport {
    if (this.#nodes.has(id)) throw new Error(`memory transport: node ${id} is already open`);
    const t = new MemoryTransport(this, id, options.maxQueue ?? this.#maxQueue, this.#logger, {
      transmit: (to, wire) => this.#transmit(t, to, wire),
      leave: () => this.#leave(t),
      known: (peer) => this.#known.has(peer),
      linkUp: (peer) => this.#linkUp(id, peer),
    });
    this.#known.add(id);
    this.#nodes.set(id, t);
    this.#linkChanged(id);
    return t;
  }

  /** Ids of the open nodes. */
  nodes(): string[] {
    return [...this.#nodes.keys()];
  }

  /** Cuts both directions between `a` and `b` (no events: traffic is silently lost). */
  partition(a: string, b: string): void {
    this.#blocked.add(link(a, b)).add(link(b, a));
  }

  /** Cuts `from` → `to` only. */
  partitionOneWay(from: string, to: string): void {
    this.#blocked.add(link(from, to));
  }

  /** Restores both directions between `a` and `b`. */
  heal(a: string, b: string): void {
    this.#blocked.delete(link(a, b));
    this.#blocked.delete(link(b, a));
  }

  /** Removes every partition. */
  healAll(): void {
    this.#blocked.clear();
  }

  /** Breaks every connection of `node`: peer-down events fire, in-flight envelopes are lost. */
  disconnect(node: string): void {
    if (this.#disconnected.has(node)) return;
    this.#disconnected.add(node);
    this.#bump(node);
    this.#linkChanged(node);
  }

  /** Restores `node`'s connections: peer-up events fire, then queued envelopes flush. */
  reconnect(node: string): void {
    if (!this.#disconnected.delete(node)) return;
    this.#linkChanged(node);
  }

  /** Network-level counters. */
  stats(): MemoryNetworkStats {
    return { ...this.#stats };
  }

  /** Schedules `fn` on the network's scheduler (used by transports for events). */
  schedule(fn: () => void, delayMs = 0): void {
    this.#schedule(fn, delayMs);
  }

  /** Closes every transport and cancels the default scheduler's pending timers. */
  async close(): Promise<void> {
    for (const t of [...this.#nodes.values()]) await t.close();
    for (const h of this.#timers) clearTimeout(h);
    this.#timers.clear();
  }

  #linkUp(a: string, b: string): boolean {
    return a !== b && this.#nodes.has(a) && this.#nodes.has(b) && !this.#disconnected.has(a) &&
      !this.#disconnected.has(b);
  }

  #bump(node: string): void {
    this.#epoch.set(node, (this.#epoch.get(node) ?? 0) + 1);
  }

  /** Recomputes the links of `node`: events first, then flushes (so a peer hears "up" before messages). */
  #linkChanged(node: string): void {
    const self = this.#nodes.get(node);
    for (const [id, other] of this.#nodes) {
      if (id === node) continue;
      const up = this.#linkUp(node, id);
      self?.peerState(id, up);
      other.peerState(node, up);
    }
    for (const [id, other] of this.#nodes) {
      if (id === node || !this.#linkUp(node, id)) continue;
      self?.flush(id);
      other.flush(node);
    }
  }

  #leave(t: MemoryTransport): void {
    if (this.#nodes.get(t.self) !== t) return;
    this.#nodes.delete(t.self);
    this.#bump(t.self);
    for (const other of this.#nodes.values()) other.peerState(t.self, false);
  }

  #transmit(sender: MemoryTransport, to: string, wire: string): void {
    const from = sender.self;
    const receiver = this.#nodes.get(to);
    if (!receiver || this.#blocked.has(link(from, to))) return this.#lose(sender, to);
    const d = this.decide?.(JSON.parse(wire)) ?? {};
    if (d.drop) return this.#lose(sender, to);
    const epochs = [this.#epoch.get(from), this.#epoch.get(to)];
    const deliver = (first: boolean) => () => {
      if (first) sender.release(to);
      const intact = this.#nodes.get(to) === receiver && this.#linkUp(from, to) &&
        !this.#blocked.has(link(from, to)) &&
        this.#epoch.get(from) === epochs[0] && this.#epoch.get(to) === epochs[1];
      if (!intact) {
        this.#stats.lost++;
        return;
      }
      this.#stats.delivered++;
      receiver.receive(JSON.parse(wire));
    };
    const delay = Math.max(0, d.delayMs ?? 0);
    this.#schedule(deliver(true), delay);
    if (d.duplicate) {
      this.#stats.duplicated++;
      this.#schedule(deliver(false), delay);
    }
  }

  #lose(sender: MemoryTransport, to: string): void {
    this.#stats.lost++;
    sender.release(to);
  }
}

/** What a `MemoryTransport` needs from its network. */
interface Wiring {
  transmit(to: string, wire: string): void;
  leave(): void;
  known(peer: string): boolean;
  linkUp(peer: string): boolean;
}

/**
 * One node's end of a `MemoryNetwork`; made by `MemoryNetwork.join`. Each peer has a bounded queue of
 * envelopes not yet delivered (waiting for the link, or in flight): `send` returns false when it is full.
 * `stats().queued` counts both.
 *
 * @example
 * ```ts
 * import { MemoryNetwork } from "./memory.ts";
 * const net = new MemoryNetwork();
 * const a = net.join("a"), b = net.join("b", { maxQueue: 1 });
 * const up = new Promise((resolve) => a.onPeer((peer, isUp) => isUp && resolve(peer)));
 * if ((await up) !== "b") throw new Error();
 * net.disconnect("b"); // b's sends now wait in its bounded queue
 * if (!b.send({ v: 1, from: "b", to: "a", type: "t", body: 1 })) throw new Error("queued");
 * if (b.send({ v: 1, from: "b", to: "a", type: "t", body: 2 })) throw new Error("the queue is full");
 * if (b.stats().dropped !== 1) throw new Error();
 * await net.close();
 * ```
 */
export class MemoryTransport implements Transport {
  readonly self: string;
  readonly #net: MemoryNetwork;
  readonly #maxQueue: number;
  readonly #logger: TransportLogger;
  readonly #wiring: Wiring;
  readonly #held = new Map<string, string[]>();
  readonly #inflight = new Map<string, number>();
  readonly #up = new Set<string>();
  readonly #handlers = new TransportHandlers();
  #closed = false;
  #queued = 0;
  #sent = 0;
  #received = 0;
  #dropped = 0;

  /** @internal Use `MemoryNetwork.join`. */
  constructor(net: MemoryNetwork, self: string, maxQueue: number, logger: TransportLogger, wiring: Wiring) {
    this.#net = net;
    this.self = self;
    this.#maxQueue = maxQueue;
    this.#logger = logger;
    this.#wiring = wiring;
  }

  /**
   * Queues an envelope for its peer, never blocking; false (counted in `dropped`) when refused. See
   * `Transport.send`.
   */
  send(envelope: Envelope): boolean {
    const to = envelope.to;
    if (this.#closed || envelope.from !== this.self || to === this.self || !this.#wiring.known(to)) {
      return this.#drop();
    }
    const pending = (this.#held.get(to)?.length ?? 0) + (this.#inflight.get(to) ?? 0);
    if (pending >= this.#maxQueue) return this.#drop();
    let wire: string;
    try {
      wire = JSON.stringify(envelope);
    } catch {
      return this.#drop();
    }
    this.#queued++;
    if (this.#wiring.linkUp(to)) {
      this.#transmit(to, wire);
    } else {
      const q = this.#held.get(to) ?? [];
      q.push(wire);
      this.#held.set(to, q);
    }
    return true;
  }

  /** Registers a handler of incoming envelopes; returns a function that unregisters it. */
  onMessage(handler: MessageHandler): () => void {
    return this.#handlers.onMessage(handler);
  }

  /** Registers a peer up/down handler; returns a function that unregisters it. */
  onPeer(handler: PeerHandler): () => void {
    return this.#handlers.onPeer(handler);
  }

  /** A snapshot of the counters (`frames` equals `sent`: one frame per envelope). */
  stats(): TransportStats {
    return {
      queued: this.#queued,
      sent: this.#sent,
      received: this.#received,
      dropped: this.#dropped,
      rejectedPeers: 0,
      frames: this.#sent,
    };
  }

  /** Leaves the network: peers see this node go down, queued envelopes are dropped. Idempotent. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    for (const q of this.#held.values()) this.#queued -= q.length;
    this.#held.clear();
    this.#up.clear();
    this.#wiring.leave();
    return Promise.resolve();
  }

  /** @internal The network reports the link to `peer`; events fire on change, through the scheduler. */
  peerState(peer: string, up: boolean): void {
    if (this.#closed || this.#up.has(peer) === up) return;
    if (up) this.#up.add(peer);
    else this.#up.delete(peer);
    this.#net.schedule(() => {
      if (this.#closed) return;
      this.#handlers.notifyPeer(peer, up, (error) => this.#warn("peer handler threw", error));
    });
  }

  /** @internal Hands the envelopes waiting for `peer` to the network, in order. */
  flush(peer: string): void {
    const q = this.#held.get(peer);
    if (!q) return;
    this.#held.delete(peer);
    for (const wire of q) this.#transmit(peer, wire);
  }

  /** @internal An envelope to `peer` left the network (delivered or lost). */
  release(peer: string): void {
    const n = this.#inflight.get(peer) ?? 0;
    if (n <= 1) this.#inflight.delete(peer);
    else this.#inflight.set(peer, n - 1);
    if (n > 0) this.#queued--;
  }

  /** @internal Delivers an envelope to this node's handlers. */
  receive(envelope: Envelope): void {
    if (this.#closed) return;
    if (envelope.v !== ENVELOPE_VERSION) {
      this.#logger.warn("transport: ignored an envelope of an unknown version", {
        node: this.self,
        from: envelope.from,
        v: envelope.v,
      });
      return;
    }
    this.#received++;
    this.#handlers.deliver(envelope, (error) => this.#warn("message handler threw", error));
  }

  #transmit(to: string, wire: string): void {
    this.#inflight.set(to, (this.#inflight.get(to) ?? 0) + 1);
    this.#sent++;
    this.#wiring.transmit(to, wire);
  }

  #drop(): false {
    this.#dropped++;
    return false;
  }

  #warn(message: string, error: unknown): void {
    this.#logger.warn(`transport: ${message}`, { node: this.self, error: String(error) });
  }
}

function link(from: string, to: string): string {
  return `${from}\u0000${to}`;
}
