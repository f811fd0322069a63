/**
 * Wire frames of the WebSocket transport (text frames, JSON):
 *
 * - a data frame is a JSON array of envelopes: every envelope queued for a peer in the same tick goes out
 *   as one frame (bounded by the maximum frame size and the batch size);
 * - `{"t":"ping"}` is a heartbeat;
 * - `{"t":"challenge"|"auth"|"ok", ...}` are handshake frames (`handshake.ts`).
 *
 * @module
 */
import { utf8Length } from "../core/json.ts";
export { utf8Length };

/** The heartbeat frame. */
export const PING = '{"t":"ping"}';

/** An envelope serialized for the wire, with its UTF-8 size. */
export interface Encoded {
  /** The envelope as JSON. */
  text: string;
  /** Its size in UTF-8 bytes. */
  bytes: number;
}

/**
 * Takes envelopes from the head of `queue` into one data frame of at most `maxBytes` bytes and `maxCount`
 * envelopes (at least one envelope: each one fits alone, see the size check at send). Mutates `queue`;
 * `bytes` is the size of the envelopes taken.
 *
 * @example
 * ```ts
 * import { takeFrame } from "./frames.ts";
 * const q = [{ text: "1", bytes: 1 }, { text: "2", bytes: 1 }, { text: "3", bytes: 1 }];
 * const f = takeFrame(q, 1024, 2);
 * if (f.frame !== "[1,2]" || f.count !== 2 || q.length !== 1) throw new Error();
 * ```
 */
export function takeFrame(
  queue: Encoded[],
  maxBytes: number,
  maxCount: number,
): { frame: string; count: number; bytes: number } {
  let size = 2; // "[" and "]"
  let bytes = 0; // of the envelopes alone
  let count = 0;
  while (count < queue.length && count < maxCount) {
    const add = queue[count].bytes + (count > 0 ? 1 : 0);
    if (count > 0 && size + add > maxBytes) break;
    size += add;
    bytes += queue[count].bytes;
    count++;
  }
  const taken = queue.splice(0, count);
  return { frame: `[${taken.map((e) => e.text).join(",")}]`, count, bytes };
}

/** A decoded incoming frame. */
export type Incoming =
  | { kind: "data"; items: unknown[] }
  | { kind: "ping" }
  | { kind: "invalid"; reason: string };

/** Decodes a frame received on an authenticated connection. */
export function decodeFrame(text: string): Incoming {
  let x: unknown;
  try {
    x = JSON.parse(text);
  } catch {
    return { kind: "invalid", reason: "not JSON" };
  }
  if (Array.isArray(x)) return { kind: "data", items: x };
  if (typeof x === "object" && x !== null && (x as { t?: unknown }).t === "ping") return { kind: "ping" };
  return { kind: "invalid", reason: "unknown frame" };
}
