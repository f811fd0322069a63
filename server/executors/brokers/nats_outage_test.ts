// NATS failures the shared server must not go through: each test starts its own nats-server.
import { connect } from "npm:@nats-io/transport-node@3.4.0";
import { jetstreamManager } from "npm:@nats-io/jetstream@3.4.0";
import { assert, assertEquals } from "../../../testing/assert.ts";
import { type SpareNats, spareNatsTest, startSpareNats } from "../../../testing/nats_server.ts";
import type { ConsumeRequest } from "../broker.ts";
import { NodeError } from "../executor.ts";
import { natsBroker } from "./nats.ts";

const request = (over: Partial<ConsumeRequest> = {}): ConsumeRequest => ({
  config: { stream: "orders", durable: "flowmesh" },
  maxMessages: 10,
  maxBytes: 100_000,
  maxWaitMs: 0,
  consumerName: "e1:in:1",
  signal: new AbortController().signal,
  ...over,
});

/** Connects an admin client to `server`, runs `fn` with its JetStream manager, closes it. */
async function admin<T>(
  server: SpareNats,
  fn: (jsm: Awaited<ReturnType<typeof jetstreamManager>>) => Promise<T>,
) {
  const nc = await connect({ servers: new URL(server.url).host, timeout: 5_000 });
  try {
    return await fn(await jetstreamManager(nc));
  } finally {
    await nc.close();
  }
}

async function connections(server: SpareNats): Promise<number> {
  const response = await fetch(`${server.monitor}/connz`);
  return (await response.json()).num_connections;
}

spareNatsTest(
  "nats: a server without JetStream is broker_not_found, and no connection is left open",
  async () => {
    const server = await startSpareNats({ jetstream: false });
    const broker = natsBroker(server.url);
    try {
      for (let i = 0; i < 2; i++) {
        const e = await broker.consume(request()).catch((e) => e);
        assert(e instanceof NodeError, String(e));
        assertEquals([e.code, e.retryable], ["broker_not_found", false]);
        assert(/JetStream is not enabled/.test(e.message), e.message);
      }
      // Every failed attempt closed its connection (polled: the server notes a close a little later).
      const deadline = Date.now() + 5_000;
      while (await connections(server) !== 0) {
        assert(Date.now() < deadline, `connections left open: ${await connections(server)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      await broker.close();
      await server.stop();
    }
  },
);

spareNatsTest(
  "nats: during an outage consumes (one pulling too) and produces fail broker_unreachable; they work again after",
  async () => {
    const server = await startSpareNats({ jetstream: true });
    const broker = natsBroker(server.url);
    try {
      await admin(server, (jsm) => jsm.streams.add({ name: "orders", subjects: ["orders.>"] }));
      const before = await broker.consume(request());
      assertEquals(before.messages, []);
      await before.delivery.release();
      const pulling = broker.consume(request({ maxWaitMs: 2_000 })).catch((e) => e);
      const deadline = Date.now() + 5_000;
      while ((await admin(server, (jsm) => jsm.consumers.info("orders", "flowmesh"))).num_waiting === 0) {
        assert(Date.now() < deadline, "the pull never reached the server");
        await new Promise((r) => setTimeout(r, 20));
      }
      await server.kill();
      // The pull in progress fails once the client sees the connection drop; later calls fail at once.
      const failures = [await pulling, await broker.consume(request()).catch((e) => e)];
      failures.push(
        await broker.produce({
          config: { subject: "orders.new" },
          messages: [{ key: "e1:out:0", value: "lost?" }],
          signal: new AbortController().signal,
        }).catch((e) => e),
      );
      for (const e of failures) {
        assert(e instanceof NodeError, `not an error: ${JSON.stringify(e?.messages)}`);
        assertEquals([e.code, e.retryable], ["broker_unreachable", true]);
      }
      await server.start();
      await admin(server, (jsm) => jsm.jetstream().publish("orders.new", "after"));
      const back = Date.now() + 10_000;
      for (;;) {
        const batch = await broker.consume(request()).catch((e) => e);
        if (!(batch instanceof NodeError)) {
          assertEquals(batch.messages.map((m: { value: string }) => m.value), ["after"]);
          await batch.delivery.commit();
          break;
        }
        assertEquals(batch.code, "broker_unreachable");
        assert(Date.now() < back, "the client never reconnected");
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      await broker.close();
      await server.stop();
    }
  },
);
