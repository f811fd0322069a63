/**
 * The peers of a `WebSocketTransport`: for each, its address, send queue, connection and up/down state.
 * A connection is attached to its peer when its handshake completes (replacing an older one: the peer
 * restarted) and detached when it closes (the peer goes down and is redialed). Peer up/down events fire
 * here.
 *
 * @module
 */

import type { Connection } from "./connection.ts";
import { SendQueue } from "./send_queue.ts";
import type { WebSocketContext } from "./websocket_options.ts";

/** One peer and its link. */
export interface Peer {
  /** The peer's node id. */
  readonly id: string;
  /** Its cluster address, `host:port`, when known. */
  address?: string;
  /** Envelopes waiting for it. */
  readonly queue: SendQueue;
  /** The connection carrying envelopes to it, once its handshake completed. */
  conn?: Connection;
  /** The connection being dialed to it, still in its handshake. */
  dialing?: Connection;
  /** True between its peer-up and peer-down events. */
  up: boolean;
  /** Dials since it was last connected (the backoff step). */
  attempts: number;
  /** The next dial, when one is scheduled. */
  dialTimer?: ReturnType<typeof setTimeout>;
}

/** The peers by id, and the attaching and detaching of their connections. */
export class PeerTable {
  readonly #ctx: WebSocketContext;
  readonly #redial: (p: Peer) => void;
  readonly #peers = new Map<string, Peer>();

  /** A table whose detached peers go to `redial` (the dialer decides whether and when). */
  constructor(ctx: WebSocketContext, redial: (p: Peer) => void) {
    this.#ctx = ctx;
    this.#redial = redial;
  }

  /** The peer `id`, if known. */
  get(id: string): Peer | undefined {
    return this.#peers.get(id);
  }

  /** The peer `id`, added (down, with an empty queue) if unknown. */
  ensure(id: string): Peer {
    let p = this.#peers.get(id);
    if (!p) {
      const peer: Peer = {
        id,
        queue: new SendQueue(
          this.#ctx,
          () => this.#ctx.closed || peer.conn?.phase !== "open" ? undefined : peer.conn,
        ),
        up: false,
        attempts: 0,
      };
      p = peer;
      this.#peers.set(id, p);
    }
    return p;
  }

  /** True while `p` is the table's entry for its id (not removed, nor replaced). */
  isCurrent(p: Peer): boolean {
    return this.#peers.get(p.id) === p;
  }

  /** Ids of the peers currently up. */
  connected(): string[] {
    return [...this.#peers.values()].filter((p) => p.up).map((p) => p.id);
  }

  /** Forgets a peer: peer-down fires if it was up, its queue is dropped and its connections closed. */
  remove(id: string): void {
    const p = this.#peers.get(id);
    if (!p) return;
    this.#setUp(p, false);
    this.#peers.delete(id);
    this.#stop(p);
    for (const c of [p.conn, p.dialing]) if (c) c.drop(1000, "peer removed");
  }

  /** Stops every peer's timers and drops every queue (the transport is closing). */
  stopAll(): void {
    for (const p of this.#peers.values()) this.#stop(p);
  }

  /** A handshake completed: the connection carries envelopes to and from `id` from now on. */
  attach(c: Connection, id: string): void {
    c.settle();
    const p = this.ensure(id);
    const old = p.conn;
    c.peer = id;
    c.phase = "open";
    if (p.dialing === c) p.dialing = undefined;
    p.conn = c;
    p.attempts = 0;
    if (old && old !== c) {
      old.phase = "closed"; // replaced: no peer-down for it
      try {
        old.socket.close(1000, "replaced");
      } catch { /* gone */ }
    }
    this.#setUp(p, true);
    p.queue.scheduleFlush();
  }

  /** Forgets a connection (closed or being closed); its peer goes down and the dialer redials. */
  detach(c: Connection): void {
    if (c.phase === "closed") return;
    const wasOpen = c.phase === "open";
    c.phase = "closed";
    const p = c.peer === undefined ? undefined : this.#peers.get(c.peer);
    if (!p) return;
    if (p.dialing === c) p.dialing = undefined;
    if (p.conn === c) {
      p.conn = undefined;
      p.queue.cancelRetry();
      this.#setUp(p, false);
    }
    if (wasOpen && p.attempts === 0) p.attempts = 1; // a dropped link waits one backoff step before redialing
    this.#redial(p);
  }

  #stop(p: Peer): void {
    clearTimeout(p.dialTimer);
    p.queue.cancelRetry();
    p.queue.clear();
  }

  #setUp(p: Peer, up: boolean): void {
    if (p.up === up) return;
    p.up = up;
    this.#ctx.handlers.notifyPeer(
      p.id,
      up,
      (error) => this.#ctx.warn("transport: peer handler threw", { error }),
    );
  }
}
