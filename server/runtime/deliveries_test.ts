/**
 * The runtime's side of the consumers' at-least-once contract: what a consumer attempt took is committed
 * only once its output is durably in the history, and released whenever it will not be (past a bound,
 * superseded by a cancel, fenced off by a new owner). The broker is a fake behind the real services.
 */
import { assert, assertEquals, assertStrictEquals } from "../../testing/assert.ts";
import { shardOf } from "../../core/ids.ts";
import { MemoryStorage } from "../../storage/memory.ts";
import type { Storage, StoredWorkflow } from "../../storage/storage.ts";
import { testEngine } from "../../testing/engine.ts";
import { checkWorkflow } from "./workflows.ts";
import { realServices } from "../executors/services.ts";
import type { ConsumedMessage, ConsumeRequest } from "../executors/broker.ts";
import type { PooledBroker } from "../executors/brokers/pool.ts";
import type { EngineLimits } from "./engine.ts";

/** A fake broker: each consume hands out `messages` (after `gate` opens) and logs how it was settled. */
class FakeBroker {
  /** How each consume (by its index in `consumed`) was settled, and whether its attempt was recorded then. */
  settled: { action: "commit" | "release"; consume: number; consumer: string; recorded: boolean }[] = [];
  messages: string[] = ["1", "2", "3"];
  gate: Promise<void> = Promise.resolve();
  consumed: ConsumeRequest[] = [];
  constructor(private readonly storage: Storage, private readonly onConsume: () => void = () => {}) {}

  client(): PooledBroker {
    return {
      consume: async (request) => {
        const consume = this.consumed.push(request) - 1;
        this.onConsume();
        await this.gate;
        const messages: ConsumedMessage[] = this.messages.map((value, i) => ({ value, position: { i } }));
        const consumer = request.consumerName;
        // What the history holds when the delivery is settled: the consumer attempt's success, or not.
        const recorded = async () => {
          const id = consumer.slice(0, consumer.indexOf(":"));
          const attempt = Number(consumer.slice(consumer.lastIndexOf(":") + 1));
          const events = await this.storage.readEvents(id);
          return events.some((e) => e.type === "NodeSucceeded" && e.nodeId === "in" && e.attempt === attempt);
        };
        return {
          messages,
          delivery: {
            commit: async () =>
              void this.settled.push({ action: "commit", consume, consumer, recorded: await recorded() }),
            release: async () =>
              void this.settled.push({ action: "release", consume, consumer, recorded: await recorded() }),
          },
        };
      },
      produce: () => Promise.resolve(),
      close: () => Promise.resolve(),
    };
  }
}

async function store(storage: Storage): Promise<StoredWorkflow> {
  const checked = checkWorkflow({
    id: "consume",
    name: "consume",
    nodes: [
      { id: "in", type: "source", nodeType: "redis.consumer", config: { stream: "s", maxWaitMs: 0 } },
      { id: "out", type: "sink", nodeType: "memory.collect", config: {} },
    ],
    edges: [{ source: "in", target: "out" }],
  });
  if (!checked.ok) throw new Error(JSON.stringify(checked.problems));
  const put = await storage.putWorkflow(checked.value.definition, checked.value.hash, 0, Date.now());
  if (!put.ok) throw new Error("put failed");
  return put.workflow;
}

function engineWith(
  storage: Storage,
  broker: FakeBroker,
  limits: Partial<EngineLimits> = {},
  name = "node-a",
) {
  const services = realServices({
    brokers: { default: "redis://fake" },
    brokerFactories: { redis: () => broker.client() },
  });
  return { engine: testEngine(storage, limits, { services, nodeName: name }), services };
}

/** Waits until `cond` holds (polling; fails after 5 s). */
async function until(cond: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 5));
  }
}

Deno.test("deliveries: a consumer's batch is committed once its output is in the history", async () => {
  const storage = new MemoryStorage();
  const broker = new FakeBroker(storage);
  const { engine, services } = engineWith(storage, broker);
  await engine.start();
  try {
    const r = await engine.submit(await store(storage), { input: null });
    assert(r.ok);
    const view = await engine.wait(r.value.executionId, 5000);
    assertStrictEquals(view?.status, "completed");
    await until(() => broker.settled.length === 1);
    assertEquals(broker.settled, [{
      action: "commit",
      consume: 0,
      consumer: `${r.value.executionId}:in:1`,
      recorded: true,
    }]);
    const out = await engine.output(r.value.executionId, "out");
    assert(out.ok);
    assertEquals(out.value, [1, 2, 3]);
  } finally {
    await engine.stop();
    await services.close();
  }
});

