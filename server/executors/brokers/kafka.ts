/**
 * The Kafka adapter (@platformatic/kafka): a consumer group member per consume, and one idempotent producer
 * per URL.
 *
 * A consume joins the group `groupId` on `topic` (autocommit off; a group with no committed offset starts at
 * the earliest message when `fromBeginning`, else the latest), takes messages within the bounds, then pauses.
 * Its delivery commits, per partition, the offset after the last message taken and leaves the group; a
 * release leaves without committing, so the group reads them again; a crash lets the session lapse, with the
 * same effect. `maxWaitMs` counts from the group's assignment, and a consume waits for at least one fetch.
 * A produce sends each record with its key (also in the `flowmesh-key` header), acknowledged by all in-sync
 * replicas, from the URL's one idempotent producer, shared by concurrent sends (`kafka_producer.ts`): a send
 * that is aborted only stops waiting, and a send that finds the producer broken has it replaced, closed once
 * the other sends on it are over.
 *
 * @example
 * ```ts
 * import { kafkaBroker } from "./kafka.ts";
 * const broker = kafkaBroker("kafka://127.0.0.1:1");
 * await broker.produce({ config: { topic: "t" }, messages: [], signal: new AbortController().signal });
 * await broker.close();
 * ```
 *
 * @module
 */
import type { Readable } from "node:stream";
import {
  Consumer,
  ProduceAcks,
  Producer,
  stringDeserializers,
  stringSerializers,
} from "npm:@platformatic/kafka@2.12.1";
import {
  type ConsumedBatch,
  type ConsumeRequest,
  type Delivery,
  DELIVERY_HOLD_MS,
  type ProduceRequest,
  settledOnce,
} from "../broker.ts";
import { NodeError } from "../executor.ts";
import { BatchBounds, valueBytes } from "./bounds.ts";
import { Gate } from "./gate.ts";
import {
  commitOffsets,
  consumedMessage,
  kafkaConsumerConfig,
  kafkaNodeError,
  kafkaProducerBroken,
  kafkaProducerTopic,
  kafkaRecords,
  parseKafkaUrl,
  type TakenKafkaMessage,
} from "./kafka_mapping.ts";
import { SharedClient } from "./kafka_producer.ts";
import type { PooledBroker } from "./pool.ts";

/** How many consumers of one URL are open at once (reading, or holding a batch); the others wait. */
export const MAX_OPEN_CONSUMERS = 32;
/** How many consumes of one URL may wait; more are refused (`broker_error`). */
const MAX_WAITING_CONSUMES = 1024;
/** How many records one send carries. */
const SEND_CHUNK = 500;
/** The longest one send may take (the idempotent producer would retry for ever). */
const SEND_TIMEOUT_MS = 60_000;
/** How long after `maxWaitMs` a consume waits for its first fetch to answer. */
const FIRST_FETCH_GRACE_MS = 15_000;

type KafkaConsumer = Consumer<string, string, string, string>;

/** What the adapter uses of a producer (a test passes its own). */
export type KafkaProducer = Pick<Producer<string, string, string, string>, "send" | "close">;

/** Options of a Kafka client. */
export interface KafkaOptions {
  /** Makes the URL's producer (default: an idempotent `Producer`, acks from all in-sync replicas). */
  makeProducer?: (brokers: string[]) => KafkaProducer;
}

/** The producer of a URL: idempotent, acknowledged by all in-sync replicas, with bounded retries. */
function defaultProducer(brokers: string[]): KafkaProducer {
  return new Producer({
    ...baseOptions(brokers),
    // Bounded retries (an idempotent producer's default is for ever): the node's attempts retry.
    retries: 3,
    idempotent: true,
    acks: ProduceAcks.ALL,
    serializers: stringSerializers,
  });
}

/** The connection options every client of a URL shares: fail fast, and let the node's retries retry. */
function baseOptions(brokers: string[]) {
  return {
    clientId: "flowmesh",
    bootstrapBrokers: brokers,
    connectTimeout: 5000,
    timeout: 10_000,
    retries: 2,
    retryDelay: 250,
    autocreateTopics: false,
  };
}

/** Closes a client, whatever state it is in. */
async function closeQuietly(client: { close(force?: boolean): Promise<void> } | undefined): Promise<void> {
  await client?.close(true).catch(() => {});
}

