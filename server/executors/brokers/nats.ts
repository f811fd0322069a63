/**
 * The NATS JetStream adapter of the messaging nodes. A consumer pulls a bounded batch from a durable pull
 * consumer (created on the stream when missing: explicit acks, the node's ack wait and subject filter) and
 * holds it: `commit` acks every message (the last one confirmed by the server), `release` naks them, and a
 * process that dies leaves them to the consumer's ack wait, after which JetStream redelivers them. A
 * producer publishes each message with its key as `Nats-Msg-Id`, so the stream drops a resend within its
 * duplicate window. One connection per URL, opened lazily and reconnecting on its own; while it is down a
 * consume or a produce fails `broker_unreachable` (retried) rather than waiting or returning nothing. A held
 * batch is kept in progress (`+WPI`) until settled, so a long run does not get it redelivered meanwhile.
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
} from "npm:@nats-io/transport-node@3.4.0";
import {
  AckPolicy,
  type ConsumerInfo,
  jetstream,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
} from "npm:@nats-io/jetstream@3.4.0";
import type { ConsumedBatch, ConsumedMessage, ConsumeRequest, Delivery, ProduceRequest } from "../broker.ts";
import { DELIVERY_HOLD_MS, settledOnce } from "../broker.ts";
import { NodeError } from "../executor.ts";
import { Gate } from "./gate.ts";
import { ackInfo, giveBack, type InProgress, keepInProgress, pullBatch } from "./nats_pull.ts";
import { type PooledBroker, shownBrokerUrl, urlSecrets } from "./pool.ts";

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
  /** Aborted while the connection is down (until it is back: then a fresh signal). */
  lost(): AbortSignal;
}

/** What a pull may ask of a durable consumer, from its configuration. */
interface ConsumerLimits {
  /** Messages in one pull at most (its ack-pending and batch limits). */
  batch: number;
  /** The longest pull: half the consumer's ack wait, and within its request expiry limit. */
  maxWaitMs: number;
  /** The consumer's ack wait. */
  ackWaitMs: number;
}

/** The names of an error and of its causes (`JetStreamNotEnabled RequestError NoResponders`). */
function causeNames(e: unknown): string {
  const names: string[] = [];
  for (let at = e, depth = 0; at instanceof Error && depth < 5; at = at.cause, depth++) names.push(at.name);
  return names.join(" ");
}

/**
 * The NodeError of a NATS or JetStream failure, its message free of the URL's password (or token): a
 * refused connection or a timeout is `broker_unreachable`, a refused login or permission `broker_refused`,
 * a missing stream or consumer `broker_not_found` (neither retried), anything else `broker_error`. No
 * JetStream answering is `broker_unreachable` (it may be starting), unless the server's `info` says it has
 * no JetStream: then `broker_not_found`, not retried.
 *
 * @example
 * ```ts
 * import { natsError } from "./nats.ts";
 * const failure = Object.assign(new Error("stream not found"), { name: "StreamNotFoundError" });
 * const e = natsError(failure, "nats://u:pw@127.0.0.1:4222", "cannot pull");
 * if (e.code !== "broker_not_found" || e.retryable || e.message.includes("pw@")) throw new Error(e.message);
 * const silent = Object.assign(new Error("jetstream is not enabled"), { name: "JetStreamNotEnabled" });
 * silent.cause = Object.assign(new Error("no responders"), { name: "NoResponders" });
 * if (natsError(silent, "nats://h:4222", "cannot pull", { jetstream: true }).code !== "broker_unreachable") {
 *   throw new Error("JetStream on, not answering yet: retried");
 * }
 * if (natsError(silent, "nats://h:4222", "cannot pull", {}).retryable) throw new Error("JetStream off");
 * ```
 */
