/**
 * Options of a `WebSocketTransport`, their defaults, and the context its pieces (listener, dialer,
 * connections, peer table, send queues) share: identity, settings, key, counters, handlers and logger.
 *
 * @module
 */

import {
  DEFAULT_MAX_QUEUE,
  TransportHandlers,
  type TransportLogger,
  type TransportStats,
} from "./transport.ts";
import { importSecret } from "./handshake.ts";

/** A peer: its node id and, for the peers this node dials, its cluster address `host:port`. */
export interface PeerAddress {
  /** The peer's node id. */
  id: string;
  /** Its cluster address `host:port`; needed only by the node that dials it (the lower id). */
  address?: string;
}

/**
 * TLS on the cluster port: the listener serves `cert` and `key` (wss://), and the dialer dials wss:// and
 * verifies the peer's certificate and name against the default roots plus `ca`. Never falls back to plain.
 */
export interface TransportTls {
  /** The certificate (chain) served, PEM. */
  cert: string;
  /** Its private key, PEM. */
  key: string;
  /** Certificates (PEM) trusted besides the default roots when dialing; `[cert]` by default. */
  ca?: string[];
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
  /** TLS on the cluster port and for dialing peers; plain WebSockets without it. */
  tls?: TransportTls;
}

/** The options that tune a running transport, with every default filled in. */
export type WebSocketSettings = Required<
  Omit<WebSocketTransportOptions, "peers" | "secret" | "port" | "self" | "tls">
>;

/** What the pieces of one `WebSocketTransport` share. */
export interface WebSocketContext {
  /** This node's id. */
  readonly self: string;
  /** The options, with their defaults. */
  readonly settings: WebSocketSettings;
  /** The cluster secret as an HMAC key. */
  readonly key: Promise<CryptoKey>;
  /** TLS on the cluster port and when dialing (with `ca` filled in), or none. */
  readonly tls: Required<TransportTls> | undefined;
  /** The transport's counters, updated in place. */
  readonly stats: TransportStats;
  /** The registered message and peer handlers. */
  readonly handlers: TransportHandlers;
  /** True once the transport is closing. */
  closed: boolean;
  /** Reports to the logger, tagged with this node's id (an `error` field is turned into a string). */
  warn(message: string, fields: Record<string, unknown>): void;
}

const MIB = 1024 * 1024;

/** Fills in the defaults of `options`; throws when the secret is empty. */
export function resolveSettings(options: WebSocketTransportOptions): WebSocketSettings {
  const secretLength = typeof options.secret === "string" ? options.secret.length : options.secret.byteLength;
  if (secretLength === 0) throw new Error("websocket transport: the cluster secret must not be empty");
  return {
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
}

/**
 * The shared context of a new transport: settings, key (imported from the secret), zeroed counters, no
 * handlers. Throws when the secret is empty.
 *
 * @example
 * ```ts
 * import { createContext } from "./websocket_options.ts";
 * const ctx = createContext({ self: "a", secret: "s", maxBatch: 0 });
 * if (ctx.settings.maxBatch !== 1 || ctx.settings.heartbeatMs !== 500 || ctx.stats.sent !== 0) throw new Error();
 * await ctx.key;
 * ```
 */
export function createContext(options: WebSocketTransportOptions): WebSocketContext {
  const settings = resolveSettings(options);
  const self = options.self;
  return {
    self,
    settings,
    key: importSecret(options.secret),
    tls: options.tls && { ...options.tls, ca: options.tls.ca ?? [options.tls.cert] },
    stats: { queued: 0, sent: 0, received: 0, dropped: 0, rejectedPeers: 0, frames: 0 },
    handlers: new TransportHandlers(),
    closed: false,
    warn(message, fields) {
      if (fields.error !== undefined) fields = { ...fields, error: String(fields.error) };
      settings.logger.warn(message, { node: self, ...fields });
    },
  };
}
