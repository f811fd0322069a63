/**
 * The messaging executors over a fake broker: bounds handed down, records decoded, the delivery handed to
 * the runtime, producer keys per record, and the grants (`--broker`, inline) enforced by the real services.
 */
import { assert, assertEquals, assertRejects, assertStrictEquals } from "../../testing/assert.ts";
import { testNodeContext } from "../../testing/node_context.ts";
import { consumerExecutor, producerExecutor } from "./messaging.ts";
import { realServices } from "./services.ts";
import type { ConsumeRequest, ProduceRequest } from "./broker.ts";
import type { PooledBroker } from "./brokers/pool.ts";
import { NodeError } from "./executor.ts";
import { enforceLimits } from "./limits.ts";
import { BatchBounds, valueBytes } from "./brokers/bounds.ts";

function fake(values: string[]) {
  const consumes: ConsumeRequest[] = [];
  const produces: ProduceRequest[] = [];
  const urls: string[] = [];
  const client = (url: string): PooledBroker => {
    urls.push(url);
    return {
      consume: (request) => {
        consumes.push(request);
        return Promise.resolve({
          messages: values.map((value, i) => ({ value, key: `k${i}`, position: { offset: i } })),
          delivery: { commit: () => Promise.resolve(), release: () => Promise.resolve() },
        });
      },
      produce: (request) => {
        produces.push(request);
        return Promise.resolve();
      },
      close: () => Promise.resolve(),
    };
  };
  return { consumes, produces, urls, client };
}

Deno.test("consumer: bounds and the attempt's name go to the broker; values decode; the delivery is returned", async () => {
  const broker = fake(['{"id":1}', "plain", "42"]);
  const services = realServices({
    brokers: { default: "redis://127.0.0.1:6379" },
    brokerFactories: { redis: broker.client },
  });
  const ctx = testNodeContext({
    services,
    executionId: "e1",
    nodeId: "in",
    attempt: 2,
    config: { stream: "s", maxMessages: 500, maxWaitMs: 10, output: "value" },
    limits: { maxRecords: 100, maxBytes: 4096 },
  });
  try {
    const out = await consumerExecutor("redis.consumer")(ctx);
    assertEquals(out.records, [{ id: 1 }, "plain", 42]);
    assert(out.delivery !== undefined);
    const [request] = broker.consumes;
    assertEquals([request.maxMessages, request.maxBytes, request.maxWaitMs], [100, 4095, 10]);
    assertEquals(
      request.measure?.({ value: '{"id":1}', position: {} }),
      9,
      "the record as JSON, and a comma",
    );
    assertStrictEquals(request.consumerName, "e1:in:2");
    assertEquals(broker.urls, ["redis://127.0.0.1:6379"]);
    const message = await consumerExecutor("redis.consumer")({
      ...ctx,
      config: { ...ctx.config, output: "message" },
    });
    assertEquals(message.records[0], { value: { id: 1 }, key: "k0", position: { offset: 0 } });
  } finally {
    await services.close();
  }
});

Deno.test("producer: every record is sent keyed <executionId>:<nodeId>:<index>, strings as they are", async () => {
  const broker = fake([]);
  const services = realServices({
    brokers: { default: "nats://127.0.0.1:4222" },
    brokerFactories: { nats: broker.client },
  });
  const ctx = testNodeContext({
    services,
    executionId: "e9",
    nodeId: "send",
    config: { subject: "s" },
    records: [{ a: 1 }, "text", 3],
  });
  try {
    const out = await producerExecutor("nats.producer")(ctx);
    assertEquals(out, { records: [], recordsProcessed: 3 });
    assertEquals(broker.produces[0].messages, [
      { key: "e9:send:0", value: '{"a":1}' },
      { key: "e9:send:1", value: "text" },
      { key: "e9:send:2", value: "3" },
    ]);
    const none = await producerExecutor("nats.producer")({
      ...ctx,
      inputs: { records: [], byParent: {}, byHandle: {} },
    });
    assertEquals(none.recordsProcessed, 0);
    assertEquals(broker.produces.length, 1, "nothing to send: the broker is not called");
  } finally {
    await services.close();
  }
});

