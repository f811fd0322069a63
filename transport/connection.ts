/**
 * One WebSocket connection between two nodes, whichever side opened it: its handshake state, the
 * serialization of handshake steps (frames arriving during an async step wait in a bounded backlog), the
 * reading of data frames into envelopes for the handlers, writing frames, and closing.
 *
 * What happens around it (which peer it serves, redialing) is the owner's, through `ConnectionHooks`.
 *
 * @module
 */

import { type Envelope, ENVELOPE_VERSION, isEnvelope } from "./transport.ts";
import { decodeFrame, utf8Length } from "./frames.ts";
import { newNonce, POLICY_VIOLATION } from "./handshake.ts";
import type { WebSocketContext } from "./websocket_options.ts";
import type { FrameSink } from "./send_queue.ts";

/** What a connection needs from its socket, whichever side opened it. */
export interface Socket {
  /** Writes a text frame; throws when the socket is gone. */
  send(text: string): void;
  /** Starts the close handshake. */
  close(code: number, reason: string): void;
  /** Drops the connection without a close handshake (the client side; the server side closes). */
  terminate(): void;
  /** Bytes written and not yet sent. */
  buffered(): number;
}

/**
 * Where a connection stands: the server waits for the client's `auth`; the client waits for the `challenge`,
 * then the server's `ok`; then it carries envelopes (`open`), until `closed`.
 */
export type Phase = "challenge" | "auth" | "ok" | "open" | "closed";

/** What a connection asks of its owner. */
export interface ConnectionHooks {
  /** Runs one handshake step for a frame received before the connection is open. */
  handshake(c: Connection, text: string): Promise<void>;
  /** Forgets the connection (closed or being closed): its peer goes down and is redialed. */
  detach(c: Connection): void;
  /** Removes the closed connection from the live ones. */
  forget(c: Connection): void;
}

/** How a connection starts. */
export interface ConnectionInit {
  /** Who opened it: the server accepted it, the client dialed it. */
  side: "server" | "client";
  /** Its socket. */
  socket: Socket;
  /** The other end's address, for the logs. */
  remote: string;
  /** The peer dialed (client side); the server learns it from the handshake. */
  peer?: string;
  /** Called once when the handshake ends, either way (the listener counts pending handshakes). */
  onSettle?: () => void;
}

type Timer = ReturnType<typeof setTimeout>;

const MAX_BACKLOG = 256;

/** One WebSocket connection and its handshake state. */
export class Connection implements FrameSink {
  /** Who opened it. */
  readonly side: "server" | "client";
  /** Its socket. */
  readonly socket: Socket;
  /** The other end's address. */
  readonly remote: string;
  /** Where it stands. */
  phase: Phase;
  /** The authenticated peer (server side: after auth), or the dialed one (client side). */
  peer?: string;
  /** Our nonce, which the other end signs. */
  readonly nonce: string = newNonce();
  /** When a frame last arrived (`performance.now()`). */
  lastSeen: number = performance.now();
  /** Dropped for silence: its close will not be answered. */
  silent = false;
  /** Resolves when the socket has closed. */
  readonly closed: Promise<void>;
  readonly #markClosed: () => void;
  readonly #ctx: WebSocketContext;
  readonly #hooks: ConnectionHooks;
  /** True while an async handshake step runs; frames arriving meanwhile wait in `#backlog`. */
  #busy = false;
  readonly #backlog: string[] = [];
  readonly #warned = new Set<string>();
  #deadline?: Timer;
  #onSettle?: () => void;

  /** A connection of the transport of `ctx`; `Connections.open` makes them. */
  constructor(ctx: WebSocketContext, hooks: ConnectionHooks, init: ConnectionInit) {
    this.#ctx = ctx;
    this.#hooks = hooks;
    this.side = init.side;
    this.socket = init.socket;
    this.remote = init.remote;
    this.peer = init.peer;
    this.phase = init.side === "server" ? "auth" : "challenge";
    this.#onSettle = init.onSettle;
    let markClosed!: () => void;
    this.closed = new Promise<void>((resolve) => markClosed = resolve);
    this.#markClosed = markClosed;
  }

  /** Runs `onTimeout` after `ms` unless the handshake settles first. */
  setDeadline(ms: number, onTimeout: () => void): void {
    this.#deadline = setTimeout(onTimeout, ms);
  }

