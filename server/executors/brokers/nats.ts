/**
 * The NATS JetStream adapter of the messaging nodes. A consumer pulls a bounded batch from a durable pull
 * consumer (created on the stream when missing: explicit acks, the node's ack wait and subject filter) and
 * holds it: `commit` acks every message (the last one confirmed by the server), `release` naks them, and a
 * process that dies leaves them to the consumer's ack wait, after which JetStream redelivers them. A
 * producer publishes each message with its key as `Nats-Msg-Id`, so the stream drops a resend within its
 * duplicate window. One connection per URL, opened lazily and reconnecting on its own.
 *
 * @example
 * ```ts
 * import { natsBroker } from "./nats.ts";
 * const broker = natsBroker("nats://127.0.0.1:1");
 * const refused = await broker.produce({
 *   config: { subject: "orders.new" },
 *   messages: [{ key: "e1:out:0", value: "{}" }],
 *   signal: new AbortController().signal,
 * }).then(() => undefined, (e) => e);
 * if (refused?.code !== "broker_unreachable") throw new Error(String(refused));
 * await broker.close();
 * ```
 *
 * @module
 */
import {
  connect,
  type ConnectionOptions,
  type Msg,
  nanos,
  type NatsConnection,
} from "@nats-io/transport-node";
import {
  AckPolicy,
  type ConsumerInfo,
  jetstream,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
} from "@nats-io/jetstream";
import type { ConsumedBatch, ConsumedMessage, ConsumeRequest, Delivery, ProduceRequest } from "../broker.ts";
import { DELIVERY_HOLD_MS, settledOnce } from "../broker.ts";
import { NodeError } from "../executor.ts";
import { Gate } from "./gate.ts";
import { ackInfo, giveBack, pullBatch } from "./nats_pull.ts";
import { type PooledBroker, shownBrokerUrl } from "./pool.ts";

/** How long a connection attempt, a JetStream API call, a publish or an ack confirmation may take. */
const TIMEOUT_MS = 5_000;
/** Publishes awaiting their acks at once. */
const PUBLISH_WINDOW = 64;
/** Pulls of one connection at once, and pulls waiting for a place. */
const MAX_PULLS = 256;
const MAX_WAITING_PULLS = 1_024;
/** Consumers whose limits are remembered (cleared when full). */
const KNOWN_CONSUMERS = 1_024;

interface Conn {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
}

/**
 * The NodeError of a NATS or JetStream failure, its message free of the URL's password: a refused
 * connection or a timeout is `broker_unreachable`, a refused login or permission `broker_refused`, a missing
 * stream or consumer `broker_not_found` (neither retried), anything else `broker_error`.
 *
 * @example
 * ```ts
 * import { natsError } from "./nats.ts";
 * const failure = Object.assign(new Error("stream not found"), { name: "StreamNotFoundError" });
 * const e = natsError(failure, "nats://u:pw@127.0.0.1:4222", "cannot pull");
 * if (e.code !== "broker_not_found" || e.retryable || e.message.includes("pw@")) throw new Error(e.message);
 * ```
 */
export function natsError(e: unknown, url: string, what: string): NodeError {
  if (e instanceof NodeError) return e;
  const name = (e as Error)?.name ?? "";
  const password = URL.canParse(url) ? decodeURIComponent(new URL(url).password) : "";
  let text = e instanceof Error ? e.message : String(e);
  if (password !== "") text = text.replaceAll(password, "***");
  const at = `${what} (${shownBrokerUrl(url)}): ${text}`;
  if (/ConnectionError|ClosedConnection|DrainingConnection|Timeout/.test(name)) {
    return new NodeError("broker_unreachable", at);
  }
  if (/Authorization|Authentication|Permission/.test(name)) return new NodeError("broker_refused", at, false);
  if (/StreamNotFound|ConsumerNotFound|JetStreamNotEnabled|NoResponders/.test(name)) {
    return new NodeError("broker_not_found", at, false);
  }
  return new NodeError("broker_error", at);
}

function connectionOptions(url: string): ConnectionOptions & { tls?: Record<string, never> } {
  const u = new URL(url);
  const options: ConnectionOptions & { tls?: Record<string, never> } = {
    servers: `${u.hostname}:${u.port === "" ? "4222" : u.port}`,
    name: "flowmesh",
    timeout: TIMEOUT_MS,
    reconnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1_000,
  };
  if (u.username !== "" && u.password !== "") {
    options.user = decodeURIComponent(u.username);
    options.pass = decodeURIComponent(u.password);
  } else if (u.username !== "") options.token = decodeURIComponent(u.username);
  if (u.protocol === "tls:") options.tls = {};
  return options;
}

function text(config: Record<string, unknown>, field: string, fallback?: string): string {
  const v = config[field];
  if (typeof v === "string" && v !== "") return v;
  if (fallback !== undefined) return fallback;
  throw new NodeError("config_missing", `the node needs a ${field}`, false);
}

function asMessage(m: Msg): ConsumedMessage {
  const info = ackInfo(m.reply);
  const message: ConsumedMessage = {
    value: m.string(),
    position: {
      stream: info?.stream ?? "",
      sequence: info?.sequence ?? 0,
      subject: m.subject,
      deliveries: info?.deliveries ?? 0,
    },
  };
  const id = m.headers?.get("Nats-Msg-Id");
  if (id) message.key = id;
  return message;
}

class NatsBroker implements PooledBroker {
  #url: string;
  #conn?: Promise<Conn>;
  #closed = false;
  #limits = new Map<string, number>();
  #gate = new Gate(MAX_PULLS, MAX_WAITING_PULLS, "NATS pulls");