Deno.test("messaging grants: no declared broker, an inline one not allowed, a wrong scheme are refused", async () => {
  const broker = fake([]);
  const cases: [Parameters<typeof realServices>[0], Record<string, unknown>, string][] = [
    [{}, { subject: "s" }, "connection_not_granted"],
    [
      { brokers: { default: "nats://h:4222" } },
      { subject: "s", url: "nats://other:4222" },
      "connection_not_granted",
    ],
    [{ brokers: { default: "redis://h:6379" } }, { subject: "s" }, "connection_scheme"],
    [{ brokers: { x: "nats://h:4222" } }, { subject: "s", connection: "y" }, "connection_not_granted"],
  ];
  for (const [grants, config, code] of cases) {
    const services = realServices({ ...grants, brokerFactories: { nats: broker.client } });
    const ctx = testNodeContext({ services, config, records: [1] });
    try {
      await assertRejects(
        () => producerExecutor("nats.producer")(ctx),
        (e: unknown) => e instanceof NodeError && e.code === code && !e.retryable,
        JSON.stringify(config),
      );
    } finally {
      await services.close();
    }
  }
  // Inline allowed: the node's own URL (or Kafka's old brokers list) is used.
  const services = realServices({
    allowInlineConnections: true,
    brokerFactories: { nats: broker.client, kafka: broker.client },
  });
  try {
    await producerExecutor("nats.producer")(
      testNodeContext({ services, config: { subject: "s", url: "nats://127.0.0.1:4222" }, records: [1] }),
    );
    await producerExecutor("kafka.producer")(
      testNodeContext({ services, config: { topic: "t", brokers: "a:9092, b:9093" }, records: [1] }),
    );
    assertEquals(broker.urls, ["nats://127.0.0.1:4222", "kafka://a:9092,b:9093"]);
  } finally {
    await services.close();
  }
});

Deno.test("consumer: a batch is cut to what fits the node's byte bound as JSON records, so it never fails it", async () => {
  // 30 messages whose values fit the bound, but whose records (quoted, escaped, wrapped) would not.
  const values = Array.from({ length: 30 }, (_, i) => `say "hi" ${i}`);
  for (const output of ["value", "message"]) {
    const given: string[] = [];
    const client = (): PooledBroker => ({
      consume: (request) => {
        const bounds = new BatchBounds(request.maxMessages, request.maxBytes, request.measure ?? valueBytes);
        const messages = values.map((value, i) => ({ value, position: { offset: i } })).filter((m) =>
          bounds.take(m) || (given.push(m.value), false)
        );
        return Promise.resolve({
          messages,
          delivery: { commit: () => Promise.resolve(), release: () => Promise.resolve() },
        });
      },
      produce: () => Promise.resolve(),
      close: () => Promise.resolve(),
    });
    const services = realServices({
      brokers: { default: "redis://h:6379" },
      brokerFactories: { redis: client },
    });
    const limits = { maxRecords: 1000, maxBytes: values.join("").length };
    const ctx = testNodeContext({
      services,
      config: { stream: "s", maxMessages: 100, maxWaitMs: 0, output },
      limits,
    });
    try {
      const out = await consumerExecutor("redis.consumer")(ctx);
      enforceLimits(out.records, limits, "in"); // throws output_too_large if the batch passed the bound
      assert(
        out.records.length > 0 && out.records.length < values.length,
        `${output}: ${out.records.length}`,
      );
      assertEquals(out.records.length + given.length, values.length, "the rest is given back");
    } finally {
      await services.close();
    }
  }
});

Deno.test("consumer: a message that alone passes the output bound fails the node, given back (never an empty run)", async () => {
  let released = 0;
  const client = (): PooledBroker => ({
    consume: (request) => {
      const bounds = new BatchBounds(request.maxMessages, request.maxBytes, request.measure ?? valueBytes);
      const messages = [{ value: "x".repeat(200), position: {} }].filter((m) => bounds.take(m));
      return Promise.resolve({
        messages,
        delivery: { commit: () => Promise.resolve(), release: () => Promise.resolve(void released++) },
      });
    },
    produce: () => Promise.resolve(),
    close: () => Promise.resolve(),
  });
  const services = realServices({
    brokers: { default: "redis://h:6379" },
    brokerFactories: { redis: client },
  });
  const ctx = testNodeContext({
    services,
    config: { stream: "s", maxMessages: 10, maxWaitMs: 0 },
    limits: { maxBytes: 100 },
  });
  try {
    await assertRejects(
      () => consumerExecutor("redis.consumer")(ctx),
      (e: unknown) => e instanceof NodeError && e.code === "output_too_large" && !e.retryable,
    );
    assertEquals(released, 1);
  } finally {
    await services.close();
  }
});
