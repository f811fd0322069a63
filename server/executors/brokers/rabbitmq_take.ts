/**
 * One bounded take from a RabbitMQ queue on its own channel: with a wait, a consumer whose prefetch is the
 * batch (so the broker hands over no more than the batch), cancelled once the batch is full, the wait is
 * over, a message would pass the byte bound, or the signal aborts; ended (rejected, `broker_unreachable`) when
 * the channel or its connection closes, since the broker requeued what it had delivered; without a wait,
 * `basic.get` until the queue is empty. Whatever arrived once the take stopped is given back (requeued) at
 * once; the taken messages stay unacked on the channel until the caller acks or requeues them.
 *
 * @module
 */
import type { Channel, ConsumeMessage, Message } from "npm:amqplib@2.3.1";
import { NodeError } from "../executor.ts";
import { BatchBounds } from "./bounds.ts";
import { shownBrokerUrl } from "./pool.ts";

/** The most a channel's prefetch can hold (an AMQP short): a consume takes at most this many. */
export const MAX_PREFETCH = 65_535;

/** The bounds of one take. */
export interface TakeBounds {
  maxMessages: number;
  maxBytes: number;
  /** The bytes a message counts for (default: its content's bytes). */
  measure?: (m: Message) => number;
  maxWaitMs: number;
  signal: AbortSignal;
}

/**
 * The NodeError of an AMQP failure (`what` says what was being done), its message free of the URL's
 * password: a missing queue or exchange is `broker_not_found`, a refused login or permission
 * `broker_refused` (neither retried), a connection that fails `broker_unreachable`, else `broker_error`.
 *
 * @example
 * ```ts
 * import { rabbitError } from "./rabbitmq_take.ts";
 * const e = rabbitError(new Error("Operation failed: QueueDeclare; 404 (NOT-FOUND)"), "amqp://u:pw@h/", "take");
 * if (e.code !== "broker_not_found" || e.retryable) throw new Error(e.code);
 * ```
 */
export function rabbitError(e: unknown, url: string, what: string): NodeError {
  if (e instanceof NodeError) return e;
  let text = e instanceof Error ? e.message : String(e);
  const password = URL.canParse(url) ? decodeURIComponent(new URL(url).password) : "";
  if (password !== "") text = text.replaceAll(password, "***");
  const code = (e as { code?: unknown })?.code;
  const at = `${what} (${shownBrokerUrl(url)}): ${text}`;
  if (code === 404 || /\b404\b|NOT[-_]FOUND/.test(text)) return new NodeError("broker_not_found", at, false);
  if (code === 403 || /\b403\b|ACCESS[-_]REFUSED|\b530\b|NOT[-_]ALLOWED/.test(text)) {
    return new NodeError("broker_refused", at, false);
  }
  if (
    typeof code === "string" && /^E[A-Z]+/.test(code) ||
    /ECONN|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN|timed? ?out|Socket closed|Connection closed|Channel (closed|ended)/i
      .test(text)
  ) {
    return new NodeError("broker_unreachable", at);
  }
  return new NodeError("broker_error", at);
}

/**
 * Requeues `messages` on `ch`, one by one (a closed channel has requeued them already).
 *
 * @example
 * ```ts
 * import type { Channel, Message } from "npm:amqplib@2.3.1";
 * import { requeue } from "./rabbitmq_take.ts";
 * const closed = { nack: () => { throw new Error("channel closed"); } } as unknown as Channel;
 * requeue(closed, [{} as Message]); // nothing thrown: the broker requeued it with the channel
 * ```
 */
export function requeue(ch: Channel, messages: readonly Message[]): void {
  for (const m of messages) {
    try {
      ch.nack(m, false, true);
    } catch {
      // The channel is gone: the broker requeued its unacked messages.
    }
  }
}

/** A message's content bytes (the default measure). */
const contentBytes = (m: Message) => m.content.length;

