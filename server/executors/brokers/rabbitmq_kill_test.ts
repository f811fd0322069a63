/**
 * The RabbitMQ consumer across a kill -9, with real processes: a server on PostgreSQL (through a proxy the
 * test freezes) runs `rabbitmq.consumer → memory.collect`. The consumer takes the messages the test
 * publishes, and the append of its output hangs on the frozen storage: the queue shows them delivered but
 * unacked (none ready). The server is killed with SIGKILL there; its connection closes and RabbitMQ requeues
 * them. Restarted on the same database (directly), the new attempt takes them again, the execution completes
 * with every message once, and once that server is gone the queue holds nothing: every message was acked.
 */
import { Buffer } from "node:buffer";
import { type ConfirmChannel, connect } from "npm:amqplib@2.3.1";
import { assert, assertEquals } from "../../../testing/assert.ts";
import { brokerTest, TEST_AMQP_URL } from "../../../testing/brokers.ts";
import { freePort } from "../../../testing/net.ts";
import { postgresReachable, TEST_DATABASE_URL, withTempDatabase } from "../../../testing/pg.ts";
import { call, type ServerProcess, spawnServer, waitEnded } from "../../../testing/process.ts";
import { startProxy } from "../../../testing/proxy.ts";
import { chain, n } from "../../../testing/server.ts";
import { waitUntil } from "../../../testing/wait.ts";

/** How many messages the test publishes (and the consumer takes in one run). */
const N = 25;

/** The queue's ready messages and consumers. */
async function queueState(admin: ConfirmChannel, queue: string) {
  const q = await admin.checkQueue(queue);
  return { ready: q.messageCount, consumers: q.consumerCount };
}

async function killMidAck(databaseUrl: string, admin: ConfirmChannel, queue: string): Promise<void> {
  const direct = new URL(databaseUrl);
  const proxy = startProxy(Number(direct.port || 5432));
  const viaProxy = new URL(databaseUrl);
  viaProxy.hostname = "127.0.0.1";
  viaProxy.port = String(proxy.port);
  const port = freePort();
  const common = ["--log-level", "warn", "--storage", "postgres", "--broker", `default=${TEST_AMQP_URL}`];
  const servers: ServerProcess[] = [];
  try {
    const first = spawnServer(port, [...common, "--database-url", viaProxy.toString()]);
    servers.push(first);
    await first.waitReady(60_000);
    const def = chain(
      "consume",
      n("in", "source/rabbitmq.consumer", {
        queue,
        maxMessages: N,
        maxWaitMs: 120_000,
      }),
      n("out", "sink/memory.collect"),
    );
    const created = await call(first, "POST", "/api/v1/workflows", { json: def });
    assertEquals(created.status, 201, created.text);
    const started = await call(first, "POST", "/api/v1/workflows/consume/execute", { json: {} });
    assert(started.status === 202 || started.status === 200, started.text);
    const executionId = started.body.executionId as string;

    // The consumer waits on the (empty) queue: freeze storage, then publish.
    await waitUntil(
      "the consumer to wait",
      async () => (await queueState(admin, queue)).consumers > 0,
      30_000,
      50,
    );
    proxy.freeze();
    const values = Array.from({ length: N }, (_, i) => ({ i, text: `message ${i}` }));
    for (const v of values) {
      admin.sendToQueue(queue, Buffer.from(JSON.stringify(v)), { messageId: `k${v.i}` });
    }
    await admin.waitForConfirms();
    // Delivered, not acked (its output cannot be recorded); the batch is full, so the consumer is cancelled.
    await waitUntil(
      "every message delivered and unacked",
      async () => {
        const s = await queueState(admin, queue);
        return s.ready === 0 && s.consumers === 0;
      },
      30_000,
      50,
    );
    const status = await first.kill("SIGKILL");
    assertEquals(status.signal, "SIGKILL");
    await proxy.close();
    await waitUntil(
      "RabbitMQ to requeue them",
      async () => (await queueState(admin, queue)).ready === N,
      30_000,
      50,
    );

    const second = spawnServer(port, [...common, "--database-url", databaseUrl]);
    servers.push(second);
    await second.waitReady(60_000);
    const view = await waitEnded(second, executionId, Date.now() + 120_000);
    assertEquals(view.status, "completed", JSON.stringify(view));
    const out = await call(second, "GET", `/api/v1/executions/${executionId}/nodes/out/output`);
    assertEquals(out.status, 200, out.text);
    const records = out.body.records as { i: number }[];
    assertEquals([...records].sort((a, b) => a.i - b.i), values, "every message, once");
    // Once its server is gone, anything it left unacked would be back in the queue.
    await second.kill("SIGTERM");
    await waitUntil(
      "the last connection to close",
      async () => (await queueState(admin, queue)).consumers === 0,
      30_000,
      50,
    );
    assertEquals(await queueState(admin, queue), { ready: 0, consumers: 0 }, "every message acked");
  } catch (err) {
    const tail = servers.map((s, i) => `--- server ${i + 1} output:\n${s.output.slice(-4000)}`).join("\n");
    throw new Error(`${(err as Error).message}\n${tail}`, { cause: err });
  } finally {
    for (const s of servers) await s.close();
    await proxy.close().catch(() => {});
  }
}

brokerTest(
  "rabbitmq.consumer: kill -9 between consume and commit, restart; every message requeued and taken once, none lost or unacked",
  "rabbitmq",
  async () => {
    if (!(await postgresReachable())) {
      if (Deno.env.get("CI") === "true") {
        throw new Error(`PostgreSQL is not reachable at ${TEST_DATABASE_URL} (CI=true: this must not skip)`);
      }
      console.warn(`skipped locally: PostgreSQL not reachable at ${TEST_DATABASE_URL}`);
      return;
    }
    const conn = await connect(TEST_AMQP_URL, { timeout: 5_000 });
    const admin = await conn.createConfirmChannel();
    const queue = `fm_kill_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
    await admin.assertQueue(queue, { durable: true });
    try {
      await withTempDatabase((url) => killMidAck(url, admin, queue));
    } finally {
      await admin.deleteQueue(queue).catch(() => {});
      await conn.close().catch(() => {});
    }
  },
);
