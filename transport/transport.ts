/**
 * The cluster transport contract: how nodes exchange versioned message envelopes.
 * The single-node runtime needs none; the cluster plugs an implementation in here
 * (docs/ARCHITECTURE.md, "Cluster"):
 *
 * - `transport/memory.ts`: an in-process hub with fault hooks, for tests and the simulator;
 * - `transport/websocket.ts`: WebSocket connections between nodes, authenticated by a shared secret.
 *
 * Like a Kysely dialect, the interface is small and every implementation satisfies the same
 * contract suite (`testing/transport_contract.ts`). `transport/rpc.ts` builds request/response on top.
 *
 * Guarantees common to all implementations:
 * - delivery is asynchronous and at most once (a link failure may lose envelopes in flight);
 * - envelopes from one sender to one receiver arrive in the order sent (unless a fault hook reorders);
 * - `send` never blocks and never grows memory without bound: each peer has a bounded queue, and `send`
 *   returns false (counting a drop) when the envelope is refused.
 *
 * @module
 */

/** The envelope schema version this build writes and accepts. */
export const ENVELOPE_VERSION = 1;

/**
 * A message between nodes, versioned so that nodes of two releases can talk.
 *
 * @example
 * ```ts
 * import { ENVELOPE_VERSION, type Envelope } from "./transport.ts";
 * const e: Envelope<{ n: number }> = { v: ENVELOPE_VERSION, from: "a", to: "b", type: "ping", body: { n: 1 } };
 * if (e.v !== 1) throw new Error();
 * ```
 */
export interface Envelope<T = unknown> {
  /** Envelope schema version (`ENVELOPE_VERSION`); receivers ignore, with a warning, versions they don't know. */
  v: number;
  /** The sending node's id (must be the sender's `self`). */
  from: string;
  /** The receiving node's id. */
  to: string;
  /** Message type, e.g. `heartbeat`, `forward`, `shard-handoff`. */
  type: string;
  /** The payload: JSON-serializable. */
  body: T;
  /** A message id, for request/response correlation (set by `Rpc`). */
  id?: string;
  /** The `id` of the request this envelope answers. */
  replyTo?: string;
  /** A W3C `traceparent` string, e.g. `00-<trace-id>-<span-id>-01`. */
  trace?: string;
}

/** Called when a peer becomes reachable (`up`) or unreachable (`!up`). */
export type PeerHandler = (peer: string, up: boolean) => void;

/** Called for each incoming envelope. */
export type MessageHandler = (envelope: Envelope) => void;

/** Peer up/down notifications. */
export interface TransportEvents {
  /** Registers a peer up/down handler; returns a function that unregisters it. */
  onPeer(handler: PeerHandler): () => void;
}

/** Counters of a transport, cumulative since it started (except `queued`, a gauge). */
export interface TransportStats {
  /** Envelopes accepted by `send` and not yet handed to the network (gauge). */
  queued: number;
  /** Envelopes handed to the network. */
  sent: number;
  /** Envelopes received and passed to the handlers. */
  received: number;
  /** Envelopes refused by `send` (unknown peer, full queue, too large, closed transport). */
  dropped: number;
  /** Peers refused at the handshake (wrong secret, wrong identity); 0 where there is no handshake. */
  rejectedPeers: number;
  /** Frames written to the network: one per batch of envelopes (the memory transport: one per envelope). */
  frames: number;
}

/**
 * Sends and receives envelopes. Implementations bound their queues and report back-pressure.
 *
 * @example
 * ```ts
 * import { MemoryNetwork } from "./memory.ts";
 * import { ENVELOPE_VERSION } from "./transport.ts";
 * const net = new MemoryNetwork();
 * const a = net.join("a"), b = net.join("b");
 * const got = new Promise((resolve) => b.onMessage(resolve));
 * a.send({ v: ENVELOPE_VERSION, from: "a", to: "b", type: "hello", body: 1 });
 * await got;
 * await net.close();
 * ```
 */
