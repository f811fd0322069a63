import { assert, assertEquals, assertStrictEquals, assertThrows } from "../testing/assert.ts";
import { envelope, transportContract } from "../testing/transport_contract.ts";
import { type Decision, MemoryNetwork, type MemoryTransport } from "./memory.ts";
import type { Envelope } from "./transport.ts";

transportContract("memory", (ids, options = {}) => {
  const warnings: string[] = [];
  const net = new MemoryNetwork({ maxQueue: options.maxQueue, logger: { warn: (m) => warnings.push(m) } });
  const transports = ids.map((id) => net.join(id));
  return Promise.resolve({
    transports,
    down: (id) => Promise.resolve(net.disconnect(id)),
    up: (id) => {
      net.reconnect(id);
      return Promise.resolve(transports[ids.indexOf(id)]);
    },
    warnings: () => warnings,
    close: () => net.close(),
  });
});

/** A virtual-time scheduler: runs tasks in (due time, insertion) order, only when asked. */
class ManualScheduler {
  now = 0;
  #seq = 0;
  #tasks: { at: number; seq: number; fn: () => void }[] = [];
  schedule = (fn: () => void, delayMs: number) => {
    this.#tasks.push({ at: this.now + Math.max(0, delayMs), seq: this.#seq++, fn });
  };
  /** Runs every task, including those scheduled meanwhile. */
  run(): void {
    while (this.#tasks.length > 0) {
      this.#tasks.sort((x, y) => x.at - y.at || x.seq - y.seq);
      const t = this.#tasks.shift()!;
      this.now = t.at;
      t.fn();
    }
  }
}

function setup(ids: string[], decide?: (e: Envelope) => Decision) {
  const sched = new ManualScheduler();
  const net = new MemoryNetwork({ schedule: sched.schedule, decide, logger: { warn() {} } });
  const nodes = Object.fromEntries(ids.map((id) => [id, net.join(id)])) as Record<string, MemoryTransport>;
  const log: string[] = [];
  for (const t of Object.values(nodes)) t.onMessage((e) => log.push(`${e.from}>${e.to}:${e.body}`));
  sched.run();
  const send = (from: string, to: string, body: unknown) => nodes[from].send(envelope(from, to, "m", body));
  return { sched, net, nodes, log, send };
}

Deno.test("memory: delivery waits for the scheduler (asynchronous)", async () => {
  const { sched, net, log, send } = setup(["a", "b"]);
  assert(send("a", "b", 1));
  assertEquals(log, []);
  sched.run();
  assertEquals(log, ["a>b:1"]);
  await net.close();
});

Deno.test("memory: a partition blocks both ways, heal restores", async () => {
  const { sched, net, log, send } = setup(["a", "b", "c"]);
  net.partition("a", "b");
  assert(send("a", "b", 1), "the sender cannot tell");
  assert(send("b", "a", 2));
  assert(send("a", "c", 3));
  sched.run();
  assertEquals(log, ["a>c:3"]);
  assertEquals(net.stats().lost, 2);
  net.heal("a", "b");
  send("a", "b", 4);
  send("b", "a", 5);
  sched.run();
  assertEquals(log, ["a>c:3", "a>b:4", "b>a:5"]);
  await net.close();
});

Deno.test("memory: envelopes in flight when a partition starts are lost", async () => {
  const { sched, net, log, send } = setup(["a", "b"]);
  send("a", "b", 1);
  net.partition("b", "a"); // same pair, other order
  sched.run();
  assertEquals(log, []);
  assertStrictEquals(net.stats().lost, 1);
  assertStrictEquals(net.nodes().length, 2);
  await net.close();
});

Deno.test("memory: a one-way partition blocks one direction only", async () => {
  const { sched, net, log, send } = setup(["a", "b"]);
  net.partitionOneWay("a", "b");
  send("a", "b", 1);
  send("b", "a", 2);
  sched.run();
  assertEquals(log, ["b>a:2"]);
  net.healAll();
  send("a", "b", 3);
  sched.run();
  assertEquals(log, ["b>a:2", "a>b:3"]);
  await net.close();
});