Deno.test("deliveries: a batch past the output bound is released, never committed", async () => {
  const storage = new MemoryStorage();
  const broker = new FakeBroker(storage);
  // The fake ignores maxMessages: the runtime's own bound must catch the batch.
  const { engine, services } = engineWith(storage, broker, { maxRecords: 2 });
  await engine.start();
  try {
    const r = await engine.submit(await store(storage), { input: null });
    assert(r.ok);
    const view = await engine.wait(r.value.executionId, 5000);
    assertStrictEquals(view?.status, "failed");
    assertStrictEquals(view!.nodes.find((n) => n.nodeId === "in")!.error?.code, "output_too_large");
    await until(() => broker.settled.length === 1);
    assertStrictEquals(broker.settled[0].action, "release");
    assertStrictEquals(broker.settled[0].recorded, false);
  } finally {
    await engine.stop();
    await services.close();
  }
});

Deno.test("deliveries: a batch taken by an attempt that a cancel superseded is released", async () => {
  const storage = new MemoryStorage();
  let open!: () => void;
  const broker = new FakeBroker(storage);
  broker.gate = new Promise((resolve) => open = resolve);
  const { engine, services } = engineWith(storage, broker);
  await engine.start();
  try {
    const r = await engine.submit(await store(storage), { input: null });
    assert(r.ok);
    await until(() => broker.consumed.length === 1);
    const cancelled = await engine.cancel(r.value.executionId, "test");
    assert(cancelled.ok);
    open();
    await until(() => broker.settled.length === 1);
    assertEquals(broker.settled.map((s) => [s.action, s.recorded]), [["release", false]]);
  } finally {
    await engine.stop();
    await services.close();
  }
});

Deno.test("deliveries: an owner fenced off releases its batch; the new owner's run commits", async () => {
  const storage = new MemoryStorage();
  let open!: () => void;
  const broker = new FakeBroker(storage);
  broker.gate = new Promise((resolve) => open = resolve);
  const first = engineWith(storage, broker);
  await first.engine.start();
  const second = engineWith(storage, broker, {}, "node-b");
  try {
    const r = await first.engine.submit(await store(storage), { input: null });
    assert(r.ok);
    const id = r.value.executionId;
    await until(() => broker.consumed.length === 1);
    // A new owner takes every shard (epochs bumped) while the first one's consumer holds its batch.
    await second.engine.start();
    await until(() => broker.consumed.length === 2);
    open(); // both attempts return now: only the owner's can be recorded
    const view = await second.engine.wait(id, 5000);
    assertStrictEquals(view?.status, "completed");
    await until(() => broker.settled.length === 2);
    const byConsume = Object.fromEntries(broker.settled.map((s) => [s.consume, s]));
    // The first owner's attempt was fenced off: released, never committed; the new owner's was committed
    // once recorded.
    assertStrictEquals(byConsume[0].action, "release");
    assertStrictEquals(byConsume[1].action, "commit");
    assertStrictEquals(byConsume[1].recorded, true);
  } finally {
    await first.engine.stop();
    await second.engine.stop();
    await first.services.close();
    await second.services.close();
  }
});

Deno.test(
  "deliveries: a batch waiting for an append retry is released when its shard is released meanwhile",
  async () => {
    const memory = new MemoryStorage();
    let failing = false;
    let failed = 0;
    // Storage that throws on appends while `failing`: the pump backs off and retries its commands.
    const storage = new Proxy(memory, {
      get(target, key) {
        if (key === "append" || key === "appendMany") {
          return (...args: unknown[]) => {
            if (failing) {
              failed++;
              return Promise.reject(new Error("storage down"));
            }
            return (Reflect.get(target, key) as (...a: unknown[]) => unknown).apply(target, args);
          };
        }
        const value = Reflect.get(target, key, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    let open!: () => void;
    const broker = new FakeBroker(memory);
    broker.gate = new Promise((resolve) => open = resolve);
    const { engine, services } = engineWith(storage, broker);
    await engine.start();
    try {
      const r = await engine.submit(await store(memory), { input: null });
      assert(r.ok);
      await until(() => broker.consumed.length === 1);
      failing = true;
      open(); // the consumer's result is appended, which throws: it waits in the inbox for a retry
      await until(() => failed > 0);
      // Its shard leaves this node (a lost lease) before the retry: nothing pumps the inbox again.
      engine.releaseShard(shardOf(r.value.executionId, engine.shardCount));
      await until(() => broker.settled.length === 1);
      assertEquals(broker.settled.map((s) => [s.action, s.recorded]), [["release", false]]);
    } finally {
      failing = false;
      await engine.stop();
      await services.close();
    }
  },
);
