/**
 * The Kafka side of the Kafka adapter (`kafka.ts`), without a connection: the `kafka://` URL, the node's
 * config, records to send and messages taken, the offsets a batch commits, and the client's errors as
 * `NodeError`s with stable codes.
 *
 * @example
 * ```ts
 * import { commitOffsets, kafkaRecords, parseKafkaUrl } from "./kafka_mapping.ts";
 * if (parseKafkaUrl("kafka://a:9092,b:9093").join() !== "a:9092,b:9093") throw new Error();
 * const [r] = kafkaRecords("t", [{ key: "e:n:0", value: "{}" }]);
 * if (r.headers["flowmesh-key"] !== "e:n:0" || r.key !== "e:n:0") throw new Error();
 * const [o] = commitOffsets([{ topic: "t", partition: 0, offset: 4n, leaderEpoch: 1 }]);
 * if (o.offset !== 5n) throw new Error("the next offset to read is committed");
 * ```
 *
 * @module
 */
import { kafkaBrokerList } from "../../../core/catalog_messaging.ts";
import type { ConsumedMessage, OutgoingMessage } from "../broker.ts";
import { NodeError } from "../executor.ts";

/** The header each sent record carries its key in (also when a consumer's key is not a string). */
export const KEY_HEADER = "flowmesh-key";

/**
 * The broker addresses of a `kafka://host:port[,host:port…]` URL.
 *
 * @throws {NodeError} `config_format` (not retryable): not such a URL, or one with credentials (not supported).
 */
