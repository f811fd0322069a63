/**
 * The WebSocket transport between cluster nodes.
 *
 * - **Server**: `Deno.serve` on the cluster port, upgrading with `Deno.upgradeWebSocket`.
 * - **Client**: `npm:ws`, which sets TCP_NODELAY (Deno's built-in client stalls ~40 ms per round trip on
 *   messages of 1 KB and more, from Nagle's algorithm meeting delayed ACKs).
 * - **One connection per pair, dialed by the lower node id** (string order). A node dials the peers with a
 *   higher id whose address it knows; it accepts any node that proves the secret, and learns its id from the
 *   handshake. So the lower id of a pair must know the higher's address; the higher needs nothing (to queue
 *   envelopes for the lower before it connects, add it with `addPeer`, address optional). No duplicate
 *   connections ever race, so per-sender ordering holds without a tie-break. A new inbound connection from
 *   a peer replaces its old one (the peer restarted).
 * - **Handshake** (`handshake.ts`): mutual HMAC-SHA256 proofs of the cluster secret over each side's random
 *   nonce. A failed proof closes with 1008 (policy violation), logs the peer and counts `rejectedPeers`.
 * - **Heartbeats**: both ends send `{"t":"ping"}` every `heartbeatMs`; a connection silent for
 *   `peerTimeoutMs` is dropped (peer down). The dialer redials with exponential backoff (100 ms doubling to
 *   5 s, "equal jitter": half fixed, half random).
 * - **Queues and batching**: each peer has a bounded queue (10,000 envelopes); `send` returns false when it
 *   is full. Envelopes queued in the same tick go out as one frame (a JSON array), flushed in a microtask;
 *   flushing pauses while the socket buffers more than `highWaterBytes` (back-pressure reaches `send`).
 *
 * @module
 */

import wsModule from "ws";
import {
  DEFAULT_MAX_QUEUE,
  type Envelope,
  ENVELOPE_VERSION,
  fanOut,
  isEnvelope,
  type MessageHandler,
  type PeerHandler,
  type Transport,
  type TransportLogger,
  type TransportStats,
} from "./transport.ts";
import { decodeFrame, type Encoded, PING, takeFrame, utf8Length } from "./frames.ts";
import { importSecret, newNonce, parseHandshake, POLICY_VIOLATION, prove, verifyProof } from "./handshake.ts";

/** A peer: its node id and, for the peers this node dials, its cluster address `host:port`. */
export interface PeerAddress {
  id: string;
  address?: string;
}

/** Options of a `WebSocketTransport`. */
export interface WebSocketTransportOptions {
  /** This node's id. */
  self: string;
  /** The shared cluster secret (non-empty). */
  secret: string | Uint8Array;
  /** Interface to listen on; `127.0.0.1` by default. */
  hostname?: string;
  /** Cluster port; 0 (the default) picks a free one, see `port`. */
  port?: number;
  /** Seed peers. */
  peers?: PeerAddress[];
  /** Heartbeat period; 500 ms. */
  heartbeatMs?: number;
  /** A peer silent this long is down; 2,000 ms. Also the handshake deadline. */
  peerTimeoutMs?: number;
  /** Bound of each peer's send queue, in envelopes; 10,000. */
  maxQueue?: number;
  /** Bound of each peer's send queue, in bytes; 64 MiB. */
  maxQueueBytes?: number;
  /** Largest frame, in bytes; larger envelopes are refused at send. 16 MiB. */
  maxFrameBytes?: number;
  /** Most envelopes in one frame; 1 turns batching off. 10,000. */
  maxBatch?: number;
  /** Flushing pauses while a socket buffers more than this; 4 MiB. */
  highWaterBytes?: number;
  /** First reconnect delay; 100 ms. */
  backoffMinMs?: number;
  /** Largest reconnect delay; 5,000 ms. */
  backoffMaxMs?: number;
  /** Jitter source in [0, 1); `Math.random` by default. */
  random?: () => number;
  /** Bound of inbound connections still in their handshake; 64. */
  maxPendingHandshakes?: number;
  /** Where refused peers and bad frames are reported; `console.warn` by default. */
  logger?: TransportLogger;
}

