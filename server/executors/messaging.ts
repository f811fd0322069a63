/**
 * The messaging nodes' executors, one consumer and one producer for every broker (`kafka.*`, `nats.*`,
 * `rabbitmq.*`, `redis.*`), over the broker contract of `broker.ts`:
 * - a consumer takes at most `maxMessages` (and the node's byte limit) within `maxWaitMs` and returns them
 *   with the batch's `Delivery`, which the runtime commits once the output is in the history;
 * - a producer sends each incoming record as JSON (a string as it is) keyed `<executionId>:<nodeId>:<index>`.
 *
 * @example
 * ```ts
 * import { messageKey, decodeValue } from "./messaging.ts";
 * if (messageKey("e1", "out", 3) !== "e1:out:3") throw new Error();
 * if (JSON.stringify(decodeValue('{"a":1}')) !== '{"a":1}' || decodeValue("plain") !== "plain") throw new Error();
 * ```
 *
 * @module
 */
import { brokerOf, kafkaBrokerList } from "../../core/catalog_messaging.ts";
import type { BrokerClient, BrokerTarget, ConsumedMessage } from "./broker.ts";
import { type Executor, type Json, type NodeContext, NodeError } from "./executor.ts";
import { outputTooLarge, utf8Length } from "./limits.ts";

/**
 * The key a producer gives the record at `index` of its input: stable across the node's attempts, so a
 * consumer downstream (or the broker: NATS `Nats-Msg-Id`, the Redis producer's marker) can drop a resend.
 */
export function messageKey(executionId: string, nodeId: string, index: number): string {
  return `${executionId}:${nodeId}:${index}`;
}

/** A message's value as a record: its JSON when it parses as JSON, else its text. */
export function decodeValue(text: string): Json {
  const t = text.trimStart();
  if (t === "" || !/^[\[{"\-0-9tfn]/.test(t)) return text;
  try {
    const value = JSON.parse(text) as Json;
    // A number JSON cannot carry exactly (an id of 19 digits, say) stays the text it was.
    return typeof value === "number" && !Number.isSafeInteger(value) && /^-?\d+$/.test(t.trim())
      ? text
      : value;
  } catch {
    return text;
  }
}

/** The text a producer sends for a record: a string as it is, anything else as JSON. */
export function encodeValue(record: Json): string {
  return typeof record === "string" ? record : JSON.stringify(record);
}

/**
 * The broker a messaging node names, from its config: a declared `connection`, else its inline `url` (or
 * Kafka's old `brokers` list), else the connection `default`.
 */
export function brokerTarget(nodeType: string, config: Record<string, unknown>): BrokerTarget {
  const kind = brokerOf(nodeType);
  if (kind === undefined) throw new NodeError("no_executor", `${nodeType} is not a messaging kind`, false);
  if (typeof config.connection === "string") return { kind, connection: config.connection };
  if (typeof config.url === "string") return { kind, url: config.url };
  if (kind === "kafka" && config.brokers !== undefined) {
    const list = kafkaBrokerList(config.brokers);
    if (list === undefined) throw new NodeError("config_format", "brokers: not a host:port list", false);
    return { kind, url: `kafka://${list.join(",")}` };
  }
  return { kind };
}

function brokerClient(ctx: NodeContext, nodeType: string): BrokerClient {
  if (!ctx.services.broker) {
    throw new NodeError("broker_unavailable", "this runtime gives no broker to the messaging nodes", false);
  }
  return ctx.services.broker(brokerTarget(nodeType, ctx.config));
}

function asRecord(m: ConsumedMessage, output: unknown): Json {
  const value = decodeValue(m.value);
  if (output !== "message") return value;
  const record: { [k: string]: Json } = { value, position: m.position };
  if (m.key !== undefined) record.key = m.key;
  return record;
}

/** The consumer of `nodeType`: a bounded batch, acknowledged by the runtime once recorded. */
export function consumerExecutor(nodeType: string): Executor {
  return async (ctx) => {
    const client = brokerClient(ctx, nodeType);
    const { maxMessages, maxWaitMs, output } = ctx.config as {
      maxMessages: number;
      maxWaitMs: number;
      output?: string;
    };
    const maxBytes = ctx.limits.maxBytes - 1;
    // A message that alone passes the bound can never be taken: the node fails rather than end empty forever.
    let oversized = false;
    const batch = await client.consume({
      config: ctx.config,
      maxMessages: Math.min(maxMessages, ctx.limits.maxRecords),
      // The runtime bounds the output as a JSON array: `[`, `]` and a comma between records. Counting each
      // record's JSON plus one keeps every batch taken within that bound, so none fails it (and comes back).
      maxBytes,
      measure: (m) => {
        const size = utf8Length(JSON.stringify(asRecord(m, output))) + 1;
        if (size > maxBytes) oversized = true;
        return size;
      },
      maxWaitMs,
      consumerName: `${ctx.idempotencyKey}:${ctx.attempt}`,
      signal: ctx.signal,
    });
    try {
      if (batch.messages.length === 0 && oversized) {
        throw outputTooLarge(
          ctx.nodeId,
          `a message passes the output bound of ${ctx.limits.maxBytes} bytes alone`,
        );
      }
      const records = batch.messages.map((m) => asRecord(m, output));
      return { records, delivery: batch.delivery };
    } catch (e) {
      await batch.delivery.release().catch(() => {});
      throw e;
    }
  };
}

/** The producer of `nodeType`: every incoming record, keyed by execution, node and index. */
export function producerExecutor(nodeType: string): Executor {
  return async (ctx) => {
    const records = ctx.inputs.records;
    if (records.length === 0) return { records: [], recordsProcessed: 0 };
    const client = brokerClient(ctx, nodeType);
    const messages = records.map((r, i) => ({
      key: messageKey(ctx.executionId, ctx.nodeId, i),
      value: encodeValue(r),
    }));
    await client.produce({ config: ctx.config, messages, signal: ctx.signal });
    return { records: [], recordsProcessed: records.length };
  };
}

/** The messaging executors by `type/nodeType`, for the registry. */
export const MESSAGING_EXECUTORS: readonly [string, Executor][] = (
  ["kafka", "nats", "rabbitmq", "redis"] as const
).flatMap((broker) => [
  [`source/${broker}.consumer`, consumerExecutor(`${broker}.consumer`)] as [string, Executor],
  [`sink/${broker}.producer`, producerExecutor(`${broker}.producer`)] as [string, Executor],
]);
