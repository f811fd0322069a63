import { connect, nanos } from "npm:@nats-io/transport-node@3.4.0";
import { AckPolicy, type JetStreamManager, jetstreamManager } from "npm:@nats-io/jetstream@3.4.0";
import { assert, assertEquals, assertRejects } from "../../../testing/assert.ts";
import { brokerTest, TEST_NATS_URL } from "../../../testing/brokers.ts";
import type { ConsumeRequest } from "../broker.ts";
import { NodeError } from "../executor.ts";
import { natsBroker, natsError } from "./nats.ts";
import type { PooledBroker } from "./pool.ts";

interface Fixture {
  broker: PooledBroker;
  jsm: JetStreamManager;
  stream: string;
  subject: string;
  publish(values: string[], key?: (i: number) => string): Promise<void>;
  request(over?: Partial<ConsumeRequest>): ConsumeRequest;
  /** Messages delivered to the durable and not acked yet. */
  unacked(): Promise<number>;
}

/** A fresh stream (deleted afterwards) and a broker client on the test server. */
async function withStream(fn: (f: Fixture) => Promise<void>): Promise<void> {
  const nc = await connect({ servers: new URL(TEST_NATS_URL).host, timeout: 5_000 });
  const jsm = await jetstreamManager(nc);
  const stream = `fm_test_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const subject = `${stream}.in`;
  await jsm.streams.add({ name: stream, subjects: [`${stream}.>`] });
  const broker = natsBroker(TEST_NATS_URL);
  const js = jsm.jetstream();
  try {
    await fn({
      broker,
      jsm,
      stream,
      subject,
      publish: async (values, key) => {
        for (const [i, v] of values.entries()) await js.publish(subject, v, key ? { msgID: key(i) } : {});
      },
      request: (over = {}) => ({
        config: { stream, durable: "flowmesh", ackWaitMs: 30_000 },
        maxMessages: 100,
        maxBytes: 1_000_000,
        maxWaitMs: 300,
        consumerName: "e1:in:1",
        signal: new AbortController().signal,
        ...over,
      }),
      unacked: () => jsm.consumers.info(stream, "flowmesh").then((i) => i.num_ack_pending, () => 0),
    });
  } finally {
    await broker.close();
    await jsm.streams.delete(stream).catch(() => {});
    await nc.close();
  }
}

const values = (batch: { messages: { value: string }[] }) => batch.messages.map((m) => m.value);

brokerTest("nats: a consume takes at most maxMessages; a commit acks them for good", "nats", async () => {
  await withStream(async (f) => {
    await f.publish(["1", "2", "3", "4", "5"]);
    const first = await f.broker.consume(f.request({ maxMessages: 3 }));
    assertEquals(values(first), ["1", "2", "3"]);
    assertEquals(first.messages[0].position, {
      stream: f.stream,
      sequence: 1,
      subject: f.subject,
      deliveries: 1,
    });
    await first.delivery.commit();
    const second = await f.broker.consume(f.request({ maxMessages: 10 }));
    assertEquals(values(second), ["4", "5"]);
    await second.delivery.commit();
    const third = await f.broker.consume(f.request());
    assertEquals(values(third), []);
    await third.delivery.commit();
    assertEquals(await f.unacked(), 0);
  });
});

brokerTest(
  "nats: with nothing to take a consume ends after maxWaitMs (or at once with 0)",
  "nats",
  async () => {
    await withStream(async (f) => {
      for (const maxWaitMs of [0, 250]) {
        const batch = await f.broker.consume(f.request({ maxWaitMs }));
        assertEquals(batch.messages, []);
        await batch.delivery.release();
      }
    });
  },
);

brokerTest("nats: a release gives the messages back to the next consume", "nats", async () => {
  await withStream(async (f) => {
    await f.publish(["a", "b"]);
    const first = await f.broker.consume(f.request());
    assertEquals(values(first), ["a", "b"]);
    await first.delivery.release();
    await first.delivery.commit(); // settled once: this acks nothing
    const again = await f.broker.consume(f.request());
    assertEquals(values(again), ["a", "b"]);
    assertEquals(again.messages.map((m) => m.position.deliveries), [2, 2]);
    await again.delivery.commit();
    assertEquals(await f.unacked(), 0);
  });
});

brokerTest(
  "nats: maxBytes stops before the message that would pass it, which is given back",
  "nats",
  async () => {
    await withStream(async (f) => {
      await f.publish(["aaaa", "bbbb", "cccc"]);
      const first = await f.broker.consume(f.request({ maxBytes: 9 }));
      assertEquals(values(first), ["aaaa", "bbbb"]);
      await first.delivery.commit();
      const rest = await f.broker.consume(f.request({ maxMessages: 1, maxWaitMs: 10_000 }));
      assertEquals(values(rest), ["cccc"]);
      await rest.delivery.commit();
      assertEquals(await f.unacked(), 0);
    });
  },
);

brokerTest("nats: an abort rejects the consume and gives back what it took", "nats", async () => {
  await withStream(async (f) => {
    await f.publish(["x", "y"]);
    const abort = new AbortController();
    const pending = f.broker.consume(f.request({ maxMessages: 5, maxWaitMs: 2_000, signal: abort.signal }));
    pending.catch(() => {});
    const deadline = Date.now() + 10_000;
    while (await f.unacked() < 2) {
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

brokerTest("nats: a producer keys messages by Nats-Msg-Id, so a resend is dropped", "nats", async () => {
  await withStream(async (f) => {
    const messages = [0, 1, 2].map((i) => ({ key: `e1:out:${i}`, value: JSON.stringify({ n: i }) }));
    const signal = new AbortController().signal;
    await f.broker.produce({ config: { subject: f.subject }, messages, signal });
    await f.broker.produce({ config: { subject: f.subject }, messages, signal });
    assertEquals((await f.jsm.streams.info(f.stream)).state.messages, 3);
    const batch = await f.broker.consume(f.request());
    assertEquals(batch.messages.map((m) => [m.key, m.value]), messages.map((m) => [m.key, m.value]));
    await batch.delivery.commit();
  });
});

brokerTest("nats: a missing stream is broker_not_found, and not retried", "nats", async () => {
  await withStream(async (f) => {
    const missing = `${f.stream}_missing`;
    const consumed = await f.broker.consume(f.request({ config: { stream: missing } })).catch((e) => e);
    assert(consumed instanceof NodeError, String(consumed));
    assertEquals([consumed.code, consumed.retryable], ["broker_not_found", false]);
    const produced = await f.broker.produce({
      config: { subject: `${missing}.in` },
      messages: [{ key: "k", value: "v" }],
      signal: new AbortController().signal,
    }).catch((e) => e);
    assertEquals([produced?.code, produced?.retryable], ["broker_not_found", false]);
  });
});

Deno.test("nats: an unreachable server is broker_unreachable, without the URL's password", async () => {
  const broker = natsBroker("nats://flow:s3cret-pw@127.0.0.1:1");
  try {
    const e = await broker.consume({
      config: { stream: "s" },
      maxMessages: 1,
      maxBytes: 1_000,
      maxWaitMs: 0,
      consumerName: "e:n:1",
      signal: new AbortController().signal,
    }).catch((e) => e);
    assert(e instanceof NodeError, String(e));
    assertEquals([e.code, e.retryable], ["broker_unreachable", true]);
    assert(!e.message.includes("s3cret-pw"), e.message);
  } finally {
    await broker.close();
  }
});

brokerTest(
  "nats: a batch held past the ack wait is delivered once: not again within its pull, nor while held",
  "nats",
  async () => {
    await withStream(async (f) => {
      await f.publish(["only-one"]);
      const request = f.request({ config: { stream: f.stream, durable: "flowmesh", ackWaitMs: 1_000 } });
      // The pull asks 3.5 s, past the 1 s ack wait: it is cut to half the ack wait.
      const batch = await f.broker.consume({ ...request, maxWaitMs: 3_500 });
      assertEquals(batch.messages.map((m) => [m.value, m.position.deliveries]), [["only-one", 1]]);
      await new Promise((r) => setTimeout(r, 1_600)); // held (the run goes on) past the ack wait
      const info = await f.jsm.consumers.info(f.stream, "flowmesh");
      assertEquals([info.delivered.consumer_seq, info.num_redelivered, info.num_ack_pending], [1, 0, 1]);
      await batch.delivery.commit();
      assertEquals(await f.unacked(), 0);
    });
  },
);

brokerTest("nats: a pull stays within the durable consumer's max_expires (no 409)", "nats", async () => {
  await withStream(async (f) => {
    await f.jsm.consumers.add(f.stream, {
      durable_name: "flowmesh",
      ack_policy: AckPolicy.Explicit,
      max_expires: nanos(400),
    });
    const empty = await f.broker.consume(f.request({ maxWaitMs: 1_500 }));
    assertEquals(values(empty), []);
    await empty.delivery.release();
    await f.publish(["a"]);
    const one = await f.broker.consume(f.request({ maxWaitMs: 1_500 }));
    assertEquals(values(one), ["a"]);
    await one.delivery.commit();
  });
});

Deno.test("nats: consumes sharing a failed connection attempt each get a NodeError", async () => {
  const broker = natsBroker("nats://127.0.0.1:1");
  try {
    const request = (): ConsumeRequest => ({
      config: { stream: "s" },
      maxMessages: 1,
      maxBytes: 1_000,
      maxWaitMs: 0,
      consumerName: "e:n:1",
      signal: new AbortController().signal,
    });
    const failures = await Promise.all([1, 2, 3].map(() => broker.consume(request()).catch((e) => e)));
    for (const e of failures) {
      assert(e instanceof NodeError, `${e?.name}: ${e?.message}`);
      assertEquals([e.code, e.retryable], ["broker_unreachable", true]);
    }
  } finally {
    await broker.close();
  }
});

Deno.test("nats: a token in the URL never appears in an error", async () => {
  const broker = natsBroker("nats://s3cr3tT0ken@127.0.0.1:1");
  try {
    const e = await broker.consume({
      config: { stream: "s" },
      maxMessages: 1,
      maxBytes: 1_000,
      maxWaitMs: 0,
      consumerName: "e:n:1",
      signal: new AbortController().signal,
    }).catch((e) => e);
    assert(e instanceof NodeError, String(e));
    assert(!e.message.includes("s3cr3tT0ken"), e.message);
    assert(e.message.includes("nats://***@127.0.0.1:1"), e.message);
  } finally {
    await broker.close();
  }
});

brokerTest(
  "nats: JetStream not answering on a server that has it is retried (broker_unreachable)",
  "nats",
  async () => {
    const nc = await connect({ servers: new URL(TEST_NATS_URL).host, timeout: 5_000 });
    try {
      // A domain nobody serves: the JetStream API has no responders, as while JetStream is starting.
      const silent = await jetstreamManager(nc, { domain: "fm_nobody", timeout: 1_000 }).catch((e) => e);
      const e = natsError(silent, TEST_NATS_URL, "cannot use JetStream", nc.info);
      assertEquals([e.code, e.retryable], ["broker_unreachable", true]);
    } finally {
      await nc.close();
    }
  },
);

brokerTest(
  "nats: a pull a changed consumer refuses (409 Exceeded MaxRequestBatch) is retried with its new limits",
  "nats",
  async () => {
    await withStream(async (f) => {
      await f.publish(["a", "b"]);
      const first = await f.broker.consume(f.request({ maxWaitMs: 0 }));
      await first.delivery.release(); // its limits are remembered
      await f.jsm.consumers.update(f.stream, "flowmesh", { max_batch: 1 });
      const refused = await f.broker.consume(f.request({ maxWaitMs: 0 })).catch((e) => e);
      assert(refused instanceof NodeError, String(refused));
      assertEquals([refused.code, refused.retryable], ["broker_error", true]);
      assert(refused.message.includes("MaxRequestBatch"), refused.message);
      const retried = await f.broker.consume(f.request({ maxWaitMs: 0 }));
      assertEquals(values(retried), ["a"]);
      await retried.delivery.commit();
    });
  },
);