/** The counters of a `WebSocketTransport`: `frames` counts data frames written. */
export type WebSocketStats = TransportStats;

/** What a connection needs from its socket, whichever side opened it. */
interface Socket {
  send(text: string): void;
  close(code: number, reason: string): void;
  /** Drops the connection without a close handshake (the client side; the server side closes). */
  terminate(): void;
  buffered(): number;
}

type Phase = "challenge" | "auth" | "ok" | "open" | "closed";

/** One WebSocket connection and its handshake state. */
interface Conn {
  side: "server" | "client";
  socket: Socket;
  phase: Phase;
  /** The authenticated peer (server side: after auth), or the dialed one (client side). */
  peer?: string;
  /** Our nonce, which the other end signs. */
  nonce: string;
  lastSeen: number;
  /** True while an async handshake step runs; frames arriving meanwhile wait in `backlog`. */
  busy: boolean;
  backlog: string[];
  warned: Set<string>;
  closed: Promise<void>;
  markClosed(): void;
  remote: string;
  /** An inbound connection still counted in `#pendingInbound`. */
  pending: boolean;
  /** Dropped for silence: its close will not be answered. */
  silent: boolean;
  /** The handshake deadline. */
  deadline?: Timer;
}

interface Peer {
  id: string;
  address?: string;
  queue: Encoded[];
  /** UTF-8 bytes in `queue`. */
  queueBytes: number;
  conn?: Conn;
  dialing?: Conn;
  up: boolean;
  attempts: number;
  dialTimer?: Timer;
  retryTimer?: Timer;
  flushScheduled: boolean;
}

type Timer = ReturnType<typeof setTimeout>;

/**
 * The part of `npm:ws`'s client used here, typed locally: `@types/ws` would bring `@types/node` into the
 * type check of every module of the project (its globals and `node:assert` types differ from Deno's).
 */
interface WsSocket {
  readonly bufferedAmount: number;
  send(data: string): void;
  close(code: number, reason: string): void;
  terminate(): void;
  on(event: "open", listener: () => void): this;
  on(event: "message", listener: (data: { toString(): string }, isBinary: boolean) => void): this;
  on(event: "error", listener: (error: Error) => void): this;
  on(event: "close", listener: (code: number) => void): this;
}

/** `new WebSocket(url, options)` of `npm:ws`. */
type WsClient = new (
  url: string,
  options: { perMessageDeflate: boolean; maxPayload: number; handshakeTimeout: number },
) => WsSocket;

const WsClient = wsModule as unknown as WsClient;

const MIB = 1024 * 1024;
const MAX_BACKLOG = 256;
const MAX_HANDSHAKE_FRAME = 4096;

/**
 * Envelopes over WebSockets between cluster nodes. Throws only at construction (empty secret, port in use).
 *
 * @example
 * ```ts
 * import { WebSocketTransport } from "./websocket.ts";
 * const a = new WebSocketTransport({ self: "a", secret: "s", logger: { warn() {} } });
 * const b = new WebSocketTransport({ self: "b", secret: "s", logger: { warn() {} } });
 * a.addPeer({ id: "b", address: `127.0.0.1:${b.port}` }); // "a" < "b": a dials
 * const got = new Promise((resolve) => b.onMessage((e) => resolve(e.body)));
 * a.send({ v: 1, from: "a", to: "b", type: "hello", body: "hi" });
 * if ((await got) !== "hi") throw new Error();
 * await a.close();
 * await b.close();
 * ```
 */
