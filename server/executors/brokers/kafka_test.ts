import { Admin, MultipleErrors, NetworkError, ProtocolError } from "npm:@platformatic/kafka@2.12.1";
import { assert, assertEquals, assertRejects } from "../../../testing/assert.ts";
import type { ConsumeRequest } from "../broker.ts";
import { NodeError } from "../executor.ts";
import { Readable } from "node:stream";
import { BatchBounds, valueBytes } from "./bounds.ts";
import { kafkaBroker, type KafkaProducer, readBatch } from "./kafka.ts";
import {
  commitOffsets,
  consumedMessage,
  kafkaConsumerConfig,
  kafkaNodeError,
  kafkaProducerBroken,
  kafkaProducerTopic,
  kafkaRecords,
  parseKafkaUrl,
} from "./kafka_mapping.ts";

/** The NodeError a call fails with (it must fail with one). */
async function failure(fn: () => Promise<unknown> | unknown): Promise<NodeError> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof NodeError) return e;
    throw e;
  }
  throw new Error("it did not fail");
}

let seq = 0;

function request(config: Record<string, unknown>, over: Partial<ConsumeRequest> = {}): ConsumeRequest {
  return {
    config,
    maxMessages: 100,
    maxBytes: 1 << 20,
    maxWaitMs: 0,
    consumerName: `test-run:${++seq}`,
    signal: new AbortController().signal,
    ...over,
  };
}

Deno.test("kafka url: kafka://host:port[,host:port] gives the broker list; anything else is config_format", async () => {
  assertEquals(parseKafkaUrl("kafka://127.0.0.1:9092"), ["127.0.0.1:9092"]);
  assertEquals(parseKafkaUrl("kafka://a:9092,b.example:9093/"), ["a:9092", "b.example:9093"]);
  assertEquals(parseKafkaUrl("KAFKA://a:1, b:2"), ["a:1", "b:2"]);
  for (const bad of ["kafka://", "kafka://a", "kafka://a:1/x", "nats://a:1", "kafka://a:1?x=1", "a:1"]) {
    const e = await failure(() => parseKafkaUrl(bad));
    assertEquals([e.code, e.retryable], ["config_format", false], bad);
  }
  const creds = await failure(() => parseKafkaUrl("kafka://user:pw@a:1"));
  assertEquals(creds.code, "config_format");
  assert(!creds.message.includes("pw"), creds.message);
});

Deno.test("kafka config: topic needed, group and start defaulted", async () => {
  assertEquals(kafkaConsumerConfig({ topic: "t" }), { topic: "t", groupId: "flowmesh", fromBeginning: true });
  assertEquals(kafkaConsumerConfig({ topic: "t", groupId: "g", fromBeginning: false }), {
    topic: "t",
    groupId: "g",
    fromBeginning: false,
  });
  assertEquals(kafkaProducerTopic({ topic: "out" }), "out");
  for (const config of [{}, { topic: "" }, { topic: 3 }, { topic: "t", groupId: "" }]) {
    const e = await failure(() => kafkaConsumerConfig(config));
    assertEquals([e.code, e.retryable], ["config_missing", false]);
  }
});

Deno.test("kafka records: each keyed, with its key in the flowmesh-key header", () => {
  assertEquals(kafkaRecords("t", [{ key: "e1:n:0", value: '{"a":1}' }, { key: "e1:n:1", value: "x" }]), [
    { topic: "t", key: "e1:n:0", value: '{"a":1}', headers: { "flowmesh-key": "e1:n:0" } },
    { topic: "t", key: "e1:n:1", value: "x", headers: { "flowmesh-key": "e1:n:1" } },
  ]);
  assertEquals(kafkaRecords("t", []), []);
});

