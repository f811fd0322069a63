/**
 * The mutual handshake of the WebSocket transport: both ends prove that they hold the cluster secret by
 * signing the other end's random nonce (HMAC-SHA256, WebCrypto), bound to their node id.
 *
 * ```
 * server → client  {t: "challenge", nonce: sN}
 * client → server  {t: "auth", nodeId: C, nonce: cN, hmac: HMAC(secret, sN + C)}
 * server → client  {t: "ok", nodeId: S, hmac: HMAC(secret, cN + S)}     (or close 1008)
 * ```
 *
 * `handshakeStep` runs these steps on a connection; the connection serializes them.
 *
 * @module
 */

import type { Connection } from "./connection.ts";
import type { WebSocketContext } from "./websocket_options.ts";

/** The close code of a refused handshake (RFC 6455 "policy violation"). */
export const POLICY_VIOLATION = 1008;

/** Handshake frames. */
export type HandshakeFrame =
  | { t: "challenge"; nonce: string }
  | { t: "auth"; nodeId: string; nonce: string; hmac: string }
  | { t: "ok"; nodeId: string; hmac: string };

const encoder = new TextEncoder();

/** Longer frames are not handshake frames. */
const MAX_HANDSHAKE_FRAME = 4096;

/** Imports the cluster secret as an HMAC-SHA256 key. */
export function importSecret(secret: string | Uint8Array): Promise<CryptoKey> {
  const raw = typeof secret === "string" ? encoder.encode(secret) : new Uint8Array(secret);
  return crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
}

/** A fresh random nonce (128 bits, hex). */
export function newNonce(): string {
  return toHex(crypto.getRandomValues(new Uint8Array(16)));
}

/**
 * The proof that the holder of `key` is `nodeId`, answering `nonce`: hex HMAC-SHA256(secret, nonce + nodeId).
 *
 * @example
 * ```ts
 * import { importSecret, prove, verifyProof } from "./handshake.ts";
 * const key = await importSecret("s3cret");
 * const proof = await prove(key, "n0nce", "node-a");
 * if (!(await verifyProof(key, "n0nce", "node-a", proof))) throw new Error();
 * ```
 */
export async function prove(key: CryptoKey, nonce: string, nodeId: string): Promise<string> {
  const sig = await crypto.subtle.sign("HMAC", key, encoder.encode(nonce + nodeId));
  return toHex(new Uint8Array(sig));
}

/** Checks a proof in constant time (for proofs of the expected length). */
export async function verifyProof(
  key: CryptoKey,
  nonce: string,
  nodeId: string,
  proof: unknown,
): Promise<boolean> {
  if (typeof proof !== "string") return false;
  return timingSafeEqual(encoder.encode(await prove(key, nonce, nodeId)), encoder.encode(proof));
}

/** Compares two byte strings without an early exit (only the length leaks). */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** Parses a handshake frame; undefined when `text` is not one. */
export function parseHandshake(text: string): HandshakeFrame | undefined {
  let x: unknown;
  try {
    x = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof x !== "object" || x === null) return undefined;
  const f = x as Record<string, unknown>;
  const str = (k: string) => typeof f[k] === "string" && (f[k] as string).length <= 256;
  if (f.t === "challenge" && str("nonce")) return f as HandshakeFrame;
  if (f.t === "auth" && str("nodeId") && str("nonce") && str("hmac")) return f as HandshakeFrame;
  if (f.t === "ok" && str("nodeId") && str("hmac")) return f as HandshakeFrame;
  return undefined;
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The server's first frame: its nonce, for the client to sign. */
export function challengeFrame(nonce: string): string {
  return JSON.stringify({ t: "challenge", nonce });
}

/**
 * Runs one step of the handshake on `c` for the frame `text`: the server checks the client's proof and
 * proves itself; the client proves itself, then checks the server's proof. A completed handshake hands the
 * connection to `attach` with the peer's id; a failed one rejects it (close 1008).
 */
export async function handshakeStep(
  ctx: WebSocketContext,
  c: Connection,
  text: string,
  attach: (c: Connection, peer: string) => void,
): Promise<void> {
  const f = text.length <= MAX_HANDSHAKE_FRAME ? parseHandshake(text) : undefined;
  const key = await ctx.key;
  if (c.phase === "auth" && f?.t === "auth") { // server: the client proves itself
    if (!(await verifyProof(key, c.nonce, f.nodeId, f.hmac))) {
      return c.reject("wrong cluster secret", { peer: f.nodeId });
    }
    if (f.nodeId === ctx.self || f.nodeId === "") {
      return c.reject("peer claims an invalid id", { peer: f.nodeId });
    }
    const hmac = await prove(key, f.nonce, ctx.self);
    if (c.phase !== "auth" || ctx.closed) return;
    c.socket.send(JSON.stringify({ t: "ok", nodeId: ctx.self, hmac }));
    attach(c, f.nodeId);
  } else if (c.phase === "challenge" && f?.t === "challenge") { // client: prove ourselves
    const hmac = await prove(key, f.nonce, ctx.self);
    if (c.phase !== "challenge") return;
    c.phase = "ok";
    c.socket.send(JSON.stringify({ t: "auth", nodeId: ctx.self, nonce: c.nonce, hmac }));
  } else if (c.phase === "ok" && f?.t === "ok") { // client: the server proves itself
    if (f.nodeId !== c.peer) {
      return c.reject("unexpected node id", { peer: c.peer, claimed: f.nodeId });
    }
    if (!(await verifyProof(key, c.nonce, f.nodeId, f.hmac))) {
      return c.reject("server failed to prove the cluster secret", { peer: f.nodeId });
    }
    if (c.phase !== "ok" || ctx.closed) return;
    attach(c, f.nodeId);
  } else {
    c.reject("unexpected handshake frame", { peer: c.peer });
  }
}
