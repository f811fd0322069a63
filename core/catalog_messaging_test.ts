/**
 * The messaging kinds as the validator sees them: the old engine's `kafka.consumer` config as-is, numeric
 * strings coerced, broker URLs of the wrong scheme and malformed Kafka broker lists refused with their path.
 */
import fc from "npm:fast-check@4.11.0";
import { assert, assertEquals } from "../testing/assert.ts";
import { validateWorkflow } from "./validate.ts";
import { brokerOf, kafkaBrokerList, MESSAGING_KINDS } from "./catalog_messaging.ts";
import { CATALOG } from "./catalog.ts";
import type { Problem } from "./schema.ts";

function workflow(nodeType: string, type: string, config: Record<string, unknown>) {
  const sink = { id: "out", type: "sink", nodeType: "memory.collect", config: {} };
  const source = { id: "src", type: "source", nodeType: "sequence.numbers", config: {} };
  const node = { id: "m", type, nodeType, config };
  return type === "source"
    ? { id: "w", name: "w", nodes: [node, sink], edges: [{ source: "m", target: "out" }] }
    : { id: "w", name: "w", nodes: [source, node], edges: [{ source: "src", target: "m" }] };
}

function problems(nodeType: string, type: string, config: Record<string, unknown>): Problem[] {
  const r = validateWorkflow(workflow(nodeType, type, config));
  return r.ok ? [] : r.problems;
}

Deno.test("messaging kinds: each broker has a consumer source and a producer sink in the catalog", () => {
  for (const broker of ["kafka", "nats", "rabbitmq", "redis"]) {
    const consumer = CATALOG.find((k) => k.nodeType === `${broker}.consumer`);
    const producer = CATALOG.find((k) => k.nodeType === `${broker}.producer`);
    assertEquals([consumer?.type, producer?.type], ["source", "sink"]);
    assertEquals(brokerOf(`${broker}.consumer`), broker);
    assertEquals(consumer?.local, undefined, "a consumer has effects: never run inside a commit");
  }
  assertEquals(MESSAGING_KINDS.length, 8);
  assertEquals(brokerOf("mysql.query"), undefined);
  assertEquals(brokerOf("kafka.admin"), undefined);
});

Deno.test("messaging kinds: the old engine's kafka.consumer config is accepted as it was sent", () => {
  const r = validateWorkflow(workflow("kafka.consumer", "source", {
    topic: "orders",
    brokers: "localhost:9092,kafka-2:9093",
    groupId: "pekko-engine",
    maxMessages: "50",
  }));
  assert(r.ok, r.ok ? "" : JSON.stringify(r.problems));
  const config = r.workflow.nodes[0].config as Record<string, unknown>;
  assertEquals(config.maxMessages, 50);
  assertEquals(config.maxWaitMs, 5000);
  assertEquals(config.output, "value");
});

Deno.test("messaging kinds: a wrong scheme, a bad Kafka list, a missing name each say where", () => {
  const at = "$.nodes[0].config";
  assertEquals(
    problems("nats.consumer", "source", { stream: "s", url: "redis://127.0.0.1:6379" }).map((
      p,
    ) => [p.code, p.path]),
    [["connection_scheme", `${at}.url`]],
  );
  assertEquals(
    problems("kafka.consumer", "source", { topic: "t", brokers: "a:1,b" }).map((p) => [p.code, p.path]),
    [["config_format", `${at}.brokers`]],
  );
  assertEquals(problems("redis.consumer", "source", {}).map((p) => [p.code, p.path]), [
    ["config_missing", `${at}.stream`],
  ]);
  const rabbit = problems("rabbitmq.producer", "sink", { exchange: "x" });
  assertEquals(rabbit.map((p) => [p.code, p.path]), [["config_missing", "$.nodes[1].config.queue"]]);
  assertEquals(problems("rabbitmq.producer", "sink", { exchange: "x", routingKey: "k" }), []);
  assertEquals(
    problems("redis.consumer", "source", { stream: "s", maxMessages: 0 }).map((p) => p.path),
    [`${at}.maxMessages`],
  );
});

Deno.test("kafkaBrokerList: any list of host:port parses, in order; a list with one bad entry does not", () => {
  const host = fc.stringMatching(/^[a-z][a-z0-9.-]{0,20}$/);
  const port = fc.integer({ min: 1, max: 65535 });
  const address = fc.tuple(host, port).map(([h, p]) => `${h}:${p}`);
  fc.assert(fc.property(fc.array(address, { minLength: 1, maxLength: 64 }), (list) => {
    assertEquals(kafkaBrokerList(list.join(",")), list);
    assertEquals(kafkaBrokerList(list.join(" , ")), list);
    assertEquals(kafkaBrokerList(list), list);
  }));
  fc.assert(fc.property(fc.array(address, { maxLength: 10 }), host, fc.nat(10), (list, bad, at) => {
    const broken = [...list];
    broken.splice(Math.min(at, list.length), 0, bad); // a host without a port
    assertEquals(kafkaBrokerList(broken.join(",")), undefined);
  }));
  assertEquals(kafkaBrokerList(""), undefined);
  assertEquals(kafkaBrokerList(Array(65).fill("a:1")), undefined);
});