Deno.test("kafka messages: value, key (else the header's) and position", () => {
  const base = { topic: "t", partition: 2, leaderEpoch: 0 };
  assertEquals(consumedMessage({ ...base, offset: 7n, key: "k", value: "v" }), {
    value: "v",
    key: "k",
    position: { topic: "t", partition: 2, offset: 7 },
  });
  const fromHeader = consumedMessage({
    ...base,
    offset: 8n,
    key: null,
    value: null,
    headers: new Map([["flowmesh-key", "h"]]),
  });
  assertEquals([fromHeader.value, fromHeader.key], ["", "h"]);
  assertEquals(consumedMessage({ ...base, offset: 9n, value: "v" }).key, undefined);
  const huge = consumedMessage({ ...base, offset: 2n ** 60n, value: "v" });
  assertEquals(huge.position.offset, (2n ** 60n).toString());
});

Deno.test("kafka offsets: per partition, one past the last message taken", () => {
  const m = (topic: string, partition: number, offset: bigint, leaderEpoch = 3) => ({
    topic,
    partition,
    offset,
    leaderEpoch,
  });
  const offsets = commitOffsets([m("t", 0, 4n), m("t", 1, 10n), m("t", 0, 5n), m("u", 0, 1n), m("t", 1, 9n)]);
  assertEquals(
    offsets.map((o) => [o.topic, o.partition, o.offset, o.leaderEpoch]).sort(),
    [["t", 0, 6n, 3], ["t", 1, 11n, 3], ["u", 0, 2n, 3]].sort(),
  );
  assertEquals(commitOffsets([]), []);
});

/** A consumer's stream as the tests drive it: messages pushed, fetches reported by hand. */
function fakeStream() {
  const stream = new Readable({ objectMode: true, read() {} });
  let offset = 0n;
  const push = (...values: string[]) => {
    for (const value of values) {
      stream.push({ topic: "t", partition: 0, offset: offset++, leaderEpoch: 0, value });
    }
  };
  return { stream, push, fetched: () => stream.emit("fetch") };
}

const never = new AbortController().signal;

Deno.test("kafka batch: stops at maxMessages and pauses the stream", async () => {
  const { stream, push } = fakeStream();
  push("a", "b", "c", "d");
  const taken = await readBatch(stream, new BatchBounds(3, 1000, valueBytes), 60_000, never);
  assertEquals(taken.map((m) => m.value), ["a", "b", "c"]);
  assert(stream.isPaused());
});

Deno.test("kafka batch: stops before the value that would pass maxBytes (not taken: not committed)", async () => {
  const { stream, push } = fakeStream();
  push("aaaa", "bbbb", "cc", "d");
  const taken = await readBatch(stream, new BatchBounds(10, 9, valueBytes), 60_000, never);
  assertEquals(taken.map((m) => m.value), ["aaaa", "bbbb"]);
  assertEquals(commitOffsets(taken).map((o) => o.offset), [2n]);
});

Deno.test("kafka batch: after maxWaitMs it still waits for a first fetch, then ends with what it has", async () => {
  const { stream, push, fetched } = fakeStream();
  const reading = readBatch(stream, new BatchBounds(10, 1000, valueBytes), 1, never);
  let ended = false;
  reading.then(() => ended = true, () => ended = true);
  await new Promise((r) => setTimeout(r, 30));
  assert(!ended, "no fetch answered yet");
  push("late");
  fetched();
  assertEquals((await reading).map((m) => m.value), ["late"]);
  const empty = fakeStream();
  const none = readBatch(empty.stream, new BatchBounds(10, 1000, valueBytes), 0, never);
  empty.fetched();
  assertEquals(await none, []);
});

Deno.test("kafka batch: an abort or a stream error rejects", async () => {
  const aborted = fakeStream();
  const ac = new AbortController();
  const reading = readBatch(aborted.stream, new BatchBounds(10, 1000, valueBytes), 60_000, ac.signal);
  aborted.push("a");
  ac.abort(new Error("attempt cancelled"));
  await assertRejects(() => reading, { message: "attempt cancelled" });
  const broken = fakeStream();
  const failing = readBatch(broken.stream, new BatchBounds(10, 1000, valueBytes), 60_000, never);
  broken.stream.destroy(new Error("fetch failed"));
  await assertRejects(() => failing, { message: "fetch failed" });
});

