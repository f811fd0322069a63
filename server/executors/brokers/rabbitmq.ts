/**
 * The RabbitMQ adapter of the messaging nodes (AMQP 0-9-1). A consumer takes a bounded batch from a queue
 * on a channel of its own (`rabbitmq_take.ts`) and holds it unacked: `commit` acks the batch and closes
 * the channel, `release` requeues it; a process that dies closes its connection, and RabbitMQ requeues
 * whatever was unacked. A producer publishes each message persistent, mandatory and with publisher
 * confirms, its key as the `messageId` property. RabbitMQ itself does not de-duplicate: a resent message
 * is queued again, and a consumer downstream drops it by `messageId`. One connection per URL, opened lazily
 * and opened again after it closes.
 *
 * @example
 * ```ts
 * import { rabbitmqBroker } from "./rabbitmq.ts";
 * const broker = rabbitmqBroker("amqp://guest:secret@127.0.0.1:1");
 * const e = await broker.produce({
 *   config: { queue: "orders" },
 *   messages: [{ key: "e1:out:0", value: "{}" }],
 *   signal: new AbortController().signal,
 * }).then(() => undefined, (e) => e);
 * if (e?.code !== "broker_unreachable" || e.message.includes("secret")) throw new Error(String(e));
 * await broker.close();
 * ```
 *
 * @module
 */
import { Buffer } from "node:buffer";
import {
  type Channel,
  type ChannelModel,
  type ConfirmChannel,
  connect,
  type Message,
} from "npm:amqplib@2.3.1";
import type { ConsumedBatch, ConsumedMessage, ConsumeRequest, Delivery, ProduceRequest } from "../broker.ts";
import { DELIVERY_HOLD_MS, settledOnce } from "../broker.ts";
import { NodeError } from "../executor.ts";
import { Gate } from "./gate.ts";
import { type PooledBroker, shownBrokerUrl } from "./pool.ts";
import { MAX_PREFETCH, rabbitError, requeue, takeBatch } from "./rabbitmq_take.ts";

/** How long opening a connection may take. */
const CONNECT_TIMEOUT_MS = 5_000;
/** The heartbeat asked for when the URL names none, so a dead peer is noticed. */
const HEARTBEAT_S = 30;
/** Channels of consumes (each held until its batch is settled) at once, and consumes waiting for one. */
const MAX_CONSUME_CHANNELS = 512;
const MAX_WAITING_CONSUMES = 1_024;
/**
 * How long one answer of the broker is waited for (a channel opened or closed, a queue checked, the confirms
 * of a produce): a blocked connection (a resource alarm) or a silent peer never answers.
 */
const REPLY_TIMEOUT_MS = 30_000;

/** Options of a RabbitMQ client. */
export interface RabbitOptions {
  /**
   * How long one answer of the broker is waited for (default 30 s): a channel opened or closed, a queue
   * checked, the confirms of a produce. Past it the call fails with `broker_unreachable`.
   */
  replyTimeoutMs?: number;
}

function text(config: Record<string, unknown>, field: string): string | undefined {
  const v = config[field];
  return typeof v === "string" && v !== "" ? v : undefined;
}

function asMessage(m: Message, queue: string): ConsumedMessage {
  const message: ConsumedMessage = {
    value: m.content.toString("utf8"),
    position: { queue, deliveryTag: m.fields.deliveryTag, redelivered: m.fields.redelivered },
  };
  const id = m.properties.messageId;
  if (typeof id === "string" && id !== "") message.key = id;
  return message;
}

function isJson(value: string): boolean {
  try {
    JSON.parse(value);
    return true;
  } catch {
    return false;
  }
}

/**
 * Waits for `p` at most `ms` (then rejects with a "timed out" error) and no longer than `signal` allows (then
 * with its reason). What `p` yields once nobody waits goes to `late` (a channel opened too late is closed).
 */
function bounded<T>(
  p: Promise<T>,
  ms: number,
  signal: AbortSignal,
  what: string,
  late?: (value: T) => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const finish = (settle: () => void) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      settle();
    };
    const onAbort = () => finish(() => reject(signal.reason));
    const timer = setTimeout(
      () => finish(() => reject(new Error(`${what}: no answer, timed out after ${ms} ms`))),
      ms,
    );
    p.then(
      (v) => done ? late?.(v) : finish(() => resolve(v)),
      (e) => finish(() => reject(e)),
    );
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Closes a channel, waiting at most `ms` for the broker's close-ok. True once it came (everything sent before
 * it, acks included, was handled); false when the channel ended otherwise (its connection went, it was closed
 * already) or the broker did not answer in time (the close goes on without anyone waiting).
 */
