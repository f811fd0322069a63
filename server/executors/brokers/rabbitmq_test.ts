import { Buffer } from "node:buffer";
import { type Channel, connect } from "npm:amqplib@2.3.1";
import { assert, assertEquals, assertRejects } from "../../../testing/assert.ts";
import { brokerTest, TEST_AMQP_URL } from "../../../testing/brokers.ts";
import { type FreezableProxy, startProxy } from "../../../testing/proxy.ts";
import { waitUntil } from "../../../testing/wait.ts";
import type { ConsumeRequest } from "../broker.ts";
import { NodeError } from "../executor.ts";
import type { PooledBroker } from "./pool.ts";
import { rabbitmqBroker } from "./rabbitmq.ts";

interface Fixture {
  broker: PooledBroker;
  admin: Channel;
  queue: string;
  send(values: string[]): Promise<void>;
  request(over?: Partial<ConsumeRequest>): ConsumeRequest;
  /** Messages ready in the queue (not delivered to anyone). */
  ready(): Promise<number>;
}

/**
 * A fresh queue (deleted afterwards) and a broker client on the test server, or on the given URL (`via`, a
 * proxy's) with the given reply timeout.
 */
async function withQueue(
  fn: (f: Fixture) => Promise<void>,
  via = TEST_AMQP_URL,
  replyTimeoutMs?: number,
): Promise<void> {
  const conn = await connect(TEST_AMQP_URL, { timeout: 5_000 });
  const admin = await conn.createConfirmChannel();
  const queue = `fm_test_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  await admin.assertQueue(queue, { durable: false });
  const broker = rabbitmqBroker(via, { replyTimeoutMs });
  try {
    await fn({
      broker,
      admin,
      queue,
      send: async (values) => {
        for (const v of values) admin.sendToQueue(queue, Buffer.from(v));
        await admin.waitForConfirms();
      },
      request: (over = {}) => ({
        config: { queue },
        maxMessages: 100,
        maxBytes: 1_000_000,
        maxWaitMs: 300,
        consumerName: "e1:in:1",
        signal: new AbortController().signal,
        ...over,
      }),
      ready: async () => (await admin.checkQueue(queue)).messageCount,
    });
  } finally {
    await broker.close();
    await admin.deleteQueue(queue).catch(() => {});
    await conn.close().catch(() => {});
  }
}

const values = (batch: { messages: { value: string }[] }) => batch.messages.map((m) => m.value);
const never = () => new AbortController().signal;

brokerTest(
  "rabbitmq: a consume takes at most maxMessages; a commit acks them for good",
  "rabbitmq",
  async () => {
    await withQueue(async (f) => {
      await f.send(["1", "2", "3", "4", "5"]);
      const first = await f.broker.consume(f.request({ maxMessages: 3 }));
      assertEquals(values(first), ["1", "2", "3"]);
      assertEquals(first.messages[0].position, { queue: f.queue, deliveryTag: 1, redelivered: false });
      await first.delivery.commit();
      const second = await f.broker.consume(f.request({ maxMessages: 10 }));
      assertEquals(values(second), ["4", "5"]);
      await second.delivery.commit();
      const third = await f.broker.consume(f.request());
      assertEquals(values(third), []);
      await third.delivery.commit();
      // Every channel is closed by now: anything unacked would be back in the queue.
      assertEquals(await f.ready(), 0);
    });
  },
);

brokerTest(
  "rabbitmq: with maxWaitMs 0 a consume takes what is there now, within maxMessages",
  "rabbitmq",
  async () => {
    await withQueue(async (f) => {
      const empty = await f.broker.consume(f.request({ maxWaitMs: 0 }));
      assertEquals(empty.messages, []);
      await f.send(["a", "b", "c"]);
      const two = await f.broker.consume(f.request({ maxWaitMs: 0, maxMessages: 2 }));
      assertEquals(values(two), ["a", "b"]);
      await two.delivery.commit();
      const rest = await f.broker.consume(f.request({ maxWaitMs: 0 }));
      assertEquals(values(rest), ["c"]);
      await rest.delivery.commit();
      assertEquals(await f.ready(), 0);
    });
  },
);

brokerTest(
  "rabbitmq: with nothing to take a consume ends after maxWaitMs with none",
  "rabbitmq",
  async () => {
    await withQueue(async (f) => {
      const batch = await f.broker.consume(f.request({ maxWaitMs: 250 }));
      assertEquals(batch.messages, []);
      await batch.delivery.release();
    });
  },
);

brokerTest("rabbitmq: a release gives the messages back to the next consume", "rabbitmq", async () => {
  await withQueue(async (f) => {
    await f.send(["a", "b"]);
    const first = await f.broker.consume(f.request());
    assertEquals(values(first), ["a", "b"]);
    await first.delivery.release();
    await first.delivery.commit(); // settled once: this acks nothing
    const again = await f.broker.consume(f.request({ maxMessages: 2 }));
    assertEquals(values(again), ["a", "b"]);
    assertEquals(again.messages.map((m) => m.position.redelivered), [true, true]);
    await again.delivery.commit();
    assertEquals(await f.ready(), 0);
  });
});

brokerTest(
  "rabbitmq: maxBytes stops before the message that would pass it, which is given back",
  "rabbitmq",
  async () => {
    await withQueue(async (f) => {
      await f.send(["aaaa", "bbbb", "cccc", "dddd"]);
      const first = await f.broker.consume(f.request({ maxBytes: 9 }));
      assertEquals(values(first), ["aaaa", "bbbb"]);
      await first.delivery.commit();
      const now = await f.broker.consume(f.request({ maxBytes: 5, maxWaitMs: 0 }));
      assertEquals(values(now), ["cccc"]);
      await now.delivery.commit();
      const rest = await f.broker.consume(f.request({ maxMessages: 1, maxWaitMs: 10_000 }));
      assertEquals(values(rest), ["dddd"]);
      await rest.delivery.commit();
      assertEquals(await f.ready(), 0);
    });
  },
);

brokerTest("rabbitmq: an abort rejects the consume and gives back what it took", "rabbitmq", async () => {
  await withQueue(async (f) => {
    await f.send(["x", "y"]);
    const abort = new AbortController();
    const pending = f.broker.consume(f.request({ maxMessages: 5, maxWaitMs: 30_000, signal: abort.signal }));
    pending.catch(() => {});
    const deadline = Date.now() + 10_000;
    while (await f.ready() > 0) {
      assert(Date.now() < deadline, "the two messages were never delivered");
      await new Promise((r) => setTimeout(r, 20));
    }
    abort.abort(new Error("stop"));
    await assertRejects(pending, /stop/);
    const again = await f.broker.consume(f.request({ maxMessages: 2, maxWaitMs: 10_000 }));
    assertEquals(values(again), ["x", "y"]);
    await again.delivery.commit();
  });
});

brokerTest(
  "rabbitmq: a producer publishes persistent messages with messageId = key (not de-duplicated)",
  "rabbitmq",
  async () => {
    await withQueue(async (f) => {
      const messages = [{ key: "e1:out:0", value: '{"n":0}' }, { key: "e1:out:1", value: "plain" }];
      await f.broker.produce({ config: { queue: f.queue }, messages, signal: never() });
      const got = [await f.admin.get(f.queue, { noAck: true }), await f.admin.get(f.queue, { noAck: true })];
      assertEquals(
        got.map((m) => m && [m.properties.messageId, m.properties.contentType, m.properties.deliveryMode]),
        [["e1:out:0", "application/json", 2], ["e1:out:1", "text/plain", 2]],
      );
      // RabbitMQ keeps a resend: a consumer downstream drops it by its messageId.
      await f.broker.produce({ config: { queue: f.queue }, messages, signal: never() });
      await f.broker.produce({ config: { queue: f.queue }, messages, signal: never() });
      const batch = await f.broker.consume(f.request({ maxMessages: 4 }));
      assertEquals(batch.messages.map((m) => m.key), ["e1:out:0", "e1:out:1", "e1:out:0", "e1:out:1"]);
      await batch.delivery.commit();
    });
  },
);

brokerTest(
  "rabbitmq: a missing queue or exchange, or an unroutable message, is broker_not_found",
  "rabbitmq",
  async () => {
    await withQueue(async (f) => {
      const missing = `${f.queue}_missing`;
      const outcomes = [
        await f.broker.consume(f.request({ config: { queue: missing } })).catch((e) => e),
        await f.broker.consume(f.request({ config: { queue: missing }, maxWaitMs: 0 })).catch((e) => e),
        ...await Promise.all([
          { queue: missing },
          { exchange: `${f.queue}_none`, routingKey: "k" },
          { exchange: "amq.direct", routingKey: `${f.queue}_unbound` },
        ].map((config) =>
          f.broker.produce({ config, messages: [{ key: "k", value: "v" }], signal: never() }).catch((e) => e)
        )),
      ];
      for (const e of outcomes) {
        assert(e instanceof NodeError, String(e));
        assertEquals([e.code, e.retryable], ["broker_not_found", false], e.message);
      }
      // The connection outlives the failed channels.
      await f.send(["still"]);
      const batch = await f.broker.consume(f.request({ maxMessages: 1 }));
      assertEquals(values(batch), ["still"]);
      await batch.delivery.commit();
    });
  },
);

brokerTest("rabbitmq: a wrong password is broker_refused, and not shown", "rabbitmq", async () => {
  const u = new URL(TEST_AMQP_URL);
  u.password = "wrong-s3cret";
  const broker = rabbitmqBroker(u.toString());
  try {
    const e = await broker.produce({
      config: { queue: "q" },
      messages: [{ key: "k", value: "v" }],
      signal: never(),
    })
      .catch((e) => e);
    assert(e instanceof NodeError, String(e));
    assertEquals([e.code, e.retryable], ["broker_refused", false]);
    assert(!e.message.includes("wrong-s3cret"), e.message);
  } finally {
    await broker.close();
  }
});

Deno.test("rabbitmq: an unreachable server is broker_unreachable, without the URL's password", async () => {
  const broker = rabbitmqBroker("amqp://flow:s3cret-pw@127.0.0.1:1");
  try {
    const e = await broker.consume({
      config: { queue: "q" },
      maxMessages: 1,
      maxBytes: 1_000,
      maxWaitMs: 0,
      consumerName: "e:n:1",
      signal: never(),
    }).catch((e) => e);
    assert(e instanceof NodeError, String(e));
    assertEquals([e.code, e.retryable], ["broker_unreachable", true]);
    assert(!e.message.includes("s3cret-pw"), e.message);
  } finally {
    await broker.close();
  }
});

/** The test server behind a proxy (which can freeze, or close every connection), and its URL through it. */
async function withProxy(fn: (url: string, proxy: FreezableProxy) => Promise<void>): Promise<void> {
  const u = new URL(TEST_AMQP_URL);
  const inner = startProxy(Number(u.port || 5672));
  let closing: Promise<void> | undefined;
  const proxy = { ...inner, close: () => closing ??= inner.close() }; // closed once, by the test or here
  u.hostname = "127.0.0.1";
  u.port = String(proxy.port);
  try {
    await fn(u.toString(), proxy);
  } finally {
    await proxy.close();
  }
}

/** How `p` settles; a failure of the test (not a hang) if it is still pending after `ms`. */
async function settled<T>(p: Promise<T>, ms: number, what: string): Promise<{ value?: T; error?: unknown }> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still pending after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p.then((value) => ({ value }), (error) => ({ error })), hung]);
  } finally {
    clearTimeout(timer);
  }
}

brokerTest(
  "rabbitmq: consumes waiting on one connection open all get its NodeError (not the library's error)",
  "rabbitmq",
  async () => {
    const u = new URL(TEST_AMQP_URL);
    u.password = "wrong-s3cret";
    const broker = rabbitmqBroker(u.toString());
    try {
      const request = { config: { queue: "q" }, maxMessages: 1, maxBytes: 1_000, maxWaitMs: 0 };
      const outcomes = await Promise.all(
        [1, 2, 3].map((i) =>
          broker.consume({ ...request, consumerName: `e:n:${i}`, signal: never() }).catch((e) => e)
        ),
      );
      for (const e of outcomes) {
        assert(e instanceof NodeError, String(e));
        assertEquals([e.code, e.retryable], ["broker_refused", false]);
        assert(!e.message.includes("wrong-s3cret"), e.message);
      }
    } finally {
      await broker.close();
    }
  },
);

brokerTest(
  "rabbitmq: a connection lost while a consume waits rejects it at once (broker_unreachable); nothing is lost",
  "rabbitmq",
  async () => {
    await withProxy(async (url, proxy) => {
      await withQueue(async (f) => {
        await f.send(["one"]);
        const pending = f.broker.consume(f.request({ maxMessages: 10, maxWaitMs: 20_000 }));
        pending.catch(() => {});
        await waitUntil(
          "the message delivered to the consume",
          async () => await f.ready() === 0,
          10_000,
          20,
        );
        await proxy.close(); // the connection is cut: RabbitMQ requeues what it delivered on it
        const { value, error } = await settled(pending, 15_000, "the consume on a lost connection");
        assert(error instanceof NodeError, `it took ${JSON.stringify(value?.messages)}, already requeued`);
        assertEquals([error.code, error.retryable], ["broker_unreachable", true], error.message);
        await waitUntil("the message requeued", async () => await f.ready() === 1, 10_000, 20);
      }, url);
    });
  },
);

brokerTest(
  "rabbitmq: a commit on a connection that stops answering fails (broker_unreachable), not hangs",
  "rabbitmq",
  async () => {
    await withProxy(async (url, proxy) => {
      await withQueue(
        async (f) => {
          await f.send(["one"]);
          const batch = await f.broker.consume(f.request({ maxMessages: 1 }));
          assertEquals(values(batch), ["one"]);
          proxy.freeze(); // the ack and the close are never answered
          const { error } = await settled(batch.delivery.commit(), 10_000, "the commit");
          assert(error instanceof NodeError, String(error));
          assertEquals(error.code, "broker_unreachable", error.message);
          await proxy.close();
          await waitUntil("the unacked message requeued", async () => await f.ready() === 1, 10_000, 20);
        },
        url,
        300,
      );
    });
  },
);

brokerTest(
  "rabbitmq: a produce on a connection that stops answering ends at once on abort, else after the reply timeout",
  "rabbitmq",
  async () => {
    await withProxy(async (url, proxy) => {
      await withQueue(
        async (f) => {
          const messages = [{ key: "e1:out:0", value: "v" }];
          await f.broker.produce({ config: { queue: f.queue }, messages, signal: never() }); // connected
          proxy.freeze(); // as a blocked connection (a resource alarm): nothing is answered
          const abort = new AbortController();
          const aborted = f.broker.produce({ config: { queue: f.queue }, messages, signal: abort.signal });
          abort.abort(new Error("attempt cancelled"));
          const first = await settled(aborted, 10_000, "the aborted produce");
          assertEquals((first.error as Error)?.message, "attempt cancelled");
          const timed = await settled(
            f.broker.produce({ config: { queue: f.queue }, messages, signal: never() }),
            10_000,
            "the produce",
          );
          assert(timed.error instanceof NodeError, String(timed.error));
          assertEquals(
            [timed.error.code, timed.error.retryable],
            ["broker_unreachable", true],
            timed.error.message,
          );
          assert(timed.error.message.includes("timed out"), timed.error.message);
        },
        url,
        300,
      );
    });
  },
);
