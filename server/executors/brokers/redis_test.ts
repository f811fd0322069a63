import { Redis } from "npm:ioredis@6.1.0";
import { assert, assertEquals, assertRejects } from "../../../testing/assert.ts";
import { brokerTest, TEST_REDIS_URL } from "../../../testing/brokers.ts";
import { sleep, waitUntil } from "../../../testing/wait.ts";
import type { ConsumeRequest } from "../broker.ts";
import { NodeError } from "../executor.ts";
import { redisBroker } from "./redis.ts";
import { PARKING_CONSUMER, redisConsumerConfig, redisNodeError } from "./redis_streams.ts";

/** A stream of its own for one test, a raw connection for the test's own commands, and the cleanup. */
async function withStream(fn: (stream: string, raw: Redis) => Promise<void>): Promise<void> {
  const stream = `flowmesh_test:${crypto.randomUUID()}`;
  const raw = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  raw.on("error", () => {});
  try {
    await fn(stream, raw);
  } finally {
    let cursor = "0";
    do {
      const [next, keys] = await raw.scan(cursor, "MATCH", `${stream}*`, "COUNT", 1000);
      if (keys.length > 0) await raw.del(...keys);
      cursor = next;
    } while (cursor !== "0");
    raw.disconnect();
  }
}

let seq = 0;

/** A consume request with roomy bounds unless said otherwise. */
function request(config: Record<string, unknown>, over: Partial<ConsumeRequest> = {}): ConsumeRequest {
  return {
    config: { group: "flowmesh", claimIdleMs: 30_000, ...config },
    maxMessages: 100,
    maxBytes: 1 << 20,
    maxWaitMs: 0,
    consumerName: `test-run:${++seq}`,
    signal: new AbortController().signal,
    ...over,
  };
}

/** The NodeError a call rejects with (it must reject with one). */
async function failure(fn: () => Promise<unknown>): Promise<NodeError> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof NodeError) return e;
    throw e;
  }
  throw new Error("it did not fail");
}

async function add(raw: Redis, stream: string, ...values: string[]): Promise<string[]> {
  const ids: string[] = [];
  for (const v of values) ids.push((await raw.call("XADD", stream, "*", "value", v)) as string);
  return ids;
}

/** How many entries the group has pending, and by which consumers. */
async function pending(raw: Redis, stream: string, group = "flowmesh") {
  const [count, , , consumers] = await raw.call("XPENDING", stream, group) as [
    number,
    unknown,
    unknown,
    [string, string][] | null,
  ];
  return { count, consumers: Object.fromEntries((consumers ?? []).map(([c, n]) => [c, Number(n)])) };
}

/** The pending entries: id, owner and idle time (ms). */
async function pendingEntries(raw: Redis, stream: string, group = "flowmesh") {
  const rows = await raw.call("XPENDING", stream, group, "-", "+", "1000") as [string, string, number][];
  return rows.map(([id, owner, idle]) => ({ id, owner, idle: Number(idle) }));
}

async function consumerNames(raw: Redis, stream: string, group = "flowmesh"): Promise<string[]> {
  const rows = await raw.call("XINFO", "CONSUMERS", stream, group) as unknown[][];
  return rows.map((r) => String(r[r.indexOf("name") + 1]));
}

brokerTest(
  "redis consume: takes at most maxMessages, oldest first; the rest is left for the next run",
  "redis",
  async () => {
    await withStream(async (stream, raw) => {
      await add(raw, stream, "1", "2", "3", "4", "5");
      const broker = redisBroker(TEST_REDIS_URL);
      try {
        const first = await broker.consume(request({ stream }, { maxMessages: 3 }));
        assertEquals(first.messages.map((m) => m.value), ["1", "2", "3"]);
        await first.delivery.commit();
        const second = await broker.consume(request({ stream }, { maxMessages: 3 }));
        assertEquals(second.messages.map((m) => m.value), ["4", "5"]);
        await second.delivery.commit();
        assertEquals((await pending(raw, stream)).count, 0);
      } finally {
        await broker.close();
      }
    });
  },
);

brokerTest(
  "redis consume: ends with nothing after maxWaitMs, and a blocked read takes what arrives",
  "redis",
  async () => {
    await withStream(async (stream, raw) => {
      const broker = redisBroker(TEST_REDIS_URL);
      try {
        const empty = await broker.consume(request({ stream }, { maxWaitMs: 150 }));
        assertEquals(empty.messages, []);
        await empty.delivery.commit();
        const waiting = broker.consume(request({ stream }, { maxMessages: 1, maxWaitMs: 60_000 }));
        await new Promise((r) => setTimeout(r, 100));
        await add(raw, stream, "late");
        const got = await waiting;
        assertEquals(got.messages.map((m) => m.value), ["late"]);
        await got.delivery.commit();
      } finally {
        await broker.close();
      }
    });
  },
);

