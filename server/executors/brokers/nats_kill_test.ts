/**
 * The NATS JetStream consumer across a kill -9, with real processes: a server on PostgreSQL (through a proxy
 * the test freezes) runs `nats.consumer → memory.collect`. The consumer pulls the messages the test publishes,
 * and the append of its output hangs on the frozen storage: JetStream shows them delivered but unacked. The
 * server is killed with SIGKILL there and restarted on the same database (directly): once the consumer's ack
 * wait has passed JetStream redelivers them to the new attempt, the execution completes with every message
 * once, and the consumer has nothing pending or unacked at the end.
 */
import { connect } from "npm:@nats-io/transport-node@3.4.0";
import { type JetStreamManager, jetstreamManager } from "npm:@nats-io/jetstream@3.4.0";
import { assert, assertEquals } from "../../../testing/assert.ts";
import { brokerTest, TEST_NATS_URL } from "../../../testing/brokers.ts";
import { freePort } from "../../../testing/net.ts";
import { postgresReachable, TEST_DATABASE_URL, withTempDatabase } from "../../../testing/pg.ts";
import { call, type ServerProcess, spawnServer, waitEnded } from "../../../testing/process.ts";
import { startProxy } from "../../../testing/proxy.ts";
import { chain, n } from "../../../testing/server.ts";
import { waitUntil } from "../../../testing/wait.ts";

/** How many messages the test publishes (and the consumer takes in one run). */
const N = 25;
/** The durable's ack wait: JetStream redelivers what the killed run left unacked after this long. */
const ACK_WAIT_MS = 1_000;
const DURABLE = "flowmesh";

/** The durable's pulls waiting, messages unacked and messages not yet delivered (zeros before it exists). */
async function consumerState(jsm: JetStreamManager, stream: string) {
  try {
    const info = await jsm.consumers.info(stream, DURABLE);
    return { waiting: info.num_waiting, unacked: info.num_ack_pending, undelivered: info.num_pending };
  } catch {
    return { waiting: 0, unacked: 0, undelivered: 0 };
  }
}

async function killMidAck(databaseUrl: string, jsm: JetStreamManager, stream: string): Promise<void> {
  const direct = new URL(databaseUrl);
  const proxy = startProxy(Number(direct.port || 5432));
  const viaProxy = new URL(databaseUrl);
  viaProxy.hostname = "127.0.0.1";
  viaProxy.port = String(proxy.port);
  const port = freePort();
  const common = ["--log-level", "warn", "--storage", "postgres", "--broker", `default=${TEST_NATS_URL}`];
  const servers: ServerProcess[] = [];
  try {
    const first = spawnServer(port, [...common, "--database-url", viaProxy.toString()]);
    servers.push(first);
    await first.waitReady(60_000);
    const def = chain(
      "consume",
      n("in", "source/nats.consumer", {
        stream,
        durable: DURABLE,
        ackWaitMs: ACK_WAIT_MS,
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

    // The consumer's pull waits on the (empty) stream: freeze storage, then publish.
    await waitUntil(
      "the consumer to pull",
      async () => (await consumerState(jsm, stream)).waiting > 0,
      30_000,
      50,
    );
    proxy.freeze();
    const values = Array.from({ length: N }, (_, i) => ({ i, text: `message ${i}` }));
    const js = jsm.jetstream();
    for (const v of values) await js.publish(`${stream}.in`, JSON.stringify(v), { msgID: `k${v.i}` });
    // Delivered, not acked: its output cannot be recorded.
    await waitUntil(
      "every message delivered and unacked",
      async () => {
        const s = await consumerState(jsm, stream);
        return s.unacked === N && s.undelivered === 0;
      },
      30_000,
      50,
    );
    const status = await first.kill("SIGKILL");
    assertEquals(status.signal, "SIGKILL");
    await proxy.close();
    // The killed run kept its batch in progress (+WPI) until it died: JetStream gives the messages again only
    // once the ack wait has passed since, and a pull waits at most half of it. A restart quicker than that
    // would end its first pull empty (NODES.md: the run ends with what it has), so the restart comes after.
    await new Promise((r) => setTimeout(r, 2 * ACK_WAIT_MS));

    const second = spawnServer(port, [...common, "--database-url", databaseUrl]);
    servers.push(second);
    await second.waitReady(60_000);
    const view = await waitEnded(second, executionId, Date.now() + 120_000);
    assertEquals(view.status, "completed", JSON.stringify(view));
    const out = await call(second, "GET", `/api/v1/executions/${executionId}/nodes/out/output`);
    assertEquals(out.status, 200, out.text);
    const records = out.body.records as { i: number }[];
    assertEquals([...records].sort((a, b) => a.i - b.i), values, "every message, once");
    await waitUntil(
      "nothing unacked or pending at the end",
      async () => {
        const s = await consumerState(jsm, stream);
        return s.unacked === 0 && s.undelivered === 0;
      },
      30_000,
      50,
    );
    assertEquals((await jsm.streams.info(stream)).state.messages, N);
  } catch (err) {
    const tail = servers.map((s, i) => `--- server ${i + 1} output:\n${s.output.slice(-4000)}`).join("\n");
    throw new Error(`${(err as Error).message}\n${tail}`, { cause: err });
  } finally {
    for (const s of servers) await s.close();
    await proxy.close().catch(() => {});
  }
}

brokerTest(
  "nats.consumer: kill -9 between consume and commit, restart; every message redelivered once, none lost or unacked",
  "nats",
  async () => {
    if (!(await postgresReachable())) {
      if (Deno.env.get("CI") === "true") {
        throw new Error(`PostgreSQL is not reachable at ${TEST_DATABASE_URL} (CI=true: this must not skip)`);
      }
      console.warn(`skipped locally: PostgreSQL not reachable at ${TEST_DATABASE_URL}`);
      return;
    }
    const nc = await connect({ servers: new URL(TEST_NATS_URL).host, timeout: 5_000 });
    const jsm = await jetstreamManager(nc);
    const stream = `fm_kill_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
    await jsm.streams.add({ name: stream, subjects: [`${stream}.>`] });
    try {
      await withTempDatabase((url) => killMidAck(url, jsm, stream));
    } finally {
      await jsm.streams.delete(stream).catch(() => {});
      await nc.close();
    }
  },
);