export function natsError(
  e: unknown,
  url: string,
  what: string,
  server?: { jetstream?: boolean },
): NodeError {
  if (e instanceof NodeError) return e;
  const names = causeNames(e);
  let text = e instanceof Error ? e.message : String(e);
  for (const secret of urlSecrets(url)) text = text.replaceAll(secret, "***");
  const at = `${what} (${shownBrokerUrl(url)}): ${text}`;
  if (/Authorization|Authentication|Permission/.test(names)) {
    return new NodeError("broker_refused", at, false);
  }
  if (/StreamNotFound|ConsumerNotFound/.test(names)) return new NodeError("broker_not_found", at, false);
  if (/NoResponders/.test(names)) {
    return server !== undefined && server.jetstream !== true
      ? new NodeError("broker_not_found", `${at} (JetStream is not enabled on this NATS server)`, false)
      : new NodeError("broker_unreachable", `${at} (JetStream does not answer)`);
  }
  // JetStream answered that this account has none.
  if (/JetStreamNotEnabled/.test(names)) return new NodeError("broker_not_found", at, false);
  if (/ConnectionError|ClosedConnection|DrainingConnection|Timeout/.test(names)) {
    return new NodeError("broker_unreachable", at);
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

/** Follows a connection's state: the signal is aborted from a disconnect (or its close) to its reconnect. */
function watchConnection(nc: NatsConnection): () => AbortSignal {
  let down = new AbortController();
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === "disconnect") down.abort();
      else if (status.type === "reconnect" && down.signal.aborted) down = new AbortController();
    }
  })().catch(() => {});
  void nc.closed().then(() => down.abort());
  return () => down.signal;
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

/** The limits a consumer's configuration sets on a pull. */
function limitsOf(info: ConsumerInfo): ConsumerLimits {
  const batches = [info.config.max_ack_pending, info.config.max_batch].filter((n) =>
    n !== undefined && n > 0
  );
  const ackWaitMs = Math.max(1, (info.config.ack_wait ?? nanos(30_000)) / 1e6);
  const maxExpiresMs = (info.config.max_expires ?? 0) / 1e6;
  return {
    batch: Math.min(Number.MAX_SAFE_INTEGER, ...(batches as number[])),
    maxWaitMs: Math.floor(Math.min(ackWaitMs / 2, maxExpiresMs > 0 ? maxExpiresMs : Infinity)),
    ackWaitMs,
  };
}

function unreachable(url: string): NodeError {
  return new NodeError("broker_unreachable", `NATS is unreachable (${shownBrokerUrl(url)}): reconnecting`);
}

class NatsBroker implements PooledBroker {
  #url: string;
  #conn?: Promise<Conn>;
  #closed = false;
  #limits = new Map<string, ConsumerLimits>();
  #gate = new Gate(MAX_PULLS, MAX_WAITING_PULLS, "NATS pulls");

  constructor(url: string) {
    this.#url = url;
  }