brokerTest(
  "redis consume: maxBytes stops before the entry that would pass it and gives it back",
  "redis",
  async () => {
    await withStream(async (stream, raw) => {
      const ids = await add(raw, stream, "aaaa", "bbbb", "cccc", "dddd");
      const broker = redisBroker(TEST_REDIS_URL);
      try {
        const first = await broker.consume(request({ stream }, { maxBytes: 9 }));
        assertEquals(first.messages.map((m) => m.value), ["aaaa", "bbbb"]);
        const held = await pending(raw, stream);
        assertEquals(held.count, 4, "the given-back entries stay pending, parked");
        assertEquals(held.consumers[PARKING_CONSUMER], 2, "every given-back entry is parked");
        await first.delivery.commit();
        // Taken over at once, though claimIdleMs is 30 s: given back means idle.
        const second = await broker.consume(request({ stream }));
        assertEquals(second.messages.map((m) => [m.value, m.position.id]), [["cccc", ids[2]], [
          "dddd",
          ids[3],
        ]]);
        await second.delivery.commit();
        assertEquals((await pending(raw, stream)).count, 0);
      } finally {
        await broker.close();
      }
    });
  },
);

brokerTest(
  "redis commit: acknowledges the batch (nothing pending) and removes the run's consumer",
  "redis",
  async () => {
    await withStream(async (stream, raw) => {
      await raw.call("XADD", stream, "*", "value", '{"n":1}', "key", "k1");
      await raw.call("XADD", stream, "*", "a", "1", "b", "two");
      const broker = redisBroker(TEST_REDIS_URL);
      try {
        const req = request({ stream });
        const batch = await broker.consume(req);
        assertEquals(batch.messages.map((m) => [m.value, m.key]), [['{"n":1}', "k1"], [
          '{"a":"1","b":"two"}',
          undefined,
        ]]);
        assertEquals(batch.messages[0].position.stream, stream);
        assertEquals((await pending(raw, stream)).consumers[req.consumerName], 2);
        await batch.delivery.commit();
        await batch.delivery.release(); // settled once: this does nothing
        assertEquals((await pending(raw, stream)).count, 0);
        assert(!(await consumerNames(raw, stream)).includes(req.consumerName));
      } finally {
        await broker.close();
      }
    });
  },
);

brokerTest(
  "redis release: leaves the entries pending, and the next consume takes them over",
  "redis",
  async () => {
    await withStream(async (stream, raw) => {
      const ids = await add(raw, stream, "x", "y");
      const broker = redisBroker(TEST_REDIS_URL);
      try {
        const first = await broker.consume(request({ stream }));
        await first.delivery.release();
        await first.delivery.commit(); // too late: released
        assertEquals((await pending(raw, stream)).count, 2);
        // Every entry is parked (idle long since): taken over at once, though claimIdleMs is 30 s.
        assertEquals((await pending(raw, stream)).consumers[PARKING_CONSUMER], 2);
        const again = await broker.consume(request({ stream }));
        assertEquals(again.messages.map((m) => m.position.id), ids);
        await again.delivery.commit();
        assertEquals((await pending(raw, stream)).count, 0);
      } finally {
        await broker.close();
      }
    });
  },
);

brokerTest(
  "redis crash: entries a run never settled are taken over only once idle for claimIdleMs",
  "redis",
  async () => {
    await withStream(async (stream, raw) => {
      const ids = await add(raw, stream, "p", "q");
      const crashed = redisBroker(TEST_REDIS_URL);
      const req = request({ stream });
      assertEquals((await crashed.consume(req)).messages.length, 2);
      await crashed.close(); // as a process dying would: neither commit nor release
      const broker = redisBroker(TEST_REDIS_URL);
      try {
        const early = await broker.consume(request({ stream, claimIdleMs: 3_600_000 }));
        assertEquals(early.messages, [], "not idle long enough: still the crashed run's");
        assertEquals((await pending(raw, stream)).consumers[req.consumerName], 2);
        // The crashed run no longer touches them: they grow idle.
        await waitUntil(
          "the entries idle for 1 s",
          async () => {
            return (await pendingEntries(raw, stream)).every((e) => e.idle >= 1_000);
          },
          10_000,
          50,
        );
        const late = await broker.consume(request({ stream, claimIdleMs: 1_000 }));
        assertEquals(late.messages.map((m) => m.position.id), ids);
        await late.delivery.commit();
        assertEquals((await pending(raw, stream)).count, 0);
      } finally {
        await broker.close();
      }
    });
  },
);

