/**
 * The client side of a `WebSocketTransport`: dials the peers whose id is higher than ours and whose address
 * is known, with `npm:ws`, which sets TCP_NODELAY (Deno's built-in client stalls ~40 ms per round trip on
 * messages of 1 KB and more, from Nagle's algorithm meeting delayed ACKs). A failed or dropped link is
 * redialed with exponential backoff (`backoffDelay`). With TLS it dials wss:// and verifies the peer's
 * certificate and name (the default roots plus the transport's `ca`); a refused certificate is logged, and
 * never retried in plain.
 *
 * @module
 */

import wsModule from "npm:ws@8.23.0";
import type { Connections } from "./connections.ts";
import type { Socket } from "./connection.ts";
import { POLICY_VIOLATION } from "./handshake.ts";
import type { Peer } from "./peers.ts";
import type { WebSocketContext } from "./websocket_options.ts";

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
  on(event: "error", listener: (error: Error & { code?: unknown }) => void): this;
  on(event: "close", listener: (code: number) => void): this;
}

/** `new WebSocket(url, options)` of `npm:ws`; `ca` goes to `tls.connect` (wss:// only). */
type WsClient = new (
  url: string,
  options: { perMessageDeflate: boolean; maxPayload: number; handshakeTimeout: number; ca?: string[] },
) => WsSocket;

const WsClient = wsModule as unknown as WsClient;

/** Dials peers, and redials them after failures with backoff. */
export class Dialer {
  readonly #ctx: WebSocketContext;
  readonly #conns: Connections;
  readonly #isCurrent: (p: Peer) => boolean;

  /** A dialer opening its connections in `conns`; it dials only peers for which `isCurrent` holds. */
  constructor(ctx: WebSocketContext, conns: Connections, isCurrent: (p: Peer) => boolean) {
    this.#ctx = ctx;
    this.#conns = conns;
    this.#isCurrent = isCurrent;
  }

  /**
   * Schedules a dial of `p` if this node is the one to dial it (the lower id, knowing its address) and it is
   * neither connected, nor being dialed, nor due: at once on the first attempt, after a backoff afterwards.
   */
  schedule(p: Peer): void {
    if (this.#ctx.closed || p.address === undefined || this.#ctx.self > p.id) return;
    if (p.conn || p.dialing || p.dialTimer !== undefined || !this.#isCurrent(p)) return;
    const { backoffMinMs, backoffMaxMs, random } = this.#ctx.settings;
    const delay = p.attempts === 0 ? 0 : backoffDelay(p.attempts, backoffMinMs, backoffMaxMs, random);
    p.dialTimer = setTimeout(() => {
      p.dialTimer = undefined;
      this.#dial(p);
    }, delay);
  }

  #dial(p: Peer): void {
    if (this.#ctx.closed || p.address === undefined || p.conn || p.dialing) return;
    p.attempts++;
    const { maxFrameBytes, peerTimeoutMs } = this.#ctx.settings;
    let ws: WsSocket;
    try {
      // Deno's node:tls adds `ca` to its default roots and checks the name; never rejectUnauthorized: false.
      const tls = this.#ctx.tls;
      ws = new WsClient(`${tls ? "wss" : "ws"}://${p.address}`, {
        perMessageDeflate: false,
        maxPayload: maxFrameBytes,
        handshakeTimeout: peerTimeoutMs,
        ...(tls ? { ca: tls.ca } : {}),
      });
    } catch (error) {
      this.#ctx.warn("transport: cannot dial peer", { peer: p.id, address: p.address, error });
      return this.schedule(p);
    }
    const c = this.#conns.open({ side: "client", socket: clientSocket(ws), remote: p.address, peer: p.id });
    p.dialing = c;
    c.setDeadline(peerTimeoutMs, () => {
      if (c.phase === "challenge" || c.phase === "ok") c.drop(POLICY_VIOLATION, "handshake timeout");
    });
    ws.on("open", () => c.lastSeen = performance.now());
    ws.on("message", (data, isBinary) => {
      if (isBinary) return c.drop(1003, "text frames only");
      c.receive(data.toString());
    });
    ws.on("error", (error) => { // the close event follows
      const why = securityFailure(error);
      if (why) this.#ctx.warn(`transport: ${why}`, { peer: p.id, address: p.address, error: error.message });
    });
    ws.on("close", (code) => {
      if (code === POLICY_VIOLATION && c.phase !== "closed" && c.phase !== "open") {
        this.#ctx.warn("transport: peer refused our handshake", { peer: p.id, address: p.address });
      }
      c.socketClosed();
    });
  }
}

/**
 * Why a dial failed, when the reason is TLS (a certificate refused, a name mismatch, TLS on one side only)
 * rather than the network (a peer down or restarting, which the redial handles quietly).
 */
function securityFailure(error: Error & { code?: unknown }): string | undefined {
  const code = typeof error.code === "string" ? error.code : "";
  if (/CERT|SIGNATURE|ISSUER|SELF_SIGNED|ALTNAME/.test(code) || /certificate/i.test(error.message)) {
    return "peer's TLS certificate refused";
  }
  if (/SSL|TLS/.test(code)) return "TLS handshake with peer failed (is TLS on at both ends?)";
  if (code.startsWith("HPE_")) return "peer's answer is not HTTP (is TLS on at both ends?)";
  return undefined;
}

/** An `npm:ws` client socket as a connection's `Socket`. */
function clientSocket(ws: WsSocket): Socket {
  return {
    send: (text) => ws.send(text),
    close: (code, reason) => ws.close(code, reason),
    terminate: () => ws.terminate(),
    buffered: () => ws.bufferedAmount,
  };
}

/**
 * The delay before the `attempt`-th redial (1-based): `minMs` doubling up to `maxMs`, with "equal jitter"
 * (half of it fixed, half random).
 *
 * @example
 * ```ts
 * import { backoffDelay } from "./dialer.ts";
 * if (backoffDelay(3, 100, 5000, () => 1) !== 400) throw new Error();
 * ```
 */
export function backoffDelay(attempt: number, minMs: number, maxMs: number, random: () => number): number {
  const base = Math.min(maxMs, minMs * 2 ** Math.min(Math.max(attempt, 1) - 1, 30));
  return base / 2 + random() * (base / 2);
}