Deno.test("memory: disconnect fires peer-down, queues, and reconnect fires peer-up then flushes", async () => {
  const { sched, net, nodes, log, send } = setup(["a", "b", "c"]);
  const events: string[] = [];
  for (const t of Object.values(nodes)) {
    t.onPeer((p, up) => events.push(`${t.self}:${p}:${up ? "up" : "down"}`));
  }
  net.disconnect("b");
  sched.run();
  assertEquals(events.sort(), ["a:b:down", "b:a:down", "b:c:down", "c:b:down"]);
  assert(send("a", "b", 1));
  assert(send("b", "c", 2));
  assertStrictEquals(nodes.a.stats().queued, 1);
  sched.run();
  assertEquals(log, []);
  events.length = 0;
  net.reconnect("b");
  sched.run();
  assertEquals(events.sort(), ["a:b:up", "b:a:up", "b:c:up", "c:b:up"]);
  assertEquals(log.sort(), ["a>b:1", "b>c:2"]);
  assertStrictEquals(nodes.a.stats().queued, 0);
  await net.close();
});

Deno.test("memory: a closed node can rejoin under its id; a duplicate join throws", async () => {
  const { sched, net, nodes, send } = setup(["a", "b"]);
  assertThrows(() => net.join("a"));
  await nodes.b.close();
  assert(send("a", "b", "held"), "b is known: queued");
  const b2 = net.join("b");
  const got: unknown[] = [];
  b2.onMessage((e) => got.push(e.body));
  sched.run();
  assertEquals(got, ["held"]);
  await net.close();
});

Deno.test("memory: the decide hook drops, duplicates and delays", async () => {
  const decide = (e: Envelope): Decision => {
    const n = e.body as number;
    if (n === 1) return { drop: true };
    if (n === 2) return { duplicate: true };
    if (n === 3) return { delayMs: 50 };
    return {};
  };
  const { sched, net, log, send } = setup(["a", "b"], decide);
  for (const n of [1, 2, 3, 4]) send("a", "b", n);
  sched.run();
  assertEquals(log, ["a>b:2", "a>b:2", "a>b:4", "a>b:3"]);
  assertEquals(net.stats(), { delivered: 4, lost: 1, duplicated: 1 });
  net.decide = undefined;
  send("a", "b", 1);
  sched.run();
  assertEquals(log.at(-1), "a>b:1");
  await net.close();
});

Deno.test("memory: the per-peer bound counts envelopes in flight", async () => {
  const sched = new ManualScheduler();
  const net = new MemoryNetwork({ schedule: sched.schedule, maxQueue: 3 });
  const a = net.join("a");
  net.join("b");
  sched.run();
  const results = [1, 2, 3, 4].map((n) => a.send(envelope("a", "b", "m", n)));
  assertEquals(results, [true, true, true, false]);
  assertEquals(a.stats().queued, 3);
  sched.run();
  assert(a.send(envelope("a", "b", "m", 5)), "room again once delivered");
  assertStrictEquals(a.send({ ...envelope("a", "b", "m", 0), body: 10n }), false, "not serializable");
  assertEquals(a.stats().dropped, 2);
  await net.close();
});

Deno.test("memory: deterministic: two runs with the same seed deliver in the same order", async () => {
  const run = async (seed: number) => {
    const random = mulberry32(seed);
    const decide = (): Decision => ({
      drop: random() < 0.1,
      duplicate: random() < 0.1,
      delayMs: Math.floor(random() * 20),
    });
    const { sched, net, log, send } = setup(["a", "b", "c"], decide);
    for (let i = 0; i < 100; i++) {
      send("a", "b", i);
      send("b", "c", i);
      send("c", "a", i);
      if (i === 50) net.partition("a", "b");
      if (i === 70) net.heal("a", "b");
    }
    sched.run();
    const stats = net.stats();
    await net.close();
    return { log, stats };
  };
  const first = await run(42);
  const second = await run(42);
  assertEquals(first, second);
  assert(first.stats.lost > 0 && first.stats.duplicated > 0, "faults happened");
  const other = await run(7);
  assert(JSON.stringify(other.log) !== JSON.stringify(first.log), "a different seed differs");
});

/** A small seeded PRNG (the hook brings randomness; the network has none). */
function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