export class WebSocketTransport implements Transport {
  readonly self: string;
  readonly #opts: Required<Omit<WebSocketTransportOptions, "peers" | "secret" | "port" | "self">>;
  readonly #key: Promise<CryptoKey>;
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #peers = new Map<string, Peer>();
  readonly #conns = new Set<Conn>();
  readonly #handlers = new Set<MessageHandler>();
  readonly #peerHandlers = new Set<PeerHandler>();
  readonly #heartbeat: Timer;
  #pendingInbound = 0;
  #closed = false;
  #closing?: Promise<void>;
  readonly #stats: TransportStats = {
    queued: 0,
    sent: 0,
    received: 0,
    dropped: 0,
    rejectedPeers: 0,
    frames: 0,
  };

  constructor(options: WebSocketTransportOptions) {
    const secretLength = typeof options.secret === "string"
      ? options.secret.length
      : options.secret.byteLength;
    if (secretLength === 0) throw new Error("websocket transport: the cluster secret must not be empty");
    this.self = options.self;
    this.#opts = {
      hostname: options.hostname ?? "127.0.0.1",
      heartbeatMs: options.heartbeatMs ?? 500,
      peerTimeoutMs: options.peerTimeoutMs ?? 2000,
      maxQueue: options.maxQueue ?? DEFAULT_MAX_QUEUE,
      maxQueueBytes: options.maxQueueBytes ?? 64 * MIB,
      maxFrameBytes: options.maxFrameBytes ?? 16 * MIB,
      maxBatch: Math.max(1, options.maxBatch ?? 10_000),
      highWaterBytes: options.highWaterBytes ?? 4 * MIB,
      backoffMinMs: options.backoffMinMs ?? 100,
      backoffMaxMs: options.backoffMaxMs ?? 5000,
      random: options.random ?? Math.random,
      maxPendingHandshakes: options.maxPendingHandshakes ?? 64,
      logger: options.logger ?? { warn: (m, f) => console.warn(m, f ?? {}) },
    };
    this.#key = importSecret(options.secret);
    this.#server = Deno.serve(
      { hostname: this.#opts.hostname, port: options.port ?? 0, onListen() {} },
      (req, info) => this.#accept(req, info),
    );
    this.#heartbeat = setInterval(() => this.#tick(), this.#opts.heartbeatMs);
    for (const p of options.peers ?? []) this.addPeer(p);
  }

  /** The bound cluster port. */
  get port(): number {
    return this.#server.addr.port;
  }

  /** This node's cluster address, `host:port`. */
  get address(): string {
    return `${this.#server.addr.hostname}:${this.port}`;
  }

  /**
   * Adds a peer or updates its address. This node dials it when its id is higher than ours and the address
   * is known. False when `peer.id` is ours, the address is not `host:port`, or the transport is closed.
   */
  addPeer(peer: PeerAddress): boolean {
    if (this.#closed || peer.id === this.self || peer.id === "") return false;
    if (peer.address !== undefined && !/^[^\s/]+:\d{1,5}$/.test(peer.address)) return false;
    const p = this.#peer(peer.id);
    if (peer.address !== undefined) p.address = peer.address;
    this.#scheduleDial(p);
    return true;
  }

  /** Forgets a peer: closes its connection (peer-down fires if it was up), drops its queue. */
  removePeer(id: string): void {
    const p = this.#peers.get(id);
    if (!p) return;
    this.#setUp(p, false);
    this.#peers.delete(id);
    clearTimeout(p.dialTimer);
    clearTimeout(p.retryTimer);
    this.#clearQueue(p);
    for (const c of [p.conn, p.dialing]) if (c) this.#drop(c, 1000, "peer removed");
  }

  /** Ids of the peers currently connected. */
  connectedPeers(): string[] {
    return [...this.#peers.values()].filter((p) => p.up).map((p) => p.id);
  }

  send(envelope: Envelope): boolean {
    if (this.#closed || envelope.from !== this.self) return this.#refuse();
    const p = this.#peers.get(envelope.to);
    if (!p || p.queue.length >= this.#opts.maxQueue) return this.#refuse();
    let text: string;
    try {
      text = JSON.stringify(envelope);
    } catch {
      return this.#refuse();
    }
    const bytes = utf8Length(text);
    if (bytes + 2 > this.#opts.maxFrameBytes || p.queueBytes + bytes > this.#opts.maxQueueBytes) {
      return this.#refuse();
    }
    p.queue.push({ text, bytes });
    p.queueBytes += bytes;
    this.#stats.queued++;
    this.#scheduleFlush(p);
    return true;
  }

  onMessage(handler: MessageHandler): () => void {
    this.#handlers.add(handler);
    return () => this.#handlers.delete(handler);
  }

  onPeer(handler: PeerHandler): () => void {
    this.#peerHandlers.add(handler);
    return () => this.#peerHandlers.delete(handler);
  }

  stats(): WebSocketStats {
    return { ...this.#stats };
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#heartbeat);
    for (const p of this.#peers.values()) {
      clearTimeout(p.dialTimer);
      clearTimeout(p.retryTimer);
      this.#clearQueue(p);
    }
    const conns = [...this.#conns];
    for (const c of conns) {
      c.phase = "closed";
      try {
        c.socket.close(1001, "going away");
      } catch { /* already closing */ }
    }
    let timer: Timer | undefined;
    const grace = new Promise<void>((resolve) => timer = setTimeout(resolve, 1000));
    await Promise.race([Promise.all(conns.filter((c) => !c.silent).map((c) => c.closed)), grace]);
    clearTimeout(timer);
    for (const c of conns) c.socket.terminate();
    // Client sockets are destroyed by now; a server socket whose peer never answers the close stays with the
    // runtime until its TCP connection ends (Deno's server WebSocket cannot be aborted).
    await Promise.all(conns.filter((c) => c.side === "client").map((c) => c.closed));
    await this.#server.shutdown();
  }

  // --- peers and queues --------------------------------------------------------------------------------

  #peer(id: string): Peer {
    let p = this.#peers.get(id);
    if (!p) {
      p = { id, queue: [], queueBytes: 0, up: false, attempts: 0, flushScheduled: false };
      this.#peers.set(id, p);
    }
    return p;
  }

  #clearQueue(p: Peer): void {
    this.#stats.queued -= p.queue.length;
    p.queue = [];
    p.queueBytes = 0;
  }

  #refuse(): false {
    this.#stats.dropped++;
    return false;
  }

  #scheduleFlush(p: Peer): void {
    if (p.flushScheduled || p.retryTimer !== undefined || p.conn?.phase !== "open") return;
    p.flushScheduled = true;
    queueMicrotask(() => {
      p.flushScheduled = false;
      this.#flush(p);
    });
  }

  /** Writes the peer's queue as frames until it is empty or the socket buffers too much. */
  #flush(p: Peer): void {
    const c = p.conn;
    if (this.#closed || !c || c.phase !== "open") return;
    while (p.queue.length > 0) {
      if (c.socket.buffered() > this.#opts.highWaterBytes) {
        p.retryTimer = setTimeout(() => {
          p.retryTimer = undefined;
          this.#flush(p);
        }, 5);
        return;
      }
      const { frame, count, bytes } = takeFrame(p.queue, this.#opts.maxFrameBytes, this.#opts.maxBatch);
      p.queueBytes -= bytes;
      try {
        c.socket.send(frame);
      } catch (error) {
        // The socket died under us: these envelopes are lost (at most once), the close event follows.
        this.#stats.queued -= count;
        this.#warnOnce(c, "send", "transport: send failed", { peer: p.id, error: String(error) });
        return;
      }
      this.#stats.queued -= count;
      this.#stats.sent += count;
      this.#stats.frames++;
    }
  }

  #setUp(p: Peer, up: boolean): void {
    if (p.up === up) return;
    p.up = up;
    fanOut(this.#peerHandlers, [p.id, up], (error) => this.#warn("transport: peer handler threw", { error }));
  }

  // --- connections ---------------------------------------------------------------------------------------

  #newConn(side: Conn["side"], socket: Socket, remote: string, peer?: string): Conn {
    let markClosed!: () => void;
    const closed = new Promise<void>((resolve) => markClosed = resolve);
    const c: Conn = {
      side,
      socket,
      phase: side === "server" ? "auth" : "challenge",
      peer,
      nonce: newNonce(),
      lastSeen: performance.now(),
      busy: false,
      backlog: [],
      warned: new Set(),
      closed,
      markClosed,
      remote,
      pending: side === "server",
      silent: false,
    };
    this.#conns.add(c);
    return c;
  }

  /** Closes a connection on our initiative; the peer goes down now if it was this connection. */
  #drop(c: Conn, code: number, reason: string): void {
    this.#detach(c);
    try {
      c.socket.close(code, reason);
    } catch {
      c.socket.terminate();
    }
  }

  /** Forgets a connection (closed or being closed); the peer goes down and the dialer redials. */
  #detach(c: Conn): void {
    if (c.phase === "closed") return;
    const wasOpen = c.phase === "open";
    c.phase = "closed";
    const p = c.peer === undefined ? undefined : this.#peers.get(c.peer);
    if (!p) return;
    if (p.dialing === c) p.dialing = undefined;
    if (p.conn === c) {
      p.conn = undefined;
      clearTimeout(p.retryTimer);
      p.retryTimer = undefined;
      this.#setUp(p, false);
    }
    if (wasOpen && p.attempts === 0) p.attempts = 1; // a dropped link waits one backoff step before redialing
    this.#scheduleDial(p);
  }

  #unpend(c: Conn): void {
    if (!c.pending) return;
    c.pending = false;
    this.#pendingInbound--;
  }

  #onClosed(c: Conn): void {
    clearTimeout(c.deadline);
    this.#unpend(c);
    this.#conns.delete(c);
    this.#detach(c);
    c.markClosed();
  }

  /** A handshake completed: the connection carries envelopes from now on. */
  #attach(c: Conn, id: string): void {
    clearTimeout(c.deadline);
    this.#unpend(c);
    const p = this.#peer(id);
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
    this.#scheduleFlush(p);
  }

  /** Handles a text frame: handshake steps are serialized, data frames dispatched. */
  #onText(c: Conn, text: string): void {
    if (c.phase === "closed") return;
    c.lastSeen = performance.now();
    if (c.busy) {
      if (c.backlog.length >= MAX_BACKLOG) return this.#drop(c, POLICY_VIOLATION, "too many frames");
      c.backlog.push(text);
      return;
    }
    if (c.phase === "open") return this.#onData(c, text);
    c.busy = true;
    this.#handshakeStep(c, text)
      .catch((error) => this.#reject(c, "handshake error", { error: String(error) }))
      .finally(() => {
        c.busy = false;
        const backlog = c.backlog.splice(0);
        for (const t of backlog) this.#onText(c, t);
      });
  }

  async #handshakeStep(c: Conn, text: string): Promise<void> {
    const f = text.length <= MAX_HANDSHAKE_FRAME ? parseHandshake(text) : undefined;
    const key = await this.#key;
    if (c.phase === "auth" && f?.t === "auth") { // server: the client proves itself
      if (!(await verifyProof(key, c.nonce, f.nodeId, f.hmac))) {
        return this.#reject(c, "wrong cluster secret", { peer: f.nodeId });
      }
      if (f.nodeId === this.self || f.nodeId === "") {
        return this.#reject(c, "peer claims an invalid id", { peer: f.nodeId });
      }
      const hmac = await prove(key, f.nonce, this.self);
      if (c.phase !== "auth" || this.#closed) return;
      c.socket.send(JSON.stringify({ t: "ok", nodeId: this.self, hmac }));
      this.#attach(c, f.nodeId);
    } else if (c.phase === "challenge" && f?.t === "challenge") { // client: prove ourselves
      const hmac = await prove(key, f.nonce, this.self);
      if (c.phase !== "challenge") return;
      c.phase = "ok";
      c.socket.send(JSON.stringify({ t: "auth", nodeId: this.self, nonce: c.nonce, hmac }));
    } else if (c.phase === "ok" && f?.t === "ok") { // client: the server proves itself
      if (f.nodeId !== c.peer) {
        return this.#reject(c, "unexpected node id", { peer: c.peer, claimed: f.nodeId });
      }
      if (!(await verifyProof(key, c.nonce, f.nodeId, f.hmac))) {
        return this.#reject(c, "server failed to prove the cluster secret", { peer: f.nodeId });
      }
      if (c.phase !== "ok" || this.#closed) return;
      this.#attach(c, f.nodeId);
    } else {
      this.#reject(c, "unexpected handshake frame", { peer: c.peer });
    }
  }

  #reject(c: Conn, reason: string, fields: Record<string, unknown>): void {
    if (c.phase === "closed") return;
    this.#stats.rejectedPeers++;
    this.#warn(`transport: rejected peer: ${reason}`, { ...fields, remote: c.remote, side: c.side });
    this.#drop(c, POLICY_VIOLATION, "policy violation");
  }

  #onData(c: Conn, text: string): void {
    const max = this.#opts.maxFrameBytes;
    if (text.length > max || (text.length * 3 > max && utf8Length(text) > max)) {
      return this.#drop(c, 1009, "frame too large");
    }
    const f = decodeFrame(text);
    if (f.kind === "ping") return;
    if (f.kind === "invalid") {
      return this.#warnOnce(c, f.reason, "transport: ignored a frame", { peer: c.peer, reason: f.reason });
    }
    for (const item of f.items) {
      if (c.phase !== "open" && c.phase !== "closed") return;
      if (!isEnvelope(item)) {
        this.#warnOnce(c, "shape", "transport: ignored a malformed envelope", { peer: c.peer });
      } else if (item.v !== ENVELOPE_VERSION) {
        this.#warnOnce(c, `v${item.v}`, "transport: ignored an envelope of an unknown version", {
          peer: c.peer,
          v: item.v,
        });
      } else if (item.from !== c.peer || item.to !== this.self) {
        this.#warnOnce(c, "route", "transport: ignored a misaddressed envelope", {
          peer: c.peer,
          from: item.from,
          to: item.to,
        });
      } else if (!this.#closed) {
        this.#stats.received++;
        fanOut(this.#handlers, [item], (error) => this.#warn("transport: message handler threw", { error }));
      }
    }
  }

  #warnOnce(c: Conn, key: string, message: string, fields: Record<string, unknown>): void {
    if (c.warned.has(key)) return;
    c.warned.add(key);
    this.#warn(message, fields);
  }

  #warn(message: string, fields: Record<string, unknown>): void {
    if (fields.error !== undefined) fields = { ...fields, error: String(fields.error) };
    this.#opts.logger.warn(message, { node: this.self, ...fields });
  }

  // --- server side -----------------------------------------------------------------------------------------

  #accept(req: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>): Response {
    if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("cluster transport: WebSocket only\n", { status: 426 });
    }
    if (this.#closed || this.#pendingInbound >= this.#opts.maxPendingHandshakes) {
      return new Response("busy\n", { status: 503 });
    }
    const remote = `${info.remoteAddr.hostname}:${info.remoteAddr.port}`;
    const { socket, response } = Deno.upgradeWebSocket(req, { idleTimeout: 0 });
    const c = this.#newConn("server", {
      send: (text) => socket.send(text),
      close: (code, reason) => socket.close(code, reason),
      terminate: () => {
        try {
          socket.close(1001, "going away");
        } catch { /* closing */ }
      },
      buffered: () => socket.bufferedAmount,
    }, remote);
    this.#pendingInbound++;
    c.deadline = setTimeout(() => {
      if (c.phase === "auth") this.#reject(c, "handshake timeout", {});
    }, this.#opts.peerTimeoutMs);
    socket.onopen = () => {
      if (this.#closed) return socket.close(1001, "going away");
      c.lastSeen = performance.now();
      socket.send(JSON.stringify({ t: "challenge", nonce: c.nonce }));
    };
    socket.onmessage = (e) => {
      if (typeof e.data === "string") this.#onText(c, e.data);
      else this.#drop(c, 1003, "text frames only");
    };
    socket.onerror = () => {};
    socket.onclose = () => this.#onClosed(c);
    return response;
  }

  // --- client side -----------------------------------------------------------------------------------------

  #scheduleDial(p: Peer): void {
    if (this.#closed || p.address === undefined || this.self > p.id) return;
    if (p.conn || p.dialing || p.dialTimer !== undefined || this.#peers.get(p.id) !== p) return;
    const delay = p.attempts === 0 ? 0 : this.#backoff(p.attempts);
    p.dialTimer = setTimeout(() => {
      p.dialTimer = undefined;
      this.#dial(p);
    }, delay);
  }

  #backoff(attempt: number): number {
    return backoffDelay(attempt, this.#opts.backoffMinMs, this.#opts.backoffMaxMs, this.#opts.random);
  }

  #dial(p: Peer): void {
    if (this.#closed || p.address === undefined || p.conn || p.dialing) return;
    p.attempts++;
    let ws: WsSocket;
    try {
      ws = new WsClient(`ws://${p.address}`, {
        perMessageDeflate: false,
        maxPayload: this.#opts.maxFrameBytes,
        handshakeTimeout: this.#opts.peerTimeoutMs,
      });
    } catch (error) {
      this.#warn("transport: cannot dial peer", { peer: p.id, address: p.address, error });
      return this.#scheduleDial(p);
    }
    const c = this.#newConn(
      "client",
      {
        send: (text) => ws.send(text),
        close: (code, reason) => ws.close(code, reason),
        terminate: () => ws.terminate(),
        buffered: () => ws.bufferedAmount,
      },
      p.address,
      p.id,
    );
    p.dialing = c;
    c.deadline = setTimeout(() => {
      if (c.phase === "challenge" || c.phase === "ok") this.#drop(c, POLICY_VIOLATION, "handshake timeout");
    }, this.#opts.peerTimeoutMs);
    ws.on("open", () => c.lastSeen = performance.now());
    ws.on("message", (data, isBinary) => {
      if (isBinary) return this.#drop(c, 1003, "text frames only");
      this.#onText(c, data.toString());
    });
    ws.on("error", () => {}); // the close event follows
    ws.on("close", (code) => {
      if (code === POLICY_VIOLATION && c.phase !== "closed" && c.phase !== "open") {
        this.#warn("transport: peer refused our handshake", { peer: p.id, address: p.address });
      }
      this.#onClosed(c);
    });
  }

  // --- heartbeats --------------------------------------------------------------------------------------------

  #tick(): void {
    const now = performance.now();
    for (const c of this.#conns) {
      if (c.phase !== "open") continue;
      if (now - c.lastSeen > this.#opts.peerTimeoutMs) {
        this.#warn("transport: peer silent, dropping its connection", {
          peer: c.peer,
          silentMs: now - c.lastSeen,
        });
        c.silent = true;
        this.#detach(c);
        c.socket.terminate();
        continue;
      }
      try {
        c.socket.send(PING);
      } catch { /* closing: the close event follows */ }
    }
  }
}

/**
 * The delay before the `attempt`-th redial (1-based): `minMs` doubling up to `maxMs`, with "equal jitter"
 * (half of it fixed, half random).
 *
 * @example
 * ```ts
 * import { backoffDelay } from "./websocket.ts";
 * if (backoffDelay(3, 100, 5000, () => 1) !== 400) throw new Error();
 * ```
 */
export function backoffDelay(attempt: number, minMs: number, maxMs: number, random: () => number): number {
  const base = Math.min(maxMs, minMs * 2 ** Math.min(Math.max(attempt, 1) - 1, 30));
  return base / 2 + random() * (base / 2);
}
