/**
 * The messaging kinds: a consumer (a bounded source) and a producer (a sink) for Kafka, NATS JetStream,
 * RabbitMQ and Redis Streams, on one contract. A consumer takes at most `maxMessages` within `maxWaitMs`
 * and its offsets / acks are committed only once its output is durably in the execution's history
 * (at-least-once); a producer sends each record with the key `<executionId>:<nodeId>:<index>`, so a retried
 * attempt can be de-duplicated downstream. Pure data, like the rest of the catalog (`catalog.ts` lists them).
 *
 * @example
 * ```ts
 * import { MESSAGING_KINDS } from "./catalog_messaging.ts";
 * const kafka = MESSAGING_KINDS.find((k) => k.nodeType === "kafka.consumer")!;
 * if (kafka.type !== "source" || kafka.config.topic.required !== true) throw new Error();
 * const [p] = kafka.check!({ topic: "t", brokers: "kafka:9092,:x" }, "$.nodes[0].config");
 * if (p?.code !== "config_format" || p.path !== "$.nodes[0].config.brokers") throw new Error();
 * ```
 *
 * @module
 */
import type { NodeKindSpec } from "./catalog.ts";
import type { ConfigSchema, Problem } from "./schema.ts";

/** The brokers a messaging node can reach, by the prefix of its node kinds. */
export type BrokerKind = "kafka" | "nats" | "rabbitmq" | "redis";

/** The URL schemes of each broker's connections (`--broker NAME=URL`, or a node's inline `url`). */
export const BROKER_SCHEMES: Readonly<Record<BrokerKind, readonly string[]>> = {
  kafka: ["kafka:"],
  nats: ["nats:", "tls:"],
  rabbitmq: ["amqp:", "amqps:"],
  redis: ["redis:", "rediss:"],
};

/** The broker of a messaging node kind (`nats.consumer` → `nats`), or undefined for any other kind. */
export function brokerOf(nodeType: string): BrokerKind | undefined {
  const dot = nodeType.indexOf(".");
  const prefix = nodeType.slice(0, dot);
  const rest = nodeType.slice(dot + 1);
  return (rest === "consumer" || rest === "producer") && Object.hasOwn(BROKER_SCHEMES, prefix)
    ? prefix as BrokerKind
    : undefined;
}

/**
 * The least `claimIdleMs` of a Redis consumer: a run holding entries keeps resetting their idle time well
 * within it (every quarter of it), so no concurrent run takes over a batch that is still held.
 *
 * @example
 * ```ts
 * import { REDIS_MIN_CLAIM_IDLE_MS } from "./catalog_messaging.ts";
 * if (REDIS_MIN_CLAIM_IDLE_MS !== 1000) throw new Error();
 * ```
 */
export const REDIS_MIN_CLAIM_IDLE_MS = 1000;

/** `host:port`, the form of one Kafka broker address. */
const HOST_PORT = /^[A-Za-z0-9.\-_\[\]:]+:\d{1,5}$/;

/**
 * The Kafka broker addresses of an inline `brokers` value: a comma-separated string (the old engine's) or a
 * list; undefined when one is malformed.
 *
 * @example
 * ```ts
 * import { kafkaBrokerList } from "./catalog_messaging.ts";
 * if (kafkaBrokerList("a:9092, b:9093")?.join() !== "a:9092,b:9093") throw new Error();
 * if (kafkaBrokerList(["a"]) !== undefined) throw new Error("a port is needed");
 * ```
 */
export function kafkaBrokerList(value: unknown): string[] | undefined {
  const list = typeof value === "string"
    ? value.split(",").map((s) => s.trim()).filter((s) => s !== "")
    : Array.isArray(value)
    ? value.map((s) => typeof s === "string" ? s.trim() : "")
    : undefined;
  if (list === undefined || list.length === 0 || list.length > 64) return undefined;
  return list.every((b) => HOST_PORT.test(b)) ? list : undefined;
}

