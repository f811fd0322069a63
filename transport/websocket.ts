/**
 * The WebSocket transport between cluster nodes.
 *
 * - **Server** (`listener.ts`): `Deno.serve` on the cluster port, upgrading with `Deno.upgradeWebSocket`.
 * - **Client** (`dialer.ts`): `npm:ws`, which sets TCP_NODELAY (Deno's built-in client stalls ~40 ms per
 *   round trip on messages of 1 KB and more, from Nagle's algorithm meeting delayed ACKs).
 * - **One connection per pair, dialed by the lower node id** (string order). A node dials the peers with a
 *   higher id whose address it knows; it accepts any node that proves the secret, and learns its id from the
 *   handshake. So the lower id of a pair must know the higher's address; the higher needs nothing (to queue
 *   envelopes for the lower before it connects, add it with `addPeer`, address optional). No duplicate
 *   connections ever race, so per-sender ordering holds without a tie-break. A new inbound connection from
 *   a peer replaces its old one (the peer restarted) (`peers.ts`).
 * - **TLS** (option `tls`): the listener serves wss:// with the certificate, the dialer dials wss:// and
 *   verifies the peer's certificate and name (default roots plus `tls.ca`); no fallback to plain.
 * - **Handshake** (`handshake.ts`): mutual HMAC-SHA256 proofs of the cluster secret over each side's random
 *   nonce. A failed proof closes with 1008 (policy violation), logs the peer and counts `rejectedPeers`.
 * - **Heartbeats** (`connections.ts`): both ends send `{"t":"ping"}` every `heartbeatMs`; a connection
 *   silent for `peerTimeoutMs` is dropped (peer down). The dialer redials with exponential backoff (100 ms
 *   doubling to 5 s, "equal jitter": half fixed, half random).
 * - **Queues and batching** (`send_queue.ts`): each peer has a bounded queue (10,000 envelopes); `send`
 *   returns false when it is full. Envelopes queued in the same tick go out as one frame (a JSON array),
 *   flushed in a microtask; flushing pauses while the socket buffers more than `highWaterBytes`
 *   (back-pressure reaches `send`).
 *
 * One connection's framing, handshake serialization and close live in `connection.ts`.
 *
 * @module
 */

import type { Envelope, MessageHandler, PeerHandler, Transport, TransportStats } from "./transport.ts";
import { utf8Length } from "./frames.ts";
import { handshakeStep } from "./handshake.ts";
import { Connections } from "./connections.ts";
import { Dialer } from "./dialer.ts";
import { Listener } from "./listener.ts";
import { PeerTable } from "./peers.ts";
import {
  createContext,
  type PeerAddress,
  type WebSocketContext,
  type WebSocketTransportOptions,
} from "./websocket_options.ts";

export type { PeerAddress, TransportTls, WebSocketTransportOptions } from "./websocket_options.ts";
export { backoffDelay } from "./dialer.ts";

/** The counters of a `WebSocketTransport`: `frames` counts data frames written. */
export type WebSocketStats = TransportStats;

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
  /** This node's id. */
  readonly self: string;
  readonly #ctx: WebSocketContext;
  readonly #peers: PeerTable;
  readonly #conns: Connections;
  readonly #dialer: Dialer;
  readonly #listener: Listener;
  readonly #heartbeat: ReturnType<typeof setInterval>;
  #closing?: Promise<void>;

  /** Starts listening, heartbeats, and dials the seed peers; throws on an empty secret or a port in use. */
  constructor(options: WebSocketTransportOptions) {
    const ctx = createContext(options);
    this.self = ctx.self;
    this.#ctx = ctx;
    this.#peers = new PeerTable(ctx, (p) => this.#dialer.schedule(p));
    this.#conns = new Connections(ctx, {
      handshake: (c, text) => handshakeStep(ctx, c, text, (c, id) => this.#peers.attach(c, id)),
      detach: (c) => this.#peers.detach(c),
    });
    this.#dialer = new Dialer(ctx, this.#conns, (p) => this.#peers.isCurrent(p));
    this.#listener = new Listener(ctx, this.#conns, options.port ?? 0);
    this.#heartbeat = setInterval(() => this.#conns.heartbeat(), ctx.settings.heartbeatMs);
    for (const p of options.peers ?? []) this.addPeer(p);
  }

  /** The bound cluster port. */
  get port(): number {
    return this.#listener.addr.port;
  }

  /** This node's cluster address, `host:port`. */
  get address(): string {
    return `${this.#listener.addr.hostname}:${this.port}`;
  }

  /**
   * Adds a peer or updates its address. This node dials it when its id is higher than ours and the address
   * is known. False when `peer.id` is ours, the address is not `host:port`, or the transport is closed.
   */
  addPeer(peer: PeerAddress): boolean {
    if (this.#ctx.closed || peer.id === this.self || peer.id === "") return false;
    if (peer.address !== undefined && !/^[^\s/]+:\d{1,5}$/.test(peer.address)) return false;
    const p = this.#peers.ensure(peer.id);
    if (peer.address !== undefined) p.address = peer.address;
    this.#dialer.schedule(p);
    return true;
  }

  /** Forgets a peer: closes its connection (peer-down fires if it was up), drops its queue. */
  removePeer(id: string): void {
    this.#peers.remove(id);
  }

  /** Ids of the peers currently connected. */
  connectedPeers(): string[] {
    return this.#peers.connected();
  }

  /**
   * Queues an envelope for its peer, never blocking; false (counted in `dropped`) when the peer is unknown,
   * its queue is full (in envelopes or bytes), the envelope does not fit in a frame or does not serialize,
   * `from` is not `self`, or the transport is closed.
   */
  send(envelope: Envelope): boolean {
    if (this.#ctx.closed || envelope.from !== this.self) return this.#refuse();
    const p = this.#peers.get(envelope.to);
    if (!p || p.queue.full) return this.#refuse();
    let text: string;
    try {
      text = JSON.stringify(envelope);
    } catch {
      return this.#refuse();
    }
    return p.queue.offer({ text, bytes: utf8Length(text) }) || this.#refuse();
  }

  /** Registers a handler of incoming envelopes; returns a function that unregisters it. */
  onMessage(handler: MessageHandler): () => void {
    return this.#ctx.handlers.onMessage(handler);
  }

  /** Registers a peer up/down handler; returns a function that unregisters it. */
  onPeer(handler: PeerHandler): () => void {
    return this.#ctx.handlers.onPeer(handler);
  }

  /** A snapshot of the counters. */
  stats(): WebSocketStats {
    return { ...this.#ctx.stats };
  }

  /** Closes every connection (waiting up to a second for the other ends), drops queues, stops listening. */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    this.#ctx.closed = true;
    clearInterval(this.#heartbeat);
    this.#peers.stopAll();
    await this.#conns.closeAll();
    await this.#listener.shutdown();
  }

  #refuse(): false {
    this.#ctx.stats.dropped++;
    return false;
  }
}