function closeChannel(ch: Channel, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    let done = false;
    const end = (ok: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      ch.off("close", onClose);
      resolve(ok);
    };
    // A close-ok also emits 'close' (first): the promise of ch.close() settles before the next task.
    const onClose = () => void setTimeout(() => end(false), 0);
    const timer = setTimeout(() => end(false), ms);
    ch.once("close", onClose);
    ch.close().then(() => end(true), () => end(false));
  });
}

/** Closes a connection, waiting at most `ms`; past that its socket is destroyed. */
async function closeConnection(conn: ChannelModel, ms: number): Promise<void> {
  const ended = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    const end = () => {
      clearTimeout(timer);
      resolve(true);
    };
    conn.once("close", end);
    conn.close().then(end, end);
  });
  if (!(await ended)) {
    // No close-ok (a blocked or silent connection): drop the socket (not in amqplib's typings).
    (conn.connection as unknown as { stream?: { destroy?(): void } }).stream?.destroy?.();
  }
}

class RabbitBroker implements PooledBroker {
  #url: string;
  #conn?: Promise<ChannelModel>;
  #closed = false;
  #gate = new Gate(MAX_CONSUME_CHANNELS, MAX_WAITING_CONSUMES, "RabbitMQ consumes");
  #wait: number;

  constructor(url: string, options: RabbitOptions) {
    this.#url = url;
    this.#wait = options.replyTimeoutMs ?? REPLY_TIMEOUT_MS;
  }

