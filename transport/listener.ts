/**
 * The server side of a `WebSocketTransport`: `Deno.serve` on the cluster port (over TLS when the transport
 * has a certificate; no client certificate is asked for, the dialer proves the cluster secret), upgrading
 * with `Deno.upgradeWebSocket`. An accepted connection sends its challenge and must complete the handshake
 * within `peerTimeoutMs`; at most `maxPendingHandshakes` inbound connections may be in their handshake at
 * once.
 *
 * @module
 */

import type { Connections } from "./connections.ts";
import type { Socket } from "./connection.ts";
import { challengeFrame } from "./handshake.ts";
import type { WebSocketContext } from "./websocket_options.ts";

/** The cluster port and the connections it accepts. */
export class Listener {
  readonly #ctx: WebSocketContext;
  readonly #conns: Connections;
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  /** Inbound connections still in their handshake. */
  #pending = 0;

  /** Listens on `settings.hostname` and `port` (0: a free one); throws when the port is in use. */
  constructor(ctx: WebSocketContext, conns: Connections, port: number) {
    this.#ctx = ctx;
    this.#conns = conns;
    const tls = ctx.tls && { cert: ctx.tls.cert, key: ctx.tls.key };
    this.#server = Deno.serve(
      { hostname: ctx.settings.hostname, port, onListen() {}, ...tls },
      (req, info) => this.#accept(req, info),
    );
  }

  /** The bound address. */
  get addr(): Deno.NetAddr {
    return this.#server.addr;
  }

  /** Stops listening; resolves once the server is done. */
  shutdown(): Promise<void> {
    return this.#server.shutdown();
  }

  #accept(req: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>): Response {
    if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("cluster transport: WebSocket only\n", { status: 426 });
    }
    if (this.#ctx.closed || this.#pending >= this.#ctx.settings.maxPendingHandshakes) {
      return new Response("busy\n", { status: 503 });
    }
    const remote = `${info.remoteAddr.hostname}:${info.remoteAddr.port}`;
    const { socket, response } = Deno.upgradeWebSocket(req, { idleTimeout: 0 });
    const c = this.#conns.open({
      side: "server",
      socket: serverSocket(socket),
      remote,
      onSettle: () => this.#pending--,
    });
    this.#pending++;
    c.setDeadline(this.#ctx.settings.peerTimeoutMs, () => {
      if (c.phase === "auth") c.reject("handshake timeout", {});
    });
    socket.onopen = () => {
      if (this.#ctx.closed) return socket.close(1001, "going away");
      c.lastSeen = performance.now();
      socket.send(challengeFrame(c.nonce));
    };
    socket.onmessage = (e) => {
      if (typeof e.data === "string") c.receive(e.data);
      else c.drop(1003, "text frames only");
    };
    socket.onerror = () => {};
    socket.onclose = () => c.socketClosed();
    return response;
  }
}

/** A server-side WebSocket as a connection's `Socket`: it cannot be aborted, so `terminate` closes it. */
function serverSocket(socket: WebSocket): Socket {
  return {
    send: (text) => socket.send(text),
    close: (code, reason) => socket.close(code, reason),
    terminate: () => {
      try {
        socket.close(1001, "going away");
      } catch { /* closing */ }
    },
    buffered: () => socket.bufferedAmount,
  };
}
