/**
 * The live connections of a `WebSocketTransport`, inbound and outbound: opening them, the heartbeat that
 * pings open ones and drops silent ones, and closing them all when the transport closes.
 *
 * @module
 */

import { Connection, type ConnectionHooks, type ConnectionInit } from "./connection.ts";
import { PING } from "./frames.ts";
import type { WebSocketContext } from "./websocket_options.ts";

/** How long `closeAll` waits for the other ends to answer the close. */
const CLOSE_GRACE_MS = 1000;

/** The set of live connections. */
export class Connections {
  readonly #ctx: WebSocketContext;
  readonly #hooks: ConnectionHooks;
  readonly #all = new Set<Connection>();

  /** Connections whose handshake frames go to `hooks.handshake` and whose closes to `hooks.detach`. */
  constructor(ctx: WebSocketContext, hooks: Omit<ConnectionHooks, "forget">) {
    this.#ctx = ctx;
    this.#hooks = { ...hooks, forget: (c) => this.#all.delete(c) };
  }

  /** A new connection, live until its socket closes. */
  open(init: ConnectionInit): Connection {
    const c = new Connection(this.#ctx, this.#hooks, init);
    this.#all.add(c);
    return c;
  }

  /** Pings every open connection; drops those silent longer than `peerTimeoutMs` (their peer is down). */
  heartbeat(): void {
    const now = performance.now();
    for (const c of this.#all) {
      if (c.phase !== "open") continue;
      if (now - c.lastSeen > this.#ctx.settings.peerTimeoutMs) {
        this.#ctx.warn("transport: peer silent, dropping its connection", {
          peer: c.peer,
          silentMs: now - c.lastSeen,
        });
        c.silent = true;
        this.#hooks.detach(c);
        c.socket.terminate();
        continue;
      }
      try {
        c.socket.send(PING);
      } catch { /* closing: the close event follows */ }
    }
  }

  /** Closes every connection ("going away"), waiting a grace period for the other ends to answer. */
  async closeAll(): Promise<void> {
    const conns = [...this.#all];
    for (const c of conns) {
      c.phase = "closed";
      try {
        c.socket.close(1001, "going away");
      } catch { /* already closing */ }
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<void>((resolve) => timer = setTimeout(resolve, CLOSE_GRACE_MS));
    await Promise.race([Promise.all(conns.filter((c) => !c.silent).map((c) => c.closed)), grace]);
    clearTimeout(timer);
    for (const c of conns) c.socket.terminate();
    // Client sockets are destroyed by now; a server socket whose peer never answers the close stays with the
    // runtime until its TCP connection ends (Deno's server WebSocket cannot be aborted).
    await Promise.all(conns.filter((c) => c.side === "client").map((c) => c.closed));
  }
}