Deno.test("kafka errors: not found, refused, unreachable, other — with stable codes", () => {
  const brokers = ["a:9092"];
  const nested = new MultipleErrors("metadata failed 3 times.", [
    new ProtocolError("UNKNOWN_TOPIC_OR_PARTITION"),
  ]);
  const notFound = kafkaNodeError(nested, brokers, "sending");
  assertEquals([notFound.code, notFound.retryable], ["broker_not_found", false]);
  assert(notFound.message.startsWith("kafka://a:9092: sending"), notFound.message);
  const refused = kafkaNodeError(new ProtocolError("TOPIC_AUTHORIZATION_FAILED"), brokers, "reading");
  assertEquals([refused.code, refused.retryable], ["broker_refused", false]);
  const sasl = kafkaNodeError(new ProtocolError("SASL_AUTHENTICATION_FAILED"), brokers, "reading");
  assertEquals(sasl.code, "broker_refused");
  const down = new MultipleErrors("joinGroup failed 2 times.", [
    new MultipleErrors("Cannot connect to any broker.", [new NetworkError("Connection to a:9092 failed.")]),
  ]);
  const unreachable = kafkaNodeError(down, brokers, "reading");
  assertEquals([unreachable.code, unreachable.retryable], ["broker_unreachable", true]);
  assert(unreachable.message.includes("Cannot connect to any broker"), unreachable.message);
  const other = kafkaNodeError(new Error("something odd"), brokers, "reading");
  assertEquals([other.code, other.retryable, other.message], [
    "broker_error",
    true,
    "kafka://a:9092: reading: something odd",
  ]);
  const own = new NodeError("config_missing", "x", false);
  assertEquals(kafkaNodeError(own, brokers, "reading"), own);
});

Deno.test("kafka broker: a malformed URL fails each use with config_format", async () => {
  const broker = kafkaBroker("kafka://nohost");
  try {
    const e = await failure(() => broker.consume(request({ topic: "t" })));
    assertEquals(e.code, "config_format");
  } finally {
    await broker.close();
  }
});

Deno.test({
  name: "kafka broker: a closed port is broker_unreachable (retryable), for consume and produce",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const broker = kafkaBroker("kafka://127.0.0.1:1");
    try {
      const c = await failure(() => broker.consume(request({ topic: "t" }, { maxWaitMs: 100 })));
      assertEquals([c.code, c.retryable], ["broker_unreachable", true]);
      const p = await failure(() =>
        broker.produce({
          config: { topic: "t" },
          messages: [{ key: "k", value: "v" }],
          signal: new AbortController().signal,
        })
      );
      assertEquals([p.code, p.retryable], ["broker_unreachable", true]);
      assert(p.message.includes("127.0.0.1:1"), p.message);
      const ac = new AbortController();
      ac.abort(new Error("attempt cancelled"));
      await assertRejects(() => broker.consume(request({ topic: "t" }, { signal: ac.signal })), {
        message: "attempt cancelled",
      });
    } finally {
      await broker.close();
    }
  },
});

/** Producers whose sends the test settles by hand, and what became of them. */
function fakeProducers() {
  const made: { sends: { resolve(): void; reject(e: unknown): void }[]; closed: number }[] = [];
  const makeProducer = (): KafkaProducer => {
    const p = { sends: [] as { resolve(): void; reject(e: unknown): void }[], closed: 0 };
    made.push(p);
    return {
      send: () => new Promise((resolve, reject) => p.sends.push({ resolve: () => resolve({}), reject })),
      close: () => {
        p.closed++;
        return Promise.resolve();
      },
    } as unknown as KafkaProducer;
  };
  return { made, makeProducer };
}

/** Lets every settled promise's handlers run. */
const settle = () => new Promise((r) => setTimeout(r, 0));