  /** The connection, opened once for every caller; each caller of a failed open gets its NodeError. */
  #connection(): Promise<Conn> {
    if (this.#closed) return Promise.reject(new NodeError("broker_error", "the broker client is closed"));
    if (this.#conn) return this.#conn;
    const opened: Promise<Conn> = this.#open().catch((e) => {
      if (this.#conn === opened) this.#conn = undefined;
      throw natsError(e, this.#url, "cannot connect to NATS");
    });
    this.#conn = opened;
    void opened.then((conn) =>
      conn.nc.closed().then(() => {
        if (this.#conn === opened) this.#conn = undefined;
      })
    ).catch(() => {});
    return opened;
  }

  /** Connects and checks JetStream answers; a connection without it is closed, never left open. */
  async #open(): Promise<Conn> {
    let options;
    try {
      options = connectionOptions(this.#url);
    } catch {
      throw new NodeError("config_format", `not a NATS URL: ${shownBrokerUrl(this.#url)}`, false);
    }
    const nc = await connect(options);
    try {
      const jsm = await jetstreamManager(nc, { timeout: TIMEOUT_MS });
      return { nc, js: jetstream(nc, { timeout: TIMEOUT_MS }), jsm, lost: watchConnection(nc) };
    } catch (e) {
      const server = nc.info ?? {};
      await nc.close().catch(() => {});
      throw natsError(e, this.#url, "cannot use JetStream on NATS", server);
    }
  }

  /** The limits of `durable` (remembered), creating it when missing; `fresh` when just read. */
  async #consumerLimits(conn: Conn, stream: string, durable: string, config: Record<string, unknown>) {
    const key = `${stream}\u0000${durable}`;
    const known = this.#limits.get(key);
    if (known !== undefined) return { ...known, fresh: false };
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
    const limits = limitsOf(info);
    if (this.#limits.size >= KNOWN_CONSUMERS) this.#limits.clear();
    this.#limits.set(key, limits);
    return { ...limits, fresh: true };
  }

  async consume(request: ConsumeRequest): Promise<ConsumedBatch> {
    const stream = text(request.config, "stream");
    const durable = text(request.config, "durable", "flowmesh");
    const conn = await this.#connection();
    const lost = conn.lost();
    if (lost.aborted) throw unreachable(this.#url);
    let taken: Msg[];
    let progress: InProgress | undefined;
    let fresh = true;
    await this.#gate.enter(request.signal);
    try {
      const limits = await this.#consumerLimits(conn, stream, durable, request.config);
      fresh = limits.fresh;
      const kept = progress = keepInProgress(limits.ackWaitMs / 2);
      taken = await pullBatch(conn.nc, stream, durable, {
        batch: Math.max(1, Math.min(request.maxMessages, limits.batch)),
        maxBytes: request.maxBytes,
        measure: request.measure && ((m) => request.measure!(asMessage(m))),
        maxWaitMs: Math.min(request.maxWaitMs, limits.maxWaitMs),
        signal: request.signal,
        onTake: (m) => kept.add(m),
        connectionLost: lost,
      });
    } catch (e) {
      progress?.stop();
      this.#limits.delete(`${stream}\u0000${durable}`);
      if (request.signal.aborted) throw request.signal.reason;
      const error = natsError(e, this.#url, `cannot pull from ${stream}/${durable}`, conn.nc.info);
      // Limits remembered from before the consumer changed: the next attempt reads them afresh.
      if (!fresh && error.code === "broker_error" && !error.retryable) {
        throw new NodeError(error.code, error.message, true);
      }
      throw error;
    } finally {
      this.#gate.leave();
    }
    return {
      messages: taken.map(asMessage),
      delivery: settledOnce(this.#delivery(conn, taken, progress), DELIVERY_HOLD_MS),
    };
  }

  #delivery(conn: Conn, taken: Msg[], progress: InProgress): Delivery {
    return {
      commit: async () => {
        progress.stop();
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
        progress.stop();
        giveBack(taken);
        await conn.nc.flush().catch(() => {});
      },
    };
  }

  async produce(request: ProduceRequest): Promise<void> {
    const subject = text(request.config, "subject");
    const conn = await this.#connection();
    if (conn.lost().aborted) throw unreachable(this.#url);
    const pending = new Set<Promise<unknown>>();
    let failure: unknown;
    for (const m of request.messages) {
      if (request.signal.aborted) throw request.signal.reason;
      if (failure !== undefined) break;
      const sent: Promise<unknown> = conn.js.publish(subject, m.value, { msgID: m.key, timeout: TIMEOUT_MS })
        .then(
          () => pending.delete(sent),
          (e) => failure ??= e,
        );
      pending.add(sent);
      if (pending.size >= PUBLISH_WINDOW) await Promise.race(pending);
    }
    await Promise.all(pending);
    if (failure !== undefined) throw await this.#publishError(conn, failure, subject);
    if (request.signal.aborted) throw request.signal.reason;
  }

  /** A publish nobody answered: no stream takes the subject (not found), or JetStream is down (retried). */
  async #publishError(conn: Conn, failure: unknown, subject: string): Promise<NodeError> {
    const error = natsError(failure, this.#url, `cannot publish to ${subject}`, conn.nc.info);
    if (!/NoResponders/.test(causeNames(failure)) || error.code !== "broker_unreachable") return error;
    try {
      await conn.jsm.streams.find(subject);
      return error;
    } catch (e) {
      if ((e as Error)?.name !== "StreamNotFoundError") return error;
      return new NodeError(
        "broker_not_found",
        `cannot publish to ${subject}: no JetStream stream takes it`,
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
