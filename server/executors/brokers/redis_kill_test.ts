/**
 * The Redis consumer across a kill -9, with real processes: a server on PostgreSQL (through a proxy the test
 * freezes) runs `redis.consumer → memory.collect`. The consumer reads the entries the test publishes, and the
 * append of its output hangs on the frozen storage: the entries are delivered but unacknowledged (pending).
 * The server is killed with SIGKILL there (while it held them, it kept them from growing idle); once they are
 * idle ≥ claimIdleMs it is restarted on the same database (directly): the new attempt takes the pending
 * entries over, the execution completes with every entry, and the group has nothing pending at the end.
 */
import { Redis } from "npm:ioredis@6.1.0";
import { assert, assertEquals } from "../../../testing/assert.ts";
import { brokerTest, TEST_REDIS_URL } from "../../../testing/brokers.ts";
import { freePort } from "../../../testing/net.ts";
import { postgresReachable, TEST_DATABASE_URL, withTempDatabase } from "../../../testing/pg.ts";
import { call, type ServerProcess, spawnServer, waitEnded } from "../../../testing/process.ts";
import { startProxy } from "../../../testing/proxy.ts";
import { chain, n } from "../../../testing/server.ts";
import { waitUntil } from "../../../testing/wait.ts";

/** How many entries the test publishes (and the consumer takes in one run). */
const N = 25;
/** The consumer's claim delay (the least there is): the restarted run takes over what the killed one left. */
const CLAIM_IDLE_MS = 1000;
const GROUP = "flowmesh";

/** The group's pending entries: how many, and the least idle time among them. */
async function pendingOf(raw: Redis, stream: string): Promise<{ count: number; minIdleMs: number }> {
  const rows = await raw.call("XPENDING", stream, GROUP, "-", "+", String(N * 2)) as [
    string,
    string,
    number,
    number,
  ][];
  return { count: rows.length, minIdleMs: Math.min(...rows.map((r) => Number(r[2]))) };
}

/**
 * Whether the consume began: it creates the group (at the stream's start) just before it reads, so what is
 * published from then on is read by it.
 */
async function consuming(raw: Redis, stream: string): Promise<boolean> {
  try {
    const groups = await raw.call("XINFO", "GROUPS", stream) as unknown[][];
    return groups.some((g) => String(g[g.indexOf("name") + 1]) === GROUP);
  } catch {
    return false; // no stream yet
  }
}

async function killMidAck(databaseUrl: string, raw: Redis, stream: string): Promise<void> {
  const direct = new URL(databaseUrl);
  const proxy = startProxy(Number(direct.port || 5432));
  const viaProxy = new URL(databaseUrl);
  viaProxy.hostname = "127.0.0.1";
  viaProxy.port = String(proxy.port);
  const port = freePort();
  const common = ["--log-level", "warn", "--storage", "postgres", "--broker", `default=${TEST_REDIS_URL}`];
  const servers: ServerProcess[] = [];
  try {
    const first = spawnServer(port, [...common, "--database-url", viaProxy.toString()]);
    servers.push(first);
    await first.waitReady(60_000);
    const def = chain(
      "consume",
      n("in", "source/redis.consumer", {
        stream,
        group: GROUP,
        claimIdleMs: CLAIM_IDLE_MS,
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

    // The consumer is blocked reading the (empty) stream: freeze storage, then publish.
    await waitUntil("the consumer to read the stream", () => consuming(raw, stream), 30_000, 50);
    proxy.freeze();
    const values = Array.from({ length: N }, (_, i) => ({ i, text: `message ${i}` }));
    const tx = raw.multi();
    for (const v of values) tx.xadd(stream, "*", "value", JSON.stringify(v), "key", `k${v.i}`);
    await tx.exec();
    // Delivered, not acknowledged (its output cannot be recorded).
    await waitUntil(
      "every entry pending",
      async () => (await pendingOf(raw, stream)).count === N,
      30_000,
      50,
    );
    const status = await first.kill("SIGKILL");
    assertEquals(status.signal, "SIGKILL");
    await proxy.close();
    // No longer held by anyone: idle long enough, they are taken over.
    await waitUntil(
      "every entry idle ≥ claimIdleMs",
      async () => (await pendingOf(raw, stream)).minIdleMs >= CLAIM_IDLE_MS,
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
    assertEquals(out.body.records, values, "every entry, once, in order");
    assertEquals((await pendingOf(raw, stream)).count, 0, "nothing pending at the end");
    assertEquals(Number(await raw.call("XLEN", stream)), N);
  } catch (err) {
    const tail = servers.map((s, i) => `--- server ${i + 1} output:\n${s.output.slice(-4000)}`).join("\n");
    throw new Error(`${(err as Error).message}\n${tail}`, { cause: err });
  } finally {
    for (const s of servers) await s.close();
    await proxy.close().catch(() => {});
  }
}

brokerTest(
  "redis.consumer: kill -9 between consume and commit, restart; every entry taken over, none lost or pending",
  "redis",
  async () => {
    if (!(await postgresReachable())) {
      if (Deno.env.get("CI") === "true") {
        throw new Error(`PostgreSQL is not reachable at ${TEST_DATABASE_URL} (CI=true: this must not skip)`);
      }
      console.warn(`skipped locally: PostgreSQL not reachable at ${TEST_DATABASE_URL}`);
      return;
    }
    const raw = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    raw.on("error", () => {});
    const stream = `flowmesh_test:kill:${crypto.randomUUID()}`;
    try {
      await withTempDatabase((url) => killMidAck(url, raw, stream));
    } finally {
      await raw.del(stream).catch(() => {});
      raw.disconnect();
    }
  },
);
