/**
 * One peer's bounded send queue: envelopes wait here (serialized) until the peer's connection is open.
 * Envelopes queued in the same tick go out as one frame (a JSON array), flushed in a microtask; flushing
 * pauses while the socket buffers more than `highWaterBytes`, so back-pressure reaches `send`.
 *
 * @module
 */

import { type Encoded, takeFrame } from "./frames.ts";
import type { WebSocketContext } from "./websocket_options.ts";

/** Where a queue's frames go: the peer's open connection. */
export interface FrameSink {
  /** Bytes the socket buffers. */
  buffered(): number;
  /** Writes one frame; false when the socket failed (its envelopes are lost). */
  write(frame: string): boolean;
}

type Timer = ReturnType<typeof setTimeout>;

/** How long a flush waits for the socket to drain below the high-water mark. */
const RETRY_MS = 5;

/**
 * A peer's bounded queue of serialized envelopes, bounded in envelopes (`maxQueue`) and in bytes
 * (`maxQueueBytes`). Its counts are kept in the context's `stats` (`queued`, `sent`, `frames`).
 *
 * @example
 * ```ts
 * import { createContext } from "./websocket_options.ts";
 * import { SendQueue } from "./send_queue.ts";
 * const ctx = createContext({ self: "a", secret: "s", maxQueue: 2 });
 * const frames: string[] = [];
 * const q = new SendQueue(ctx, () => ({ buffered: () => 0, write: (f) => frames.push(f) > 0 }));
 * q.offer({ text: "1", bytes: 1 });
 * q.offer({ text: "2", bytes: 1 });
 * if (!q.full) throw new Error("bounded");
 * await Promise.resolve(); // flushed in a microtask, as one frame
 * if (frames.join() !== "[1,2]" || ctx.stats.sent !== 2 || ctx.stats.queued !== 0) throw new Error();
 * ```
 */
export class SendQueue {
  readonly #ctx: WebSocketContext;
  readonly #sink: () => FrameSink | undefined;
  #items: Encoded[] = [];
  /** UTF-8 bytes in `#items`. */
  #bytes = 0;
  #flushScheduled = false;
  #retryTimer?: Timer;

  /** A queue flushing into `sink()`, the peer's open connection (undefined while there is none). */
  constructor(ctx: WebSocketContext, sink: () => FrameSink | undefined) {
    this.#ctx = ctx;
    this.#sink = sink;
  }

  /** True when the queue holds `maxQueue` envelopes. */
  get full(): boolean {
    return this.#items.length >= this.#ctx.settings.maxQueue;
  }

  /**
   * Queues a serialized envelope, and schedules a flush. False when it cannot fit in one frame or the
   * queue's byte bound would be exceeded (the envelope bound is `full`, checked before serializing).
   */
  offer(envelope: Encoded): boolean {
    const { maxFrameBytes, maxQueueBytes } = this.#ctx.settings;
    if (envelope.bytes + 2 > maxFrameBytes || this.#bytes + envelope.bytes > maxQueueBytes) return false;
    this.#items.push(envelope);
    this.#bytes += envelope.bytes;
    this.#ctx.stats.queued++;
    this.scheduleFlush();
    return true;
  }

  /** Drops every queued envelope. */
  clear(): void {
    this.#ctx.stats.queued -= this.#items.length;
    this.#items = [];
    this.#bytes = 0;
  }

  /** Stops waiting for a full socket to drain (its connection is gone). */
  cancelRetry(): void {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
  }

  /** Flushes in a microtask, unless one is due already or the connection is not open. */
  scheduleFlush(): void {
    if (this.#flushScheduled || this.#retryTimer !== undefined || !this.#sink()) return;
    this.#flushScheduled = true;
    queueMicrotask(() => {
      this.#flushScheduled = false;
      this.#flush();
    });
  }

  /** Writes the queue as frames until it is empty or the socket buffers too much. */
  #flush(): void {
    const sink = this.#sink();
    if (!sink) return;
    const { highWaterBytes, maxFrameBytes, maxBatch } = this.#ctx.settings;
    const stats = this.#ctx.stats;
    while (this.#items.length > 0) {
      if (sink.buffered() > highWaterBytes) {
        this.#retryTimer = setTimeout(() => {
          this.#retryTimer = undefined;
          this.#flush();
        }, RETRY_MS);
        return;
      }
      const { frame, count, bytes } = takeFrame(this.#items, maxFrameBytes, maxBatch);
      this.#bytes -= bytes;
      stats.queued -= count;
      if (!sink.write(frame)) return; // lost: at most once
      stats.sent += count;
      stats.frames++;
    }
  }
}