brokerTest(
  "redis abort: a consume aborted mid-wait rejects and gives back what it took",
  "redis",
  async () => {
    await withStream(async (stream, raw) => {
      const broker = redisBroker(TEST_REDIS_URL);
      try {
        const ac = new AbortController();
        const waiting = broker.consume(
          request({ stream }, { maxMessages: 5, maxWaitMs: 60_000, signal: ac.signal }),
        );
        await new Promise((r) => setTimeout(r, 100));
        const [id] = await add(raw, stream, "taken");
        // Abort only once the blocked read took the entry (it then waits for more).
        const deadline = Date.now() + 10_000;
        while ((await pending(raw, stream)).count === 0) {
          assert(Date.now() < deadline, "the entry was never read");
          await new Promise((r) => setTimeout(r, 20));
        }
        ac.abort(new Error("attempt cancelled"));
        await assertRejects(() => waiting, { message: "attempt cancelled" });
        assertEquals((await pending(raw, stream)).consumers[PARKING_CONSUMER], 1);
        const next = await broker.consume(request({ stream }));
        assertEquals(next.messages.map((m) => m.position.id), [id]);
        await next.delivery.commit();
        assertEquals((await pending(raw, stream)).count, 0);
        const pre = new AbortController();
        pre.abort(new Error("already"));
        await assertRejects(() => broker.consume(request({ stream }, { signal: pre.signal })), {
          message: "already",
        });
      } finally {
        await broker.close();
      }
    });
  },
);

brokerTest("redis produce: adds each message once per key, across a resend", "redis", async () => {
  await withStream(async (stream, raw) => {
    const broker = redisBroker(TEST_REDIS_URL);
    const signal = new AbortController().signal;
    try {
      const messages = [{ key: "e1:out:0", value: '{"a":1}' }, { key: "e1:out:1", value: "text" }];
      await broker.produce({ config: { stream }, messages, signal });
      await broker.produce({ config: { stream }, messages, signal });
      await broker.produce({
        config: { stream },
        messages: [...messages, { key: "e1:out:2", value: "3" }],
        signal,
      });
      const entries = await raw.call("XRANGE", stream, "-", "+") as [string, string[]][];
      assertEquals(entries.map(([, f]) => f), [
        ["value", '{"a":1}', "key", "e1:out:0"],
        ["value", "text", "key", "e1:out:1"],
        ["value", "3", "key", "e1:out:2"],
      ]);
      const batch = await broker.consume(request({ stream }));
      assertEquals(batch.messages.map((m) => m.key), ["e1:out:0", "e1:out:1", "e1:out:2"]);
      await batch.delivery.commit();
    } finally {
      await broker.close();
    }
  });
});

brokerTest("redis produce: maxLen trims the stream (approximately)", "redis", async () => {
  await withStream(async (stream, raw) => {
    const broker = redisBroker(TEST_REDIS_URL);
    try {
      const messages = Array.from({ length: 500 }, (_, i) => ({ key: `k${i}`, value: String(i) }));
      await broker.produce({
        config: { stream, maxLen: 10 },
        messages,
        signal: new AbortController().signal,
      });
      const len = Number(await raw.call("XLEN", stream));
      assert(len >= 10 && len < 500, `trimmed to about 10, not ${len}`);
    } finally {
      await broker.close();
    }
  });
});

brokerTest("redis errors: a key that is not a stream is a broker_error, not retried", "redis", async () => {
  await withStream(async (stream, raw) => {
    await raw.set(stream, "a string");
    const broker = redisBroker(TEST_REDIS_URL);
    try {
      const err = await failure(
        () =>
          broker.produce({
            config: { stream },
            messages: [{ key: "k", value: "v" }],
            signal: new AbortController().signal,
          }),
      );
      assertEquals([err.code, err.retryable], ["broker_error", false]);
      const c = await failure(() => broker.consume(request({ stream })));
      assertEquals(c.code, "broker_error");
    } finally {
      await broker.close();
    }
  });
});