/** Settles `p`, or rejects with the signal's reason as soon as it aborts (then `onAbort` runs). */
function abortable<T>(p: Promise<T>, signal: AbortSignal, onAbort: () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const abort = () => {
      onAbort();
      reject(signal.reason);
    };
    if (signal.aborted) return abort();
    signal.addEventListener("abort", abort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", abort));
  });
}

/** The part of a consumer's message stream a batch is read from (a `MessagesStream`, or a test's stream). */
export type MessageSource = Pick<Readable, "on" | "off" | "pause" | "resume">;

/**
 * Takes messages from a stream until the bounds stop it, or `maxWaitMs` has passed and at least one fetch
 * answered (its `fetch` event; or a grace after `maxWaitMs` passed too); then pauses it. Rejects on the
 * stream's error or close, and with the signal's reason on abort.
 *
 * @example
 * ```ts
 * import { Readable } from "node:stream";
 * import { readBatch } from "./kafka.ts";
 * import { BatchBounds, valueBytes } from "./bounds.ts";
 * const stream = new Readable({ objectMode: true, read() {} });
 * for (const offset of [0n, 1n, 2n]) stream.push({ topic: "t", partition: 0, offset, leaderEpoch: 0, value: "v" });
 * const taken = await readBatch(stream, new BatchBounds(2, 100, valueBytes), 60_000, new AbortController().signal);
 * if (taken.map((m) => m.offset).join() !== "0,1") throw new Error();
 * ```
 */
export function readBatch(
  stream: MessageSource,
  bounds: BatchBounds,
  maxWaitMs: number,
  signal: AbortSignal,
): Promise<TakenKafkaMessage[]> {
  const taken: TakenKafkaMessage[] = [];
  return new Promise((resolve, reject) => {
    let fetched = false;
    let waited = false;
    const timers: ReturnType<typeof setTimeout>[] = [];
    const end = (err?: unknown) => {
      stream.pause();
      stream.off("data", onData).off("fetch", onFetch).off("error", end).off("close", onClose);
      signal.removeEventListener("abort", onAbort);
      for (const t of timers) clearTimeout(t);
      if (err === undefined) resolve(taken);
      else reject(err);
    };
    const onData = (m: TakenKafkaMessage) => {
      if (bounds.take(consumedMessage(m))) taken.push(m);
      if (bounds.stopped) end();
    };
    // The records of a fetch are pushed just after it is reported: end once they are in.
    const onFetch = () => {
      fetched = true;
      if (waited) timers.push(setTimeout(() => end(), 0));
    };
    const onClose = () => end(new NodeError("broker_error", "the consumer's stream closed", true));
    const onAbort = () => end(signal.reason);
    timers.push(setTimeout(() => {
      waited = true;
      if (fetched) end();
    }, maxWaitMs));
    timers.push(setTimeout(() => end(), maxWaitMs + FIRST_FETCH_GRACE_MS));
    signal.addEventListener("abort", onAbort, { once: true });
    stream.on("data", onData).on("fetch", onFetch).on("error", end).on("close", onClose);
    stream.resume();
  });
}

/** The Kafka broker of one URL. */
class KafkaBroker implements PooledBroker {
  #brokers: string[] | NodeError;
  #producers: SharedClient<KafkaProducer>;
  #consumers = new Set<KafkaConsumer>();
  #gate = new Gate(MAX_OPEN_CONSUMERS, MAX_WAITING_CONSUMES, "kafka consumes");
  #closed = false;

  constructor(url: string, options: KafkaOptions) {
    try {
      this.#brokers = parseKafkaUrl(url);
    } catch (e) {
      this.#brokers = e as NodeError;
    }
    const make = options.makeProducer ?? defaultProducer;
    // Made on first use only: by then the URL parsed (`#list`).
    this.#producers = new SharedClient(() => make(this.#brokers as string[]), SEND_TIMEOUT_MS);
  }