function produceOn(broker: ReturnType<typeof kafkaBroker>, signal = new AbortController().signal) {
  const p = broker.produce({ config: { topic: "t" }, messages: [{ key: "k", value: "v" }], signal });
  p.catch(() => {});
  return p;
}

Deno.test("kafka produce: one send's abort leaves the producer shared by the others open", async () => {
  const { made, makeProducer } = fakeProducers();
  const broker = kafkaBroker("kafka://127.0.0.1:9092", { makeProducer });
  try {
    const abort = new AbortController();
    const a = produceOn(broker, abort.signal);
    const b = produceOn(broker);
    await settle();
    assertEquals([made.length, made[0].sends.length], [1, 2], "one producer, both sends on it");
    abort.abort(new Error("attempt cancelled"));
    await assertRejects(() => a, Error, "attempt cancelled");
    await settle();
    assertEquals(made[0].closed, 0, "closed under the other send");
    made[0].sends[1].resolve();
    await b;
    made[0].sends[0].resolve(); // the aborted send ends later, unseen
    const c = produceOn(broker);
    await settle();
    made[0].sends[2].resolve();
    await c;
    assertEquals([made.length, made[0].closed], [1, 0], "the next send reuses it");
  } finally {
    await broker.close();
  }
  assertEquals(made[0].closed, 1);
});

Deno.test("kafka produce: a lost connection replaces the producer, closed once its other sends are over", async () => {
  const { made, makeProducer } = fakeProducers();
  const broker = kafkaBroker("kafka://127.0.0.1:9092", { makeProducer });
  try {
    const a = produceOn(broker);
    const b = produceOn(broker);
    await settle();
    made[0].sends[0].reject(new NetworkError("Connection to 127.0.0.1:9092 failed."));
    const e = await failure(() => a);
    assertEquals([e.code, e.retryable], ["broker_unreachable", true]);
    const c = produceOn(broker);
    await settle();
    assertEquals([made.length, made[1].sends.length], [2, 1], "a new producer for the next send");
    assertEquals(made[0].closed, 0, "not closed while b uses it");
    made[0].sends[1].resolve();
    await b;
    await settle();
    assertEquals(made[0].closed, 1, "closed once b is over");
    made[1].sends[0].resolve();
    await c;
  } finally {
    await broker.close();
  }
});

Deno.test("kafka produce: a send's own failure (not the connection's) keeps the producer", async () => {
  const { made, makeProducer } = fakeProducers();
  const broker = kafkaBroker("kafka://127.0.0.1:9092", { makeProducer });
  try {
    const a = produceOn(broker);
    await settle();
    made[0].sends[0].reject(new ProtocolError("MESSAGE_TOO_LARGE"));
    assertEquals((await failure(() => a)).code, "broker_error");
    const b = produceOn(broker);
    await settle();
    made[0].sends[1].resolve();
    await b;
    assertEquals([made.length, made[0].closed], [1, 0]);
  } finally {
    await broker.close();
  }
});

Deno.test("kafka errors: a producer is broken by a lost connection or a lost idempotent state only", () => {
  assert(kafkaProducerBroken(new NetworkError("Connection to a:9092 failed.")));
  assert(
    kafkaProducerBroken(new MultipleErrors("send failed 3 times.", [new ProtocolError("PRODUCER_FENCED")])),
  );
  assert(!kafkaProducerBroken(new ProtocolError("UNKNOWN_TOPIC_OR_PARTITION")));
  assert(!kafkaProducerBroken(new ProtocolError("TOPIC_AUTHORIZATION_FAILED")));
  assert(!kafkaProducerBroken(new Error("something odd")));
});

// ---- live: only against a Kafka named by ENGINE_TEST_KAFKA_BROKERS ("host:port[,host:port]") ----

const LIVE = Deno.env.get("ENGINE_TEST_KAFKA_BROKERS");
const NEEDS = " (needs ENGINE_TEST_KAFKA_BROKERS)";
if (LIVE === undefined) {
  console.warn(
    "kafka_test.ts: the Kafka live path was NOT tested (ENGINE_TEST_KAFKA_BROKERS is not set; no Kafka here)",
  );
}