export function parseKafkaUrl(url: string): string[] {
  const m = /^kafka:\/\/([^/?#]*)\/?$/i.exec(url.trim());
  if (m !== null && m[1].includes("@")) {
    throw new NodeError("config_format", "kafka:// URLs with credentials are not supported", false);
  }
  const list = m === null ? undefined : kafkaBrokerList(m[1]);
  if (list === undefined) {
    throw new NodeError("config_format", "a Kafka connection is kafka://host:port[,host:port…]", false);
  }
  return list;
}

/** How a Kafka URL is shown: its addresses (it holds no secret). */
export function shownKafkaUrl(brokers: readonly string[]): string {
  return `kafka://${brokers.join(",")}`;
}

/** What a Kafka consumer node reads. */
export interface KafkaConsumerConfig {
  topic: string;
  groupId: string;
  /** Where a group with no committed offset starts: the earliest message, else the latest. */
  fromBeginning: boolean;
}

function nameField(config: Record<string, unknown>, name: string, fallback?: string): string {
  const v = config[name] ?? fallback;
  if (typeof v !== "string" || v === "" || v.length > 255) {
    throw new NodeError("config_missing", `${name}: a name of 1 to 255 characters is needed`, false);
  }
  return v;
}

/**
 * The topic, group and start of a consumer node's (normalised) config.
 *
 * @throws {NodeError} `config_missing` (not retryable).
 */
export function kafkaConsumerConfig(config: Record<string, unknown>): KafkaConsumerConfig {
  return {
    topic: nameField(config, "topic"),
    groupId: nameField(config, "groupId", "flowmesh"),
    fromBeginning: config.fromBeginning !== false,
  };
}

/**
 * The topic of a producer node's (normalised) config.
 *
 * @throws {NodeError} `config_missing` (not retryable).
 */
export function kafkaProducerTopic(config: Record<string, unknown>): string {
  return nameField(config, "topic");
}

/** A record as the producer sends it (string key, value and headers). */
export interface KafkaRecord {
  topic: string;
  key: string;
  value: string;
  headers: Record<string, string>;
}

/** The records of the messages to send to `topic`: each keyed, its key also in the {@link KEY_HEADER} header. */
export function kafkaRecords(topic: string, messages: readonly OutgoingMessage[]): KafkaRecord[] {
  return messages.map((m) => ({ topic, key: m.key, value: m.value, headers: { [KEY_HEADER]: m.key } }));
}

/** What the adapter reads of a consumed Kafka message. */
export interface TakenKafkaMessage {
  topic: string;
  partition: number;
  offset: bigint;
  leaderEpoch: number;
  key?: string | null;
  value?: string | null;
  headers?: Map<string, string | undefined>;
}

/** An offset as JSON: a number while it is exact, else its decimal text. */
function offsetJson(offset: bigint): number | string {
  return offset <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(offset) : offset.toString();
}

/** A taken message as the consumer node sees it: its value (empty when null), key, and topic/partition/offset. */
export function consumedMessage(m: TakenKafkaMessage): ConsumedMessage {
  const message: ConsumedMessage = {
    value: m.value ?? "",
    position: { topic: m.topic, partition: m.partition, offset: offsetJson(m.offset) },
  };
  const key = typeof m.key === "string" ? m.key : m.headers?.get(KEY_HEADER);
  if (typeof key === "string") message.key = key;
  return message;
}

/** An offset to commit: the next one to read of a partition. */
export interface PartitionOffset {
  topic: string;
  partition: number;
  offset: bigint;
  leaderEpoch: number;
}

/** The offsets a batch commits: per partition, one past the last message taken. */
export function commitOffsets(taken: readonly TakenKafkaMessage[]): PartitionOffset[] {
  const next = new Map<string, PartitionOffset>();
  for (const m of taken) {
    const id = `${m.partition}\n${m.topic}`;
    const seen = next.get(id);
    if (seen === undefined || seen.offset <= m.offset) {
      next.set(id, {
        topic: m.topic,
        partition: m.partition,
        offset: m.offset + 1n,
        leaderEpoch: m.leaderEpoch,
      });
    }
  }
  return [...next.values()];
}

/** Every code, protocol error id and message in an error and the errors it aggregates or wraps. */
function errorTexts(err: unknown, depth = 0, out: string[] = []): string[] {
  if (depth > 6 || err === null || typeof err !== "object" || out.length > 200) return out;
  const e = err as { code?: unknown; apiId?: unknown; message?: unknown; errors?: unknown; cause?: unknown };
  for (const v of [e.code, e.apiId, e.message]) if (typeof v === "string") out.push(v);
  if (Array.isArray(e.errors)) { for (const inner of e.errors) errorTexts(inner, depth + 1, out); }
  errorTexts(e.cause, depth + 1, out);
  return out;
}

const NOT_FOUND = /^(UNKNOWN_TOPIC_OR_PARTITION|UNKNOWN_TOPIC_ID|INVALID_TOPIC_EXCEPTION)$/;
const REFUSED =
  /^(TOPIC_AUTHORIZATION_FAILED|GROUP_AUTHORIZATION_FAILED|CLUSTER_AUTHORIZATION_FAILED|TRANSACTIONAL_ID_AUTHORIZATION_FAILED|SASL_AUTHENTICATION_FAILED|UNSUPPORTED_SASL_MECHANISM|ILLEGAL_SASL_STATE|PLT_KFK_AUTHENTICATION)$/;
const UNREACHABLE =
  /^(PLT_KFK_NETWORK|PLT_KFK_TIMEOUT|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|EPIPE)$|Cannot connect to any broker|Connection closed|Client is closed|timed out/i;
const FAILED_TIMES = /failed \d+ times?/;

/**
 * A Kafka client failure as a `NodeError`: `broker_not_found` (no such topic), `broker_refused`
 * (authentication, authorisation), both not retryable; `broker_unreachable` (no connection, timeouts) and
 * `broker_error`, retryable. The message names the brokers and the first reasons (no credentials exist in a
 * Kafka URL to hide).
 */
export function kafkaNodeError(err: unknown, brokers: readonly string[], doing: string): NodeError {
  if (err instanceof NodeError) return err;
  const texts = errorTexts(err);
  const where = `${shownKafkaUrl(brokers)}: ${doing}`;
  const reasons = [...new Set(texts.filter((t) => !/^PLT_KFK_/.test(t) && !FAILED_TIMES.test(t)))].slice(
    0,
    3,
  );
  const detail = (reasons.length > 0 ? reasons : texts.slice(0, 1)).join("; ").slice(0, 500) ||
    String(err).slice(0, 200);
  if (texts.some((t) => NOT_FOUND.test(t))) {
    return new NodeError("broker_not_found", `${where}: the topic does not exist (${detail})`, false);
  }
  if (texts.some((t) => REFUSED.test(t))) {
    return new NodeError("broker_refused", `${where} was refused: ${detail}`, false);
  }
  if (texts.some((t) => UNREACHABLE.test(t))) {
    return new NodeError("broker_unreachable", `${where}: the brokers cannot be reached (${detail})`, true);
  }
  return new NodeError("broker_error", `${where}: ${detail}`, true);
}

/** A producer's own state is lost: its idempotent sequence or epoch no longer matches the brokers'. */
const PRODUCER_STATE =
  /^(OUT_OF_ORDER_SEQUENCE_NUMBER|INVALID_PRODUCER_EPOCH|UNKNOWN_PRODUCER_ID|INVALID_PRODUCER_ID_MAPPING|PRODUCER_FENCED)$/;

/**
 * Whether a send's failure means its producer is broken and must be replaced: the connection is lost (as
 * `kafkaNodeError` reads it: `broker_unreachable`) or the idempotent producer's state is. Any other failure
 * (a missing topic, a refusal, a record too large) is the send's alone.
 *
 * @example
 * ```ts
 * import { NetworkError, ProtocolError } from "npm:@platformatic/kafka@2.12.1";
 * import { kafkaProducerBroken } from "./kafka_mapping.ts";
 * if (!kafkaProducerBroken(new NetworkError("Connection to a:9092 failed."))) throw new Error();
 * if (!kafkaProducerBroken(new ProtocolError("INVALID_PRODUCER_EPOCH"))) throw new Error();
 * if (kafkaProducerBroken(new ProtocolError("MESSAGE_TOO_LARGE"))) throw new Error();
 * ```
 */
export function kafkaProducerBroken(err: unknown): boolean {
  if (errorTexts(err).some((t) => PRODUCER_STATE.test(t))) return true;
  return kafkaNodeError(err, [], "sending").code === "broker_unreachable";
}