  constructor(url: string) {
    this.#url = url;
  }

  #connection(): Promise<Conn> {
    if (this.#closed) return Promise.reject(new NodeError("broker_error", "the broker client is closed"));
    if (this.#conn) return this.#conn;
    const opened = (async () => {
      let options;
      try {
        options = connectionOptions(this.#url);
      } catch {
        throw new NodeError("config_format", `not a NATS URL: ${shownBrokerUrl(this.#url)}`, false);
      }
      const nc = await connect(options);
      void nc.closed().then(() => {
        if (this.#conn === opened) this.#conn = undefined;
      });
      return {
        nc,
        js: jetstream(nc, { timeout: TIMEOUT_MS }),
        jsm: await jetstreamManager(nc, { timeout: TIMEOUT_MS }),
      };
    })();
    this.#conn = opened;
    opened.catch(() => {
      if (this.#conn === opened) this.#conn = undefined;
    });
    return opened.catch((e) => {
      throw natsError(e, this.#url, "cannot connect to NATS");
    });
  }

  /** The batch a pull may ask of `durable` (its ack-pending and batch limits), creating it when missing. */
  async #batchLimit(conn: Conn, stream: string, durable: string, config: Record<string, unknown>) {
    const key = `${stream}\u0000${durable}`;
    const known = this.#limits.get(key);
    if (known !== undefined) return known;
    let info: ConsumerInfo;
    try {
      info = await conn.jsm.consumers.info(stream, durable);
    } catch (e) {
      if ((e as Error)?.name !== "ConsumerNotFoundError") throw e;
      const subject = config.subject;
      info = await conn.jsm.consumers.add(stream, {
        durable_name: durable,
        ack_policy: AckPolicy.Explicit,
        ack_wait: nanos(typeof config.ackWaitMs === "number" ? config.ackWaitMs : 30_000),
        max_ack_pending: 100_000,
        ...(typeof subject === "string" && subject !== "" ? { filter_subject: subject } : {}),
      });
    }
    const limits = [info.config.max_ack_pending, info.config.max_batch].filter((n) =>
      n !== undefined && n > 0
    );
    const limit = Math.min(Number.MAX_SAFE_INTEGER, ...(limits as number[]));
    if (this.#limits.size >= KNOWN_CONSUMERS) this.#limits.clear();
    this.#limits.set(key, limit);
    return limit;
  }

  async consume(request: ConsumeRequest): Promise<ConsumedBatch> {
    const stream = text(request.config, "stream");
    const durable = text(request.config, "durable", "flowmesh");
    const conn = await this.#connection();
    let taken: Msg[];
    await this.#gate.enter(request.signal);
    try {
      const limit = await this.#batchLimit(conn, stream, durable, request.config);
      taken = await pullBatch(conn.nc, stream, durable, {
        batch: Math.max(1, Math.min(request.maxMessages, limit)),
        maxBytes: request.maxBytes,
        measure: request.measure && ((m) => request.measure!(asMessage(m))),
        maxWaitMs: request.maxWaitMs,
        signal: request.signal,
      });
    } catch (e) {
      this.#limits.delete(`${stream}\u0000${durable}`);
      if (request.signal.aborted) throw request.signal.reason;
      throw natsError(e, this.#url, `cannot pull from ${stream}/${durable}`);
    } finally {
      this.#gate.leave();
    }
    return {
      messages: taken.map(asMessage),
      delivery: settledOnce(this.#delivery(conn, taken), DELIVERY_HOLD_MS),
    };
  }

  #delivery(conn: Conn, taken: Msg[]): Delivery {
    return {
      commit: async () => {
        if (taken.length === 0) return;
        try {
          for (const m of taken.slice(0, -1)) m.respond("+ACK");
          // Acks of one connection are handled in order: the last one's confirmation covers them all.
          await conn.nc.request(taken[taken.length - 1].reply!, "+ACK", { timeout: TIMEOUT_MS });
        } catch (e) {
          throw natsError(e, this.#url, "cannot ack the messages");
        }
      },
      release: async () => {
        giveBack(taken);
        await conn.nc.flush().catch(() => {});
      },
    };
  }

  async produce(request: ProduceRequest): Promise<void> {
    const subject = text(request.config, "subject");
    const { js } = await this.#connection();
    const pending = new Set<Promise<unknown>>();
    let failure: unknown;
    for (const m of request.messages) {
      if (request.signal.aborted) throw request.signal.reason;
      if (failure !== undefined) break;
      const sent: Promise<unknown> = js.publish(subject, m.value, { msgID: m.key, timeout: TIMEOUT_MS }).then(
        () => pending.delete(sent),
        (e) => failure ??= e,
      );
      pending.add(sent);
      if (pending.size >= PUBLISH_WINDOW) await Promise.race(pending);
    }
    await Promise.all(pending);
    if (failure !== undefined) throw natsError(failure, this.#url, `cannot publish to ${subject}`);
    if (request.signal.aborted) throw request.signal.reason;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#gate.close();
    const conn = this.#conn;
    this.#conn = undefined;
    const opened = await conn?.catch(() => undefined);
    await opened?.nc.close().catch(() => {});
  }
}

/**
 * The JetStream client of one `nats://` (or `tls://`) URL (`nats://user:pass@h:p`, or a token as the user),
 * its connection opened on first use.
 *
 * @example
 * ```ts
 * import { natsBroker } from "./nats.ts";
 * const broker = natsBroker("nats://127.0.0.1:4222"); // nothing is opened yet
 * await broker.close();
 * ```
 */
export function natsBroker(url: string): PooledBroker {
  return new NatsBroker(url);
}
