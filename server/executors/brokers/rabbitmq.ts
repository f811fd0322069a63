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
import { type Channel, type ChannelModel, connect, type Message } from "amqplib";
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

/** Closes a channel, ignoring one that is closed already. */
async function closeChannel(ch: Channel): Promise<void> {
  await ch.close().catch(() => {});
}

class RabbitBroker implements PooledBroker {
  #url: string;
  #conn?: Promise<ChannelModel>;
  #closed = false;
  #gate = new Gate(MAX_CONSUME_CHANNELS, MAX_WAITING_CONSUMES, "RabbitMQ consumes");

  constructor(url: string) {
    this.#url = url;
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
    const opened = connect(target, {
      timeout: CONNECT_TIMEOUT_MS,
      clientProperties: { connection_name: "flowmesh" },
    }).then((conn) => {
      // An unhandled 'error' would end the process; the 'close' after it drops the connection.
      conn.on("error", () => {});
      conn.on("close", () => {
        if (this.#conn === opened) this.#conn = undefined;
      });
      return conn;
    });
    this.#conn = opened;
    opened.catch(() => {
      if (this.#conn === opened) this.#conn = undefined;
    });
    return opened.catch((e) => {
      throw rabbitError(e, this.#url, "cannot connect to RabbitMQ");
    });
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

  async consume(request: ConsumeRequest): Promise<ConsumedBatch> {
    const queue = text(request.config, "queue");
    if (queue === undefined) throw new NodeError("config_missing", "the node needs a queue", false);
    await this.#gate.enter(request.signal);
    let left = false;
    const leave = () => {
      if (!left) this.#gate.leave();
      left = true;
    };
    let ch: Channel | undefined;
    try {
      const opened = await this.#channel((c) => c.createChannel());
      ch = opened.ch;
      ch.on("close", leave);
      let taken: Message[];
      try {
        await ch.checkQueue(queue);
        const { measure } = request;
        taken = await takeBatch(ch, queue, {
          maxMessages: Math.min(request.maxMessages, MAX_PREFETCH),
          maxBytes: request.maxBytes,
          maxWaitMs: request.maxWaitMs,
          signal: request.signal,
          ...(measure && { measure: (m: Message) => measure(asMessage(m, queue)) }),
        });
      } catch (e) {
        if (request.signal.aborted) throw request.signal.reason;
        throw rabbitError(opened.error() ?? e, this.#url, `cannot take from the queue ${queue}`);
      }
      const messages = taken.map((m) => asMessage(m, queue));
      if (taken.length === 0) {
        await closeChannel(ch);
        return { messages, delivery: { commit: () => Promise.resolve(), release: () => Promise.resolve() } };
      }
      return { messages, delivery: settledOnce(this.#delivery(ch, taken, opened.error), DELIVERY_HOLD_MS) };
    } catch (e) {
      if (ch) await closeChannel(ch);
      leave();
      throw e;
    }
  }

  #delivery(ch: Channel, taken: Message[], error: () => unknown): Delivery {
    return {
      commit: async () => {
        try {
          ch.ack(taken[taken.length - 1], true);
          // The close is answered after the acks before it are handled.
          await ch.close();
        } catch (e) {
          await closeChannel(ch);
          throw rabbitError(error() ?? e, this.#url, "cannot ack the messages");
        }
      },
      release: async () => {
        requeue(ch, taken);
        await closeChannel(ch);
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
    request.signal.throwIfAborted();
    const { ch, error } = await this.#channel((c) => c.createConfirmChannel());
    const returned: Message[] = [];
    ch.on("return", (m: Message) => void returned.push(m));
    const onAbort = () => void closeChannel(ch);
    request.signal.addEventListener("abort", onAbort, { once: true });
    try {
      if (queue !== undefined) await ch.checkQueue(queue);
      for (const m of request.messages) {
        request.signal.throwIfAborted();
        const more = ch.publish(exchange, routingKey, Buffer.from(m.value, "utf8"), {
          persistent: true,
          mandatory: true,
          messageId: m.key,
          contentType: isJson(m.value) ? "application/json" : "text/plain",
        });
        if (!more) {
          await new Promise((resolve) => {
            ch.once("drain", resolve);
            ch.once("close", resolve);
          });
        }
      }
      await ch.waitForConfirms();
    } catch (e) {
      if (request.signal.aborted) throw request.signal.reason;
      throw rabbitError(
        error() ?? e,
        this.#url,
        `cannot publish to ${exchange || "(default)"}/${routingKey}`,
      );
    } finally {
      request.signal.removeEventListener("abort", onAbort);
      await closeChannel(ch);
    }
    if (returned.length > 0) {
      throw new NodeError(
        "broker_not_found",
        `${returned.length} message(s) could not be routed: no queue is bound to ${
          exchange || "(default)"
        }/${routingKey}`,
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
    await opened?.close().catch(() => {});
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
export function rabbitmqBroker(url: string): PooledBroker {
  return new RabbitBroker(url);
}