function liveUrl(): string {
  return LIVE!.startsWith("kafka://") ? LIVE! : `kafka://${LIVE}`;
}

/** A fresh one-partition topic for one test, deleted after. */
async function withTopic(fn: (topic: string) => Promise<void>): Promise<void> {
  const admin = new Admin({ clientId: "flowmesh-test", bootstrapBrokers: parseKafkaUrl(liveUrl()) });
  const topic = `flowmesh_test_${crypto.randomUUID()}`;
  try {
    await admin.createTopics({ topics: [topic], partitions: 1, replicas: 1 });
    await fn(topic);
  } finally {
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin.close();
  }
}

function liveTest(name: string, fn: () => Promise<void>): void {
  Deno.test({
    name: LIVE === undefined ? `${name}${NEEDS}` : name,
    ignore: LIVE === undefined,
    sanitizeOps: false,
    sanitizeResources: false,
    fn,
  });
}

const signal = new AbortController().signal;

liveTest("kafka live: produced records are consumed with their keys, in order", async () => {
  await withTopic(async (topic) => {
    const broker = kafkaBroker(liveUrl());
    try {
      const messages = [{ key: "e:n:0", value: '{"a":1}' }, { key: "e:n:1", value: "two" }];
      await broker.produce({ config: { topic }, messages, signal });
      const batch = await broker.consume(request({ topic, groupId: `g-${topic}` }, { maxWaitMs: 10_000 }));
      assertEquals(batch.messages.map((m) => [m.key, m.value, m.position.offset]), [
        ["e:n:0", '{"a":1}', 0],
        ["e:n:1", "two", 1],
      ]);
      await batch.delivery.commit();
    } finally {
      await broker.close();
    }
  });
});

liveTest("kafka live: a committed batch is not delivered again; the rest is", async () => {
  await withTopic(async (topic) => {
    const broker = kafkaBroker(liveUrl());
    const config = { topic, groupId: `g-${topic}` };
    try {
      const messages = ["a", "b", "c"].map((v, i) => ({ key: `k${i}`, value: v }));
      await broker.produce({ config: { topic }, messages, signal });
      const first = await broker.consume(request(config, { maxMessages: 2, maxWaitMs: 10_000 }));
      assertEquals(first.messages.map((m) => m.value), ["a", "b"]);
      await first.delivery.commit();
      const second = await broker.consume(request(config, { maxWaitMs: 3000 }));
      assertEquals(second.messages.map((m) => m.value), ["c"]);
      await second.delivery.commit();
      const none = await broker.consume(request(config, { maxWaitMs: 2000 }));
      assertEquals(none.messages, []);
    } finally {
      await broker.close();
    }
  });
});

liveTest("kafka live: a released batch is delivered again", async () => {
  await withTopic(async (topic) => {
    const broker = kafkaBroker(liveUrl());
    const config = { topic, groupId: `g-${topic}` };
    try {
      await broker.produce({ config: { topic }, messages: [{ key: "k", value: "once" }], signal });
      const first = await broker.consume(request(config, { maxWaitMs: 10_000 }));
      assertEquals(first.messages.map((m) => m.value), ["once"]);
      await first.delivery.release();
      const again = await broker.consume(request(config, { maxWaitMs: 10_000 }));
      assertEquals(again.messages.map((m) => [m.value, m.position.offset]), [["once", 0]]);
      await again.delivery.commit();
    } finally {
      await broker.close();
    }
  });
});

liveTest("kafka live: a missing topic is broker_not_found", async () => {
  const broker = kafkaBroker(liveUrl());
  try {
    const e = await failure(() =>
      broker.produce({
        config: { topic: `missing_${crypto.randomUUID()}` },
        messages: [{ key: "k", value: "v" }],
        signal,
      })
    );
    assertEquals([e.code, e.retryable], ["broker_not_found", false]);
  } finally {
    await broker.close();
  }
});