  /** The handshake is over (done, or the connection closed): stops the deadline. */
  settle(): void {
    clearTimeout(this.#deadline);
    const onSettle = this.#onSettle;
    this.#onSettle = undefined;
    onSettle?.();
  }

  /** Handles a text frame: handshake steps are serialized, data frames dispatched. */
  receive(text: string): void {
    if (this.phase === "closed") return;
    this.lastSeen = performance.now();
    if (this.#busy) {
      if (this.#backlog.length >= MAX_BACKLOG) return this.drop(POLICY_VIOLATION, "too many frames");
      this.#backlog.push(text);
      return;
    }
    if (this.phase === "open") return this.#readData(text);
    this.#busy = true;
    this.#hooks.handshake(this, text)
      .catch((error) => this.reject("handshake error", { error: String(error) }))
      .finally(() => {
        this.#busy = false;
        const backlog = this.#backlog.splice(0);
        for (const t of backlog) this.receive(t);
      });
  }

  /** Bytes the socket buffers. */
  buffered(): number {
    return this.socket.buffered();
  }

  /** Writes a data frame; false (warned once) when the socket died under us: the close event follows. */
  write(frame: string): boolean {
    try {
      this.socket.send(frame);
      return true;
    } catch (error) {
      this.warnOnce("send", "transport: send failed", { peer: this.peer, error: String(error) });
      return false;
    }
  }

  /** Closes the connection on our initiative; its peer goes down now if it was this connection. */
  drop(code: number, reason: string): void {
    this.#hooks.detach(this);
    try {
      this.socket.close(code, reason);
    } catch {
      this.socket.terminate();
    }
  }

  /** Refuses the other end (a failed handshake): counts it, logs it, closes with 1008. */
  reject(reason: string, fields: Record<string, unknown>): void {
    if (this.phase === "closed") return;
    this.#ctx.stats.rejectedPeers++;
    this.#ctx.warn(`transport: rejected peer: ${reason}`, {
      ...fields,
      remote: this.remote,
      side: this.side,
    });
    this.drop(POLICY_VIOLATION, "policy violation");
  }

  /** The socket closed (either end's doing). */
  socketClosed(): void {
    this.settle();
    this.#hooks.forget(this);
    this.#hooks.detach(this);
    this.#markClosed();
  }

  /** Warns once per connection and `key`. */
  warnOnce(key: string, message: string, fields: Record<string, unknown>): void {
    if (this.#warned.has(key)) return;
    this.#warned.add(key);
    this.#ctx.warn(message, fields);
  }

  /** Reads a data frame: each well-formed envelope from the peer to us goes to the message handlers. */
  #readData(text: string): void {
    const max = this.#ctx.settings.maxFrameBytes;
    if (text.length > max || (text.length * 3 > max && utf8Length(text) > max)) {
      return this.drop(1009, "frame too large");
    }
    const f = decodeFrame(text);
    if (f.kind === "ping") return;
    if (f.kind === "invalid") {
      return this.warnOnce(f.reason, "transport: ignored a frame", { peer: this.peer, reason: f.reason });
    }
    for (const item of f.items) {
      if (this.phase !== "open" && this.phase !== "closed") return;
      if (this.#acceptable(item) && !this.#ctx.closed) {
        this.#ctx.stats.received++;
        this.#ctx.handlers.deliver(
          item,
          (error) => this.#ctx.warn("transport: message handler threw", { error }),
        );
      }
    }
  }

  /** True when `item` is an envelope of our version from the peer to us; warns (once) otherwise. */
  #acceptable(item: unknown): item is Envelope {
    if (!isEnvelope(item)) {
      this.warnOnce("shape", "transport: ignored a malformed envelope", { peer: this.peer });
    } else if (item.v !== ENVELOPE_VERSION) {
      this.warnOnce(`v${item.v}`, "transport: ignored an envelope of an unknown version", {
        peer: this.peer,
        v: item.v,
      });
    } else if (item.from !== this.peer || item.to !== this.#ctx.self) {
      this.warnOnce("route", "transport: ignored a misaddressed envelope", {
        peer: this.peer,
        from: item.from,
        to: item.to,
      });
    } else {
      return true;
    }
    return false;
  }
}