  /** The broker addresses (a malformed URL fails every use). */
  #list(): string[] {
    if (this.#brokers instanceof NodeError) throw this.#brokers;
    if (this.#closed) throw new NodeError("broker_unreachable", "kafka: the client was closed", true);
    return this.#brokers;
  }

  async consume(request: ConsumeRequest): Promise<ConsumedBatch> {
    const config = kafkaConsumerConfig(request.config);
    const brokers = this.#list();
    const { signal } = request;
    await this.#gate.enter(signal);
    const consumer: KafkaConsumer = new Consumer({
      ...baseOptions(brokers),
      groupId: config.groupId,
      autocommit: false,
      deserializers: stringDeserializers,
      sessionTimeout: 30_000,
      rebalanceTimeout: 60_000,
      heartbeatInterval: 3000,
      maxWaitTime: Math.min(Math.max(request.maxWaitMs, 10), 5000),
      highWaterMark: Math.min(request.maxMessages, 1024),
    });
    this.#consumers.add(consumer);
    const done = async () => {
      this.#consumers.delete(consumer);
      await closeQuietly(consumer);
      this.#gate.leave();
    };
    let taken: TakenKafkaMessage[];
    try {
      const stream = await abortable(
        consumer.consume({
          topics: [config.topic],
          mode: "committed",
          fallbackMode: config.fromBeginning ? "earliest" : "latest",
          autocommit: false,
        }),
        signal,
        () => void closeQuietly(consumer),
      );
      const bounds = new BatchBounds(request.maxMessages, request.maxBytes, request.measure ?? valueBytes);
      taken = await readBatch(stream, bounds, request.maxWaitMs, signal);
    } catch (err) {
      await done();
      if (signal.aborted) throw signal.reason;
      throw kafkaNodeError(err, brokers, `reading topic ${JSON.stringify(config.topic)}`);
    }
    return {
      messages: taken.map(consumedMessage),
      delivery: await this.#delivery(consumer, brokers, taken, done),
    };
  }

  /** The batch's delivery: commit the offsets after it, then leave; or leave without committing. */
  async #delivery(
    consumer: KafkaConsumer,
    brokers: string[],
    taken: TakenKafkaMessage[],
    done: () => Promise<void>,
  ): Promise<Delivery> {
    if (taken.length === 0) {
      await done();
      return { commit: () => Promise.resolve(), release: () => Promise.resolve() } satisfies Delivery;
    }
    const offsets = commitOffsets(taken);
    return settledOnce({
      commit: async () => {
        try {
          await consumer.commit({ offsets });
        } catch (err) {
          throw kafkaNodeError(err, brokers, "committing offsets");
        } finally {
          await done();
        }
      },
      release: done,
    }, DELIVERY_HOLD_MS);
  }

  async produce(request: ProduceRequest): Promise<void> {
    const topic = kafkaProducerTopic(request.config);
    const brokers = this.#list();
    const { messages, signal } = request;
    for (let i = 0; i < messages.length; i += SEND_CHUNK) {
      signal.throwIfAborted();
      const records = kafkaRecords(topic, messages.slice(i, i + SEND_CHUNK));
      const lease = this.#producers.lease();
      const sent = (async () => await lease.client.send({ messages: records }))();
      // In use until the library settles the send, even once nobody waits for it.
      sent.then(lease.done, lease.done);
      const timeout = AbortSignal.timeout(SEND_TIMEOUT_MS);
      try {
        // An abort or a timeout only stops this wait: the producer is shared by the URL's other sends.
        await abortable(sent, AbortSignal.any([signal, timeout]), () => {});
      } catch (err) {
        if (signal.aborted) throw signal.reason;
        if (timeout.aborted || kafkaProducerBroken(err)) lease.retire();
        throw timeout.aborted
          ? new NodeError("broker_unreachable", `kafka: sending to ${topic} took over ${SEND_TIMEOUT_MS} ms`)
          : kafkaNodeError(err, brokers, `sending to topic ${JSON.stringify(topic)}`);
      }
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#gate.close();
    const consumers = [...this.#consumers];
    this.#consumers.clear();
    await Promise.all([this.#producers.close(), ...consumers.map(closeQuietly)]);
  }
}

/**
 * The Kafka broker of a `kafka://host:port[,host:port…]` URL; its clients connect on first use.
 *
 * @example
 * ```ts
 * import { kafkaBroker } from "./kafka.ts";
 * const broker = kafkaBroker("kafka://127.0.0.1:9092"); // nothing is opened yet
 * await broker.close();
 * ```
 */
export function kafkaBroker(url: string, options: KafkaOptions = {}): PooledBroker {
  return new KafkaBroker(url, options);
}