Deno.test({
  name: "redis errors: a closed port is broker_unreachable (retryable), without the password",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const broker = redisBroker("redis://:sekret-pw@127.0.0.1:1/0");
    try {
      const c = await failure(() => broker.consume(request({ stream: "s" })));
      assertEquals([c.code, c.retryable], ["broker_unreachable", true]);
      const p = await failure(() =>
        broker.produce({
          config: { stream: "s" },
          messages: [{ key: "k", value: "v" }],
          signal: new AbortController().signal,
        })
      );
      assertEquals(p.code, "broker_unreachable");
      for (const e of [c, p]) {
        assert(!e.message.includes("sekret-pw"), e.message);
        assert(e.message.includes("127.0.0.1:1"), e.message);
      }
    } finally {
      await broker.close();
    }
  },
});

Deno.test("redis config: a consumer without a stream is config_missing", async () => {
  const broker = redisBroker("redis://127.0.0.1:1");
  try {
    const e = await failure(() => broker.consume(request({ stream: "" })));
    assertEquals([e.code, e.retryable], ["config_missing", false]);
  } finally {
    await broker.close();
  }
});

brokerTest(
  "redis hold: entries held past claimIdleMs (reading, then unsettled) are not taken over by a concurrent run",
  "redis",
  async () => {
    await withStream(async (stream, raw) => {
      const broker = redisBroker(TEST_REDIS_URL);
      try {
        const ids = await add(raw, stream, "a", "b");
        const holder = request({ stream, claimIdleMs: 1_000 });
        // It takes both, then waits for more past claimIdleMs, holding them.
        const reading = broker.consume({ ...holder, maxWaitMs: 1_500 });
        reading.catch(() => {}); // awaited below, unless the test failed first
        await sleep(1_200);
        const during = await broker.consume(request({ stream, claimIdleMs: 1_000 }));
        assertEquals(during.messages, [], "taken over while the holder was still reading");
        const held = await reading;
        assertEquals(held.messages.map((m) => m.position.id), ids);
        await sleep(1_200); // held, unsettled, past claimIdleMs again
        // A claim delay under the least (1 s; an old definition's 0) is read as 1 s.
        for (const claimIdleMs of [1_000, 0]) {
          const other = await broker.consume(request({ stream, claimIdleMs }));
          assertEquals(other.messages, [], `taken over from the holder (claimIdleMs ${claimIdleMs})`);
        }
        assertEquals((await pendingEntries(raw, stream)).map((e) => e.owner), [
          holder.consumerName,
          holder.consumerName,
        ]);
        await held.delivery.commit();
        assertEquals((await pending(raw, stream)).count, 0);
      } finally {
        await broker.close();
      }
    });
  },
);

Deno.test("redis config: claimIdleMs under 1 s is read as 1 s", () => {
  assertEquals(redisConsumerConfig({ stream: "s", claimIdleMs: 0 }).claimIdleMs, 1_000);
  assertEquals(redisConsumerConfig({ stream: "s", claimIdleMs: 5_000 }).claimIdleMs, 5_000);
});

Deno.test("redis errors: a command aborted by a closed connection is broker_unreachable (retryable)", () => {
  const e = redisNodeError(
    new Error("Command aborted due to connection close"),
    "redis://:pw@h:1",
    "reading",
  );
  assertEquals([e.code, e.retryable], ["broker_unreachable", true]);
});

brokerTest(
  "redis errors: a reading connection killed mid-read (CLIENT KILL) fails the consume as broker_unreachable",
  "redis",
  async () => {
    await withStream(async (stream, raw) => {
      // A connection name of its own (ioredis reads it from the URL), to kill only this test's connections.
      const name = `fm-test-${crypto.randomUUID().slice(0, 8)}`;
      const u = new URL(TEST_REDIS_URL);
      u.searchParams.set("connectionName", name);
      const broker = redisBroker(u.toString());
      try {
        const waiting = broker.consume(request({ stream }, { maxWaitMs: 60_000 }));
        waiting.catch(() => {});
        const reader = async () => {
          const list = String(await raw.call("CLIENT", "LIST", "TYPE", "normal"));
          return list.split("\n").find((l) => l.includes(` name=${name} `) && l.includes(" cmd=xreadgroup"));
        };
        await waitUntil("the blocked read", async () => (await reader()) !== undefined, 10_000, 20);
        const id = /\bid=(\d+)/.exec((await reader())!)![1];
        assertEquals(await raw.call("CLIENT", "KILL", "ID", id), 1);
        const e = await failure(() => waiting);
        assertEquals([e.code, e.retryable], ["broker_unreachable", true], e.message);
        // The broker reads again on a fresh connection.
        await add(raw, stream, "after");
        const next = await broker.consume(request({ stream }));
        assertEquals(next.messages.map((m) => m.value), ["after"]);
        await next.delivery.commit();
      } finally {
        await broker.close();
      }
    });
  },
);