const CONNECTION = {
  connection: {
    type: "string",
    label: "Connection",
    description:
      "the name of a broker connection the operator declared (--broker NAME=URL); default: `default`",
  },
} as const;

const URL_FIELD = {
  url: {
    type: "string",
    label: "URL",
    description: "an inline broker URL, refused unless the node allows inline connections",
  },
} as const;

const CONSUMER_BOUNDS = {
  maxMessages: {
    type: "integer",
    default: 1000,
    coerce: true,
    min: 1,
    max: 100000,
    label: "Max messages",
    description: "the most messages one run takes (and the node's record limit)",
  },
  maxWaitMs: {
    type: "integer",
    default: 5000,
    coerce: true,
    min: 0,
    max: 300000,
    label: "Max wait (ms)",
    description: "how long one run waits for messages; it ends with what it has then",
  },
  output: {
    type: "string",
    default: "value",
    enum: ["value", "message"],
    label: "Output",
    description:
      "`value`: each message's value (JSON when it parses, else text); `message`: value, key and " +
      "the broker's position",
  },
} as const;

function schemeCheck(broker: BrokerKind, field: string) {
  return (config: Record<string, unknown>, path: string): Problem[] => {
    const url = config[field];
    if (typeof url !== "string") return [];
    let scheme: string;
    try {
      scheme = new URL(url).protocol;
    } catch {
      return [{ path: `${path}.${field}`, code: "config_format", message: "url is not a URL" }];
    }
    return BROKER_SCHEMES[broker].includes(scheme) ? [] : [{
      path: `${path}.${field}`,
      code: "connection_scheme",
      message: `this node needs a ${BROKER_SCHEMES[broker].map((s) => `${s}//`).join(" or ")} URL`,
    }];
  };
}

function kafkaCheck(config: Record<string, unknown>, path: string): Problem[] {
  if (config.brokers === undefined || kafkaBrokerList(config.brokers) !== undefined) return [];
  return [{
    path: `${path}.brokers`,
    code: "config_format",
    message: 'brokers must be "host:port" addresses, comma-separated or a list (at most 64)',
  }];
}

function rabbitProducerCheck(config: Record<string, unknown>, path: string): Problem[] {
  const problems = schemeCheck("rabbitmq", "url")(config, path);
  if (config.queue === undefined && config.routingKey === undefined) {
    problems.push({
      path: `${path}.queue`,
      code: "config_missing",
      message: "name a queue, or an exchange and its routingKey",
    });
  }
  return problems;
}

interface KindText {
  broker: BrokerKind;
  name: string;
  consumer: string;
  producer: string;
}

function consumer(t: KindText, config: ConfigSchema, check?: NodeKindSpec["check"]): NodeKindSpec {
  return {
    type: "source",
    nodeType: `${t.broker}.consumer`,
    displayName: `${t.name} consumer`,
    icon: "inbox-arrow-down",
    description: t.consumer +
      " At-least-once: acknowledged only once the node's output is in the execution's history.",
    behaviour: "task",
    acceptsInput: false,
    outputs: ["out"],
    config: { ...config, ...CONSUMER_BOUNDS, ...CONNECTION },
    check: check ?? schemeCheck(t.broker, "url"),
  };
}

function producer(t: KindText, config: ConfigSchema, check?: NodeKindSpec["check"]): NodeKindSpec {
  return {
    type: "sink",
    nodeType: `${t.broker}.producer`,
    displayName: `${t.name} producer`,
    icon: "send",
    description: t.producer +
      " Each record is keyed <executionId>:<nodeId>:<index>, so a retried send can be de-duplicated.",
    behaviour: "task",
    acceptsInput: true,
    outputs: [],
    config: { ...config, ...CONNECTION },
    check: check ?? schemeCheck(t.broker, "url"),
  };
}