export interface Transport extends TransportEvents {
  /** This node's id. */
  readonly self: string;
  /**
   * Queues an envelope for its peer, never blocking. False (and `stats().dropped` counts it) when the peer is
   * unknown or ourselves, its bounded queue is full, the envelope is too large or not serializable, its
   * `from` is not `self`, or the transport is closed: the caller backs off. True means accepted, not
   * delivered (delivery is at most once).
   */
  send(envelope: Envelope): boolean;
  /** Registers a handler of incoming envelopes; returns a function that unregisters it. */
  onMessage(handler: MessageHandler): () => void;
  /** A snapshot of the counters. */
  stats(): TransportStats;
  /** Closes connections, drops queues and stops timers. Idempotent. */
  close(): Promise<void>;
}

/** Where a transport reports what it refused (the runtime's `Logger` fits). */
export interface TransportLogger {
  /** Reports one refused peer, ignored frame or throwing handler, with structured fields. */
  warn(message: string, fields?: Record<string, unknown>): void;
}

/** Default bound of a peer's send queue, in envelopes. */
export const DEFAULT_MAX_QUEUE = 10_000;

/** True when `x` has the shape of an envelope (any version). */
export function isEnvelope(x: unknown): x is Envelope {
  if (typeof x !== "object" || x === null || Array.isArray(x)) return false;
  const e = x as Record<string, unknown>;
  return typeof e.v === "number" && typeof e.from === "string" && typeof e.to === "string" &&
    typeof e.type === "string" && "body" in e &&
    (e.id === undefined || typeof e.id === "string") &&
    (e.replyTo === undefined || typeof e.replyTo === "string") &&
    (e.trace === undefined || typeof e.trace === "string");
}

/** Calls each handler, isolating the others from one that throws (reported to `onError`). */
export function fanOut<A extends unknown[]>(
  handlers: Iterable<(...args: A) => void>,
  args: A,
  onError: (error: unknown) => void,
): void {
  for (const h of [...handlers]) {
    try {
      h(...args);
    } catch (error) {
      onError(error);
    }
  }
}

/**
 * The message and peer handlers registered on a transport, and their dispatch: every transport implements
 * `onMessage` and `onPeer` with one of these. A throwing handler does not keep the others from running.
 *
 * @example
 * ```ts
 * import { TransportHandlers } from "./transport.ts";
 * const handlers = new TransportHandlers();
 * const events: string[] = [];
 * const off = handlers.onPeer((peer, up) => events.push(`${peer}:${up}`));
 * handlers.onPeer(() => {
 *   throw new Error("isolated");
 * });
 * handlers.notifyPeer("b", true, (error) => events.push(String(error)));
 * off();
 * handlers.notifyPeer("b", false, () => {});
 * if (events.join() !== "b:true,Error: isolated") throw new Error(events.join());
 * ```
 */
export class TransportHandlers {
  readonly #messages = new Set<MessageHandler>();
  readonly #peers = new Set<PeerHandler>();

  /** Registers a handler of incoming envelopes; returns a function that unregisters it. */
  onMessage(handler: MessageHandler): () => void {
    this.#messages.add(handler);
    return () => this.#messages.delete(handler);
  }

  /** Registers a peer up/down handler; returns a function that unregisters it. */
  onPeer(handler: PeerHandler): () => void {
    this.#peers.add(handler);
    return () => this.#peers.delete(handler);
  }

  /** Passes an incoming envelope to every message handler; `onError` hears of each one that throws. */
  deliver(envelope: Envelope, onError: (error: unknown) => void): void {
    fanOut(this.#messages, [envelope], onError);
  }

  /** Tells every peer handler that `peer` went up or down; `onError` hears of each one that throws. */
  notifyPeer(peer: string, up: boolean, onError: (error: unknown) => void): void {
    fanOut(this.#peers, [peer, up], onError);
  }
}