/** Takes what `queue` has now, with `basic.get`, within the bounds. */
async function takeNow(ch: Channel, queue: string, bounds: TakeBounds): Promise<Message[]> {
  const taken: Message[] = [];
  const bound = new BatchBounds<Message>(bounds.maxMessages, bounds.maxBytes, bounds.measure ?? contentBytes);
  while (!bound.stopped) {
    if (bounds.signal.aborted) {
      requeue(ch, taken);
      throw bounds.signal.reason;
    }
    const m = await ch.get(queue, { noAck: false });
    if (m === false) break;
    if (bound.take(m)) taken.push(m);
    else requeue(ch, [m]);
  }
  return taken;
}

/** Consumes from `queue` until the bounds stop it (the channel's prefetch is already the batch). */
function takeWaiting(ch: Channel, queue: string, bounds: TakeBounds): Promise<Message[]> {
  return new Promise<Message[]>((resolve, reject) => {
    const taken: ConsumeMessage[] = [];
    const bound = new BatchBounds<Message>(
      bounds.maxMessages,
      bounds.maxBytes,
      bounds.measure ?? contentBytes,
    );
    let tag: string | undefined;
    let stopped = false;
    const stop = (error?: unknown) => {
      if (stopped) return;
      stopped = true;
      clearTimeout(timer);
      bounds.signal.removeEventListener("abort", onAbort);
      ch.off("close", onClose);
      const cancelled = tag === undefined ? Promise.resolve() : ch.cancel(tag).then(() => {}, () => {});
      if (error === undefined) return void cancelled.then(() => resolve(taken));
      requeue(ch, taken.splice(0));
      reject(error);
    };
    const onAbort = () => stop(bounds.signal.reason);
    // The channel (or its connection) is gone: the broker requeued what it delivered, nothing more comes.
    const onClose = () =>
      stop(new NodeError("broker_unreachable", `the channel closed while taking from the queue ${queue}`));
    const onMessage = (m: ConsumeMessage | null) => {
      if (m === null) return stop(new NodeError("broker_not_found", `the queue ${queue} went away`, false));
      if (stopped) return requeue(ch, [m]);
      if (!bound.take(m)) {
        requeue(ch, [m]);
        return stop();
      }
      taken.push(m);
      if (bound.stopped) stop();
    };
    const timer = setTimeout(() => stop(), bounds.maxWaitMs);
    bounds.signal.addEventListener("abort", onAbort, { once: true });
    ch.once("close", onClose);
    ch.consume(queue, onMessage, { noAck: false }).then(
      (ok) => {
        tag = ok.consumerTag;
        if (stopped) void ch.cancel(tag).catch(() => {});
      },
      (e) => stop(e),
    );
  });
}

/**
 * Takes at most `bounds.maxMessages` (≤ {@link MAX_PREFETCH}) from `queue` on `ch`: with `maxWaitMs` 0 only
 * what the queue has now. Rejects with the signal's reason on abort, the taken messages requeued.
 *
 * @example
 * ```ts
 * import type { Channel } from "npm:amqplib@2.3.1";
 * import { takeBatch } from "./rabbitmq_take.ts";
 * const signal = AbortSignal.abort(new Error("gone"));
 * const bounds = { maxMessages: 10, maxBytes: 1_000, maxWaitMs: 0, signal };
 * const e = await takeBatch({} as Channel, "orders", bounds).catch((e) => e);
 * if (e?.message !== "gone") throw new Error("an aborted take asks nothing");
 * ```
 */
export async function takeBatch(ch: Channel, queue: string, bounds: TakeBounds): Promise<Message[]> {
  bounds.signal.throwIfAborted();
  if (bounds.maxWaitMs === 0) return await takeNow(ch, queue, bounds);
  await ch.prefetch(Math.min(bounds.maxMessages, MAX_PREFETCH));
  return await takeWaiting(ch, queue, bounds);
}