const KAFKA: KindText = {
  broker: "kafka",
  name: "Kafka",
  consumer:
    "Reads messages of a Kafka topic as a consumer group; offsets are committed after the run records them.",
  producer: "Sends each record to a Kafka topic as JSON, with its key.",
};
const NATS: KindText = {
  broker: "nats",
  name: "NATS JetStream",
  consumer:
    "Pulls messages from a JetStream stream through a durable consumer; each is acked after the run " +
    "records it.",
  producer:
    "Publishes each record to a JetStream subject as JSON, with its key as Nats-Msg-Id (de-duplicated " +
    "by the stream's window).",
};
const RABBIT: KindText = {
  broker: "rabbitmq",
  name: "RabbitMQ",
  consumer: "Takes messages from a RabbitMQ queue; each is acked after the run records it (else requeued).",
  producer:
    "Publishes each record as persistent JSON with confirms, to a queue or an exchange; its key is the " +
    "message id.",
};
const REDIS: KindText = {
  broker: "redis",
  name: "Redis Streams",
  consumer:
    "Reads a Redis stream as a consumer group (taking over entries a crashed run left pending); each " +
    "is acked after the run records it.",
  producer: "Appends each record to a Redis stream, once per key: a retried send does not add it again.",
};

const NAME = { type: "string", required: true, maxLength: 255 } as const;

/** The messaging kinds: a consumer and a producer for each broker. */
export const MESSAGING_KINDS: readonly NodeKindSpec[] = [
  consumer(KAFKA, {
    topic: { ...NAME, label: "Topic" },
    brokers: { type: "any", label: "Brokers", description: 'inline "host:port" list (comma-separated)' },
    groupId: { type: "string", default: "flowmesh", maxLength: 255, label: "Group id" },
    fromBeginning: {
      type: "boolean",
      default: true,
      label: "From beginning",
      description: "a group with no committed offset starts at the earliest message (else the latest)",
    },
  }, kafkaCheck),
  producer(KAFKA, {
    topic: { ...NAME, label: "Topic" },
    brokers: { type: "any", label: "Brokers", description: 'inline "host:port" list (comma-separated)' },
  }, kafkaCheck),
  consumer(NATS, {
    stream: { ...NAME, label: "Stream" },
    durable: { type: "string", default: "flowmesh", maxLength: 255, label: "Durable consumer" },
    subject: {
      type: "string",
      maxLength: 255,
      label: "Subject filter",
      description: "when creating the consumer",
    },
    ackWaitMs: {
      type: "integer",
      default: 30000,
      coerce: true,
      min: 1000,
      max: 3600000,
      label: "Ack wait (ms)",
      description: "when creating the consumer: how long before an unacked message is redelivered",
    },
    ...URL_FIELD,
  }),
  producer(NATS, { subject: { ...NAME, label: "Subject" }, ...URL_FIELD }),
  consumer(RABBIT, { queue: { ...NAME, label: "Queue" }, ...URL_FIELD }),
  producer(RABBIT, {
    queue: {
      type: "string",
      maxLength: 255,
      label: "Queue",
      description: "sent through the default exchange",
    },
    exchange: { type: "string", default: "", maxLength: 255, label: "Exchange" },
    routingKey: { type: "string", maxLength: 255, label: "Routing key", description: "default: the queue" },
    ...URL_FIELD,
  }, rabbitProducerCheck),
  consumer(REDIS, {
    stream: { ...NAME, label: "Stream" },
    group: { type: "string", default: "flowmesh", maxLength: 255, label: "Group" },
    claimIdleMs: {
      type: "integer",
      default: 30000,
      coerce: true,
      min: REDIS_MIN_CLAIM_IDLE_MS,
      max: 86400000,
      label: "Claim idle (ms)",
      description:
        "entries pending this long (delivered to a run that never acked them, and no longer held " +
        "by a live run) are taken over",
    },
    ...URL_FIELD,
  }),
  producer(REDIS, {
    stream: { ...NAME, label: "Stream" },
    maxLen: {
      type: "integer",
      coerce: true,
      min: 1,
      label: "Max length",
      description: "trim the stream (~)",
    },
    ...URL_FIELD,
  }),
];
