/**
 * The contract between the messaging nodes (`messaging.ts`) and the brokers behind them (`brokers/*.ts`):
 * a broker client consumes a bounded batch, held until the runtime says whether the node's output was
 * recorded (`Delivery`), and produces keyed messages. The simulator plugs in a fake one.
 *
 * @example
 * ```ts
 * import { settledOnce } from "./broker.ts";
 * const calls: string[] = [];
 * const d = settledOnce({
 *   commit: async () => void calls.push("commit"),
 *   release: async () => void calls.push("release"),
 * }, 60_000);
 * await d.commit();
 * await d.release(); // too late: a delivery is settled once
 * if (calls.join() !== "commit") throw new Error(calls.join());
 * ```
 *
 * @module
 */
import type { BrokerKind } from "../../core/catalog_messaging.ts";
import type { Json } from "../../core/json.ts";

export type { BrokerKind };

/**
 * What a consumer took, held by the broker until the runtime settles it: `commit` once the node's output is
 * durably in the history (acks, offsets), `release` when it will not be (the attempt failed or was
 * superseded, the append was refused): the messages are given back and delivered again. The runtime calls
 * at most one, once; if the process dies first, the broker redelivers on its own (a closed connection, an
 * ack deadline, an uncommitted offset, a pending entry taken over).
 */
export interface Delivery {
  commit(): Promise<void>;
  release(): Promise<void>;
}

/** The broker a node names: a declared connection, or (where allowed) its inline address. */
export interface BrokerTarget {
  kind: BrokerKind;
  /** A declared connection's name (`--broker NAME=URL`); `default` when nothing is named. */
  connection?: string;
  /** An inline URL (`url`), or for Kafka the inline `brokers` list as `kafka://a:9092,b:9092`. */
  url?: string;
}

/** One message a consumer took. */
export interface ConsumedMessage {
  /** The payload's text (UTF-8). */
  value: string;
  key?: string;
  /** Where the broker keeps it: topic, partition and offset; stream and sequence; queue and delivery tag… */
  position: Record<string, Json>;
}

/** What a consume asks: the node's config and the bounds. */
export interface ConsumeRequest {
  /** The node's normalised config (topic / stream / queue, group, …). */
  config: Record<string, unknown>;
  /** Take at most this many. */
  maxMessages: number;
  /**
   * Take at most this many bytes, each message counted by `measure` (default: its value's UTF-8 bytes); the
   * message that would pass them is given back, for a later run.
   */
  maxBytes: number;
  /** The bytes a message adds to the node's output: the executor counts its record as JSON. */
  measure?: (message: ConsumedMessage) => number;
  /** Wait at most this long for messages. */
  maxWaitMs: number;
  /** Names this attempt (`<executionId>:<nodeId>:<attempt>`), where a broker wants a consumer name. */
  consumerName: string;
  /** Aborted when the attempt is: what was taken is released. */
  signal: AbortSignal;
}

/** A consumed batch and its pending acknowledgement. */
export interface ConsumedBatch {
  messages: ConsumedMessage[];
  delivery: Delivery;
}

/** One message to send: its key (`<executionId>:<nodeId>:<index>`) and its payload. */
export interface OutgoingMessage {
  key: string;
  value: string;
}

/** What a produce asks. */
export interface ProduceRequest {
  config: Record<string, unknown>;
  messages: OutgoingMessage[];
  signal: AbortSignal;
}

/** A broker, as the messaging nodes use it. */
export interface BrokerClient {
  /** Takes a bounded batch, held until its delivery is settled. */
  consume(request: ConsumeRequest): Promise<ConsumedBatch>;
  /** Sends every message, resolving once the broker has them (acks, confirms). */
  produce(request: ProduceRequest): Promise<void>;
}

/**
 * A delivery that settles once: the first of `commit` / `release` runs, later calls do nothing. Unsettled
 * after `holdMs` (the runtime lost it: an engine stopped with the result queued), it releases itself, so a
 * held batch never outlives its bound.
 */
export function settledOnce(inner: Delivery, holdMs: number): Delivery {
  let settled = false;
  const timer = setTimeout(() => void settle(inner.release).catch(() => {}), holdMs);
  // The process may end while a delivery is held: the broker redelivers then.
  Deno.unrefTimer(timer);
  const settle = (fn: () => Promise<void>) => {
    if (settled) return Promise.resolve();
    settled = true;
    clearTimeout(timer);
    return fn();
  };
  return { commit: () => settle(inner.commit), release: () => settle(inner.release) };
}

/** How long a consumed batch waits for the runtime's answer before it releases itself: 10 minutes. */
export const DELIVERY_HOLD_MS = 10 * 60_000;