  #connection(): Promise<ChannelModel> {
    if (this.#closed) return Promise.reject(new NodeError("broker_error", "the broker client is closed"));
    if (this.#conn) return this.#conn;
    let target: string;
    try {
      const u = new URL(this.#url);
      if (!u.searchParams.has("heartbeat")) u.searchParams.set("heartbeat", String(HEARTBEAT_S));
      target = u.toString();
    } catch {
      return Promise.reject(
        new NodeError("config_format", `not an AMQP URL: ${shownBrokerUrl(this.#url)}`, false),
      );
    }
    // Cached as the NodeError it fails with: every caller waiting on this open gets that, not the raw one.
    const opened: Promise<ChannelModel> = connect(target, {
      timeout: CONNECT_TIMEOUT_MS,
      clientProperties: { connection_name: "flowmesh" },
    }).then((conn) => {
      // An unhandled 'error' would end the process; the 'close' after it drops the connection.
      conn.on("error", () => {});
      conn.on("close", () => {
        if (this.#conn === opened) this.#conn = undefined;
      });
      return conn;
    }, (e) => {
      if (this.#conn === opened) this.#conn = undefined;
      throw rabbitError(e, this.#url, "cannot connect to RabbitMQ");
    });
    this.#conn = opened;
    return opened;
  }

  /** A fresh channel whose errors (also told by the failing call) are kept for the message. */
  async #channel<C extends Channel>(
    make: (conn: ChannelModel) => Promise<C>,
  ): Promise<{ ch: C; error: () => unknown }> {
    const conn = await this.#connection();
    let failure: unknown;
    try {
      const ch = await make(conn);
      ch.on("error", (e: unknown) => failure ??= e);
      return { ch, error: () => failure };
    } catch (e) {
      throw rabbitError(e, this.#url, "cannot open a channel");
    }
  }

  /** A fresh channel, waited for within the reply timeout and the signal (one opened too late is closed). */
  #channelWithin<C extends Channel>(make: (conn: ChannelModel) => Promise<C>, signal: AbortSignal) {
    const wait = this.#wait;
    return bounded(this.#channel(make), wait, signal, "opening a channel", (late) => {
      void closeChannel(late.ch, wait);
    });
  }

  async consume(request: ConsumeRequest): Promise<ConsumedBatch> {
    const queue = text(request.config, "queue");
    if (queue === undefined) throw new NodeError("config_missing", "the node needs a queue", false);
    const { signal } = request;
    await this.#gate.enter(signal);
    let left = false;
    const leave = () => {
      if (!left) this.#gate.leave();
      left = true;
    };
    let ch: Channel | undefined;
    try {
      const opened = await this.#channelWithin((c) => c.createChannel(), signal);
      ch = opened.ch;
      ch.on("close", leave);
      let taken: Message[];
      try {
        await bounded(ch.checkQueue(queue), this.#wait, signal, `checking the queue ${queue}`);
        const { measure } = request;
        taken = await takeBatch(ch, queue, {
          maxMessages: Math.min(request.maxMessages, MAX_PREFETCH),
          maxBytes: request.maxBytes,
          maxWaitMs: request.maxWaitMs,
          signal,
          ...(measure && { measure: (m: Message) => measure(asMessage(m, queue)) }),
        });
      } catch (e) {
        if (signal.aborted) throw signal.reason;
        throw rabbitError(opened.error() ?? e, this.#url, `cannot take from the queue ${queue}`);
      }
      const messages = taken.map((m) => asMessage(m, queue));
      if (taken.length === 0) {
        await closeChannel(ch, this.#wait);
        return { messages, delivery: { commit: () => Promise.resolve(), release: () => Promise.resolve() } };
      }
      return { messages, delivery: settledOnce(this.#delivery(ch, taken, opened.error), DELIVERY_HOLD_MS) };
    } catch (e) {
      // Not waited for: a blocked or silent connection never answers the close.
      if (ch) void closeChannel(ch, this.#wait);
      leave();
      if (signal.aborted) throw signal.reason;
      throw rabbitError(e, this.#url, `cannot take from the queue ${queue}`);
    }
  }

  #delivery(ch: Channel, taken: Message[], error: () => unknown): Delivery {
    const wait = this.#wait;
    return {
      commit: async () => {
        try {
          ch.ack(taken[taken.length - 1], true);
        } catch (e) {
          void closeChannel(ch, wait);
          throw rabbitError(error() ?? e, this.#url, "cannot ack the messages");
        }
        // The close is answered after the acks before it are handled: without its answer they may be lost.
        if (await closeChannel(ch, wait)) return;
        const cause = error();
        if (cause !== undefined) throw rabbitError(cause, this.#url, "cannot ack the messages");
        throw new NodeError(
          "broker_unreachable",
          `cannot ack the messages (${shownBrokerUrl(this.#url)}): the channel closed, or RabbitMQ did not ` +
            "answer, before the acks were confirmed (unacked messages are requeued by the broker)",
        );
      },
      release: async () => {
        requeue(ch, taken);
        await closeChannel(ch, wait);
      },
    };
  }

  async produce(request: ProduceRequest): Promise<void> {
    const queue = text(request.config, "queue");
    const exchange = text(request.config, "exchange") ?? "";
    const routingKey = text(request.config, "routingKey") ?? queue;
    if (routingKey === undefined) {
      throw new NodeError("config_missing", "name a queue, or an exchange and its routingKey", false);
    }
    const { signal } = request;
    signal.throwIfAborted();
    const wait = this.#wait;
    const target = `${exchange || "(default)"}/${routingKey}`;
    let opened: { ch: ConfirmChannel; error: () => unknown };
    try {
      opened = await this.#channelWithin((c) => c.createConfirmChannel(), signal);
    } catch (e) {
      if (signal.aborted) throw signal.reason;
      throw rabbitError(e, this.#url, `cannot publish to ${target}`);
    }
    const { ch, error } = opened;
    const returned: Message[] = [];
    ch.on("return", (m: Message) => void returned.push(m));
    let clean = false;
    try {
      if (queue !== undefined) {
        await bounded(ch.checkQueue(queue), wait, signal, `checking the queue ${queue}`);
      }
      for (const m of request.messages) {
        signal.throwIfAborted();
        const more = ch.publish(exchange, routingKey, Buffer.from(m.value, "utf8"), {
          persistent: true,
          mandatory: true,
          messageId: m.key,
          contentType: isJson(m.value) ? "application/json" : "text/plain",
        });
        if (!more) {
          const drained = new Promise((resolve) => {
            ch.once("drain", resolve);
            ch.once("close", resolve);
          });
          await bounded(drained, wait, signal, "waiting to send more");
        }
      }
      await bounded(ch.waitForConfirms(), wait, signal, "waiting for the confirms");
      clean = true;
    } catch (e) {
      if (signal.aborted) throw signal.reason;
      throw rabbitError(error() ?? e, this.#url, `cannot publish to ${target}`);
    } finally {
      // After a failure or an abort nothing waits for the close: a blocked connection never answers it.
      if (clean) await closeChannel(ch, wait);
      else void closeChannel(ch, wait);
    }
    if (returned.length > 0) {
      throw new NodeError(
        "broker_not_found",
        `${returned.length} message(s) could not be routed: no queue is bound to ${target}`,
        false,
      );
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#gate.close();
    const conn = this.#conn;
    this.#conn = undefined;
    const opened = await conn?.catch(() => undefined);
    if (opened) await closeConnection(opened, this.#wait);
  }
}

/**
 * The RabbitMQ client of one `amqp://` (or `amqps://`) URL (`amqp://user:pass@host:port/vhost`), its
 * connection opened on first use (with a 30 s heartbeat unless the URL names one).
 *
 * @example
 * ```ts
 * import { rabbitmqBroker } from "./rabbitmq.ts";
 * const broker = rabbitmqBroker("amqp://guest:guest@127.0.0.1:5672"); // nothing is opened yet
 * await broker.close();
 * ```
 */
export function rabbitmqBroker(url: string, options: RabbitOptions = {}): PooledBroker {
  return new RabbitBroker(url, options);
}
