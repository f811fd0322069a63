/**
 * "The database goes away while running": a node in this process reaches its
 * PostgreSQL through a TCP proxy the test can cut (the listener and every open
 * connection closed) and restore (listening again on the same port). During the
 * outage submissions are answered 503 `storage_unavailable` promptly and
 * /health/ready is 503; executions acknowledged before the cut are not lost;
 * after the restore the node recovers by itself (no restart). Then a short blip
 * under load: every request is answered, and every key ends as one execution.
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { pgTest, withTempDatabase } from "../testing/pg.ts";
import { startNode } from "./start.ts";
import { call, pool } from "../testing/process.ts";
import type { HttpTarget, Reply } from "../testing/http.ts";
import { sleep } from "../testing/wait.ts";

/** A TCP proxy to one address that can be cut and restored on the same port. */
class TcpProxy {
  #listener: Deno.Listener | undefined;
  #conns = new Set<Deno.Conn>();
  #tasks = new Set<Promise<void>>();
  port = 0;
  /** Connections accepted in all. */
  accepted = 0;

  constructor(readonly target: { hostname: string; port: number }) {}

  /** Listens on 127.0.0.1 on a free port. */
  start(): void {
    this.#listen();
  }

  #listen(): void {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: this.port });
    this.#listener = listener;
    this.port = (listener.addr as Deno.NetAddr).port;
    this.#track(this.#accept(listener));
  }

  #track(task: Promise<void>): void {
    this.#tasks.add(task);
    task.finally(() => this.#tasks.delete(task));
  }

  async #accept(listener: Deno.Listener): Promise<void> {
    try {
      for await (const conn of listener) {
        this.accepted++;
        this.#track(this.#serve(conn));
      }
    } catch { /* the listener was closed */ }
  }

  async #serve(client: Deno.Conn): Promise<void> {
    this.#conns.add(client);
    let upstream: Deno.Conn | undefined;
    try {
      upstream = await Deno.connect(this.target);
      this.#conns.add(upstream);
      if (!this.#conns.has(client)) return; // cut while connecting
      await Promise.race([pipe(client, upstream), pipe(upstream, client)]);
    } catch {
      /* the upstream refused, or a side closed */
    } finally {
      for (const c of [client, upstream]) {
        if (c && this.#conns.delete(c)) closeQuietly(c);
      }
    }
  }

  /** The outage: stops listening and closes every open connection (both sides). */
  cut(): void {
    const listener = this.#listener;
    this.#listener = undefined;
    if (listener) closeQuietly(listener);
    for (const c of this.#conns) closeQuietly(c);
    this.#conns.clear();
  }

  /** The end of the outage: listens again on the same port (once the old socket is really closed). */
  async restore(): Promise<void> {
    for (let attempt = 0;; attempt++) {
      try {
        return this.#listen();
      } catch (err) {
        if (!(err instanceof Deno.errors.AddrInUse) || attempt >= 100) throw err;
        await sleep(10);
      }
    }
  }

  /** Cuts and waits for every task to end. */
  async close(): Promise<void> {
    this.cut();
    await Promise.allSettled([...this.#tasks]);
  }
}

function closeQuietly(c: { close(): void }): void {
  try {
    c.close();
  } catch { /* closed already */ }
}

/** Copies bytes from one connection to the other until either side ends. */
async function pipe(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(64 * 1024);
  try {
    for (;;) {
      const n = await from.read(buf);
      if (n === null) return;
      let at = 0;
      while (at < n) at += await to.write(buf.subarray(at, n));
    }
  } catch { /* closed */ }
}

const SLOW = {
  id: "wf-slow",
  name: "slow",
  nodes: [
    { id: "src", type: "source", nodeType: "sequence.numbers", config: { start: 1, end: 3 } },
    { id: "wait", type: "control", nodeType: "delay", config: { durationMs: 1000 } },
    { id: "sq", type: "transform", nodeType: "map", config: { expression: "value * value" } },
    { id: "out", type: "sink", nodeType: "memory.collect", config: {} },
  ],
  edges: [
    { source: "src", target: "wait" },
    { source: "wait", target: "sq" },
    { source: "sq", target: "out" },
  ],
};

const FAST = {
  id: "wf-fast",
  name: "fast",
  nodes: [
    { id: "src", type: "source", nodeType: "sequence.numbers", config: { start: 1, end: 4 } },
    { id: "inc", type: "transform", nodeType: "map", config: { expression: "value + 10" } },
    { id: "out", type: "sink", nodeType: "memory.collect", config: {} },
  ],
  edges: [{ source: "src", target: "inc" }, { source: "inc", target: "out" }],
};

function execute(node: HttpTarget, workflowId: string, query = "", headers: Record<string, string> = {}) {
  return call(node, "POST", `/api/v1/workflows/${workflowId}/execute${query}`, {
    json: {},
    headers,
    timeoutMs: 20_000,
  });
}

/** Asserts the JSON error `{error: {code, message, details}}` with this status and code. */
function assertError(r: Reply, status: number, code: string): void {
  assertEquals([r.status, r.body?.error?.code], [status, code], r.text);
  assert((r.headers.get("content-type") ?? "").includes("application/json"), "a JSON body");
  assertEquals(typeof r.body.error.message, "string");
  assert(Array.isArray(r.body.error.details), r.text);
}

/**
 * A 503 of the outage: `storage_unavailable`, or `shard_unavailable` once this
 * node, cut off from storage longer than the cluster's down-after time, has
 * let its shards go (it takes them back when storage returns).
 */
function assertUnavailable(r: Reply): void {
  assertError(
    r,
    503,
    r.body?.error?.code === "shard_unavailable" ? "shard_unavailable" : "storage_unavailable",
  );
}

/** How long the outage lasts: past the delay's due time and past the cluster's down-after time (2.5 s). */
const OUTAGE_MS = 3_500;

/** `promise`, or a failure naming `what` after `ms` (a hang fails the test instead of stalling the run). */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) =>
        timer = setTimeout(() => reject(new Error(`${what}: over ${ms} ms`)), ms)
      ),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Times an async call, in ms. */
async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const value = await fn();
  return [value, performance.now() - started];
}

/** Polls until the execution ends (or fails after `ms`); returns its view. */
async function waitEnded(node: HttpTarget, executionId: string, ms: number) {
  const deadline = performance.now() + ms;
  for (;;) {
    const r = await call(node, "GET", `/api/v1/executions/${executionId}`);
    if (r.status === 200 && r.body.status !== "running") return r.body;
    if (performance.now() > deadline) throw new Error(`${executionId} did not end: ${r.status} ${r.text}`);
    await sleep(50);
  }
}

/** Checks a finished execution: completed, one NodeSucceeded per node, contiguous seqs, the records. */
async function assertCompletedOnce(
  node: HttpTarget,
  executionId: string,
  nodes: string[],
  records: unknown[],
) {
  const view = await waitEnded(node, executionId, 20_000);
  assertEquals(view.status, "completed", JSON.stringify(view));
  const events = await call(node, "GET", `/api/v1/executions/${executionId}/events`);
  assertEquals(events.status, 200, events.text);
  // deno-lint-ignore no-explicit-any
  const list: any[] = events.body.events;
  assertEquals(list.map((e) => e.seq), list.map((_, i) => i + 1), events.text);
  assertEquals(list.at(-1).type, "ExecutionSucceeded", events.text);
  for (const id of nodes) {
    assertEquals(list.filter((e) => e.type === "NodeSucceeded" && e.nodeId === id).length, 1, events.text);
  }
  const out = await call(node, "GET", `/api/v1/executions/${executionId}/nodes/out/output`);
  assertEquals([out.status, out.body.records], [200, records], out.text);
}

/** Keyed FAST submissions at once; each answer (or connection error) with how long it took. */
function burst(node: HttpTarget, keys: string[]): Promise<{ key: string; reply?: Reply; ms: number }[]> {
  return Promise.all(keys.map(async (key) => {
    const started = performance.now();
    const reply = await execute(node, FAST.id, "", { "idempotency-key": key }).catch(() => undefined);
    return { key, reply, ms: performance.now() - started };
  }));
}

/** Submits `keys` again until acknowledged; returns the execution ids. */
async function resubmit(node: HttpTarget, keys: string[]): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  await pool(keys, 8, async (key) => {
    for (let attempt = 0;; attempt++) {
      const r = await execute(node, FAST.id, "", { "idempotency-key": key });
      if (r.status === 202) {
        ids.set(key, r.body.executionId);
        return;
      }
      if (attempt >= 20) throw new Error(`${key} not acknowledged: ${r.text}`);
      await sleep(200);
    }
  });
  return ids;
}

const FAST_NODES = ["src", "inc", "out"];
const FAST_RECORDS = [11, 12, 13, 14];

pgTest(
  "outage: PostgreSQL goes away while running; 503 fast, nothing acknowledged lost, recovers alone",
  () =>
    withTempDatabase(async (dbUrl) => {
      const direct = new URL(dbUrl);
      const proxy = new TcpProxy({ hostname: direct.hostname, port: Number(direct.port || 5432) });
      proxy.start();
      const viaProxy = new URL(dbUrl);
      viaProxy.hostname = "127.0.0.1";
      viaProxy.port = String(proxy.port);
      const node = await startNode({
        port: 0,
        host: "127.0.0.1",
        storage: "postgres",
        databaseUrl: viaProxy.toString(),
        logLevel: "error",
      });
      try {
        for (const w of [SLOW, FAST]) {
          const r = await call(node, "POST", "/api/v1/workflows", { json: w });
          assertEquals(r.status, 201, r.text);
        }
        const fine = await execute(node, FAST.id, "?wait=10000");
        assertEquals([fine.status, fine.body.status], [200, "completed"], fine.text);
        assertEquals((await call(node, "GET", "/health/ready")).status, 200);

        // An execution acknowledged just before the cut: it sits in its 1 s delay during the outage.
        const inFlight = await execute(node, SLOW.id, "", { "idempotency-key": "in-flight" });
        assertEquals(inFlight.status, 202, inFlight.text);
        const inFlightId: string = inFlight.body.executionId;

        // ---- the outage, with submissions still in flight when it starts
        const cutBurst = burst(node, Array.from({ length: 10 }, (_, i) => `cut-${i}`));
        await sleep(2);
        proxy.cut();
        const cutAt = performance.now();
        // The first submission after the cut: 503 storage_unavailable, promptly.
        const [refused, refusedMs] = await timed(() => execute(node, FAST.id));
        assertError(refused, 503, "storage_unavailable");
        assert(refusedMs < 5_000, `503 took ${refusedMs} ms`);
        assertEquals(refused.headers.get("retry-after"), "1");
        const [keyed, keyedMs] = await timed(() =>
          execute(node, FAST.id, "", { "idempotency-key": "during" })
        );
        assertUnavailable(keyed);
        assert(keyedMs < 7_000, `503 took ${keyedMs} ms`);
        const [notReady, notReadyMs] = await timed(() => call(node, "GET", "/health/ready"));
        assertEquals([notReady.status, notReady.body.status, notReady.body.storage], [
          503,
          "not_ready",
          false,
        ]);
        assert(notReadyMs < 5_000, `/health/ready took ${notReadyMs} ms`);
        // Reads need storage too: 503 as well, not a hang or a 500.
        const read = await call(node, "GET", `/api/v1/executions/${inFlightId}/events`);
        assertUnavailable(read);
        const cutReplies = await cutBurst;
        for (const { reply } of cutReplies) {
          assert(reply, "a submission at the cut got no answer");
          if (reply.status !== 202) assertUnavailable(reply);
        }
        assert(Math.max(...cutReplies.map((r) => r.ms)) < 7_000, "a submission at the cut took over 7 s");
        // Stay down past the delay's due time (its timer fires, its append fails) and the down-after time.
        await sleep(Math.max(0, OUTAGE_MS - (performance.now() - cutAt)));
        const [stillDown, stillDownMs] = await timed(() => execute(node, FAST.id));
        assertUnavailable(stillDown);
        assert(stillDownMs < 7_000, `503 took ${stillDownMs} ms`);
        const lateHealth = await call(node, "GET", "/health/ready");
        assertEquals(lateHealth.status, 503, lateHealth.text);
        const outageMs = performance.now() - cutAt;

        // ---- restored: the node recovers by itself
        await proxy.restore();
        const restoredAt = performance.now();
        let readyMs: number | undefined;
        while (readyMs === undefined) {
          const r = await call(node, "GET", "/health/ready");
          if (r.status === 200) readyMs = performance.now() - restoredAt;
          else if (performance.now() - restoredAt > 15_000) throw new Error(`not ready again: ${r.text}`);
          else await sleep(50);
        }
        await waitEnded(node, inFlightId, 20_000);
        const inFlightDoneMs = performance.now() - restoredAt;
        await assertCompletedOnce(node, inFlightId, ["src", "wait", "sq", "out"], [1, 4, 9]);

        // Acknowledged at the cut: completed; refused: accepted now under the same key.
        const ackedAtCut = new Map(
          cutReplies.filter((r) => r.reply?.status === 202).map((r) => [r.key, r.reply!.body.executionId]),
        );
        const again = await resubmit(node, cutReplies.map((r) => r.key));
        for (const [key, id] of ackedAtCut) assertEquals(again.get(key), id, key);
        for (const id of again.values()) await assertCompletedOnce(node, id, FAST_NODES, FAST_RECORDS);

        // New submissions succeed: 202, and to the end; the key refused during the outage is fresh.
        const fresh = await execute(node, FAST.id);
        assertEquals(fresh.status, 202, fresh.text);
        const keyedAgain = await execute(node, FAST.id, "?wait=10000", { "idempotency-key": "during" });
        assertEquals([keyedAgain.status, keyedAgain.body.status], [200, "completed"], keyedAgain.text);
        assertEquals(
          keyedAgain.headers.get("idempotent-replayed"),
          null,
          "refused during the outage: new now",
        );
        const replay = await execute(node, SLOW.id, "", { "idempotency-key": "in-flight" });
        assertEquals([replay.status, replay.body.executionId], [202, inFlightId], replay.text);
        assertEquals(replay.headers.get("idempotent-replayed"), "true");
        const listed = await call(node, "GET", `/api/v1/workflows/${SLOW.id}/executions`);
        assertEquals(listed.body.length, 1, listed.text);

        // ---- a blip under load: cut and restored 50 ms later while 30 submissions are in flight
        const blipKeys = Array.from({ length: 30 }, (_, i) => `blip-${i}`);
        const blipBurst = burst(node, blipKeys);
        await sleep(3);
        proxy.cut();
        await sleep(50);
        await proxy.restore();
        const blipReplies = await blipBurst;
        for (const { reply } of blipReplies) {
          assert(reply, "a submission in the blip got no answer");
          if (reply.status !== 202) assertError(reply, 503, "storage_unavailable");
        }
        const blipAcked = blipReplies.filter((r) => r.reply?.status === 202).length;
        const blipIds = await resubmit(node, blipKeys);
        for (const { key, reply } of blipReplies) {
          if (reply?.status === 202) assertEquals(blipIds.get(key), reply.body.executionId, key);
        }
        for (const id of blipIds.values()) await assertCompletedOnce(node, id, FAST_NODES, FAST_RECORDS);
        const all = await call(node, "GET", `/api/v1/workflows/${FAST.id}/executions?limit=500`);
        const ids = all.body.map((e: { executionId: string }) => e.executionId);
        // fine + 10 at the cut + fresh + "during" + 30 in the blip: one execution per key, none lost.
        assertEquals(ids.length, 1 + 10 + 1 + 1 + 30, all.text);
        assertEquals(new Set(ids).size, ids.length);
        assert(all.body.every((e: { status: string }) => e.status === "completed"), all.text);

        console.log(
          `503 in ${refusedMs.toFixed(0)} ms (then ${keyed.body.error.code} in ${keyedMs.toFixed(0)} ms; ` +
            `at the end ${stillDown.body.error.code} in ${stillDownMs.toFixed(0)} ms, ` +
            `${lateHealth.body.shards} shards held), /health/ready 503 in ` +
            `${notReadyMs.toFixed(0)} ms; ${ackedAtCut.size}/10 acknowledged at the cut; outage ` +
            `${outageMs.toFixed(0)} ms; ready again ${readyMs.toFixed(0)} ms after the restore; the ` +
            `in-flight execution completed ${inFlightDoneMs.toFixed(0)} ms after the restore; blip: ` +
            `${blipAcked}/30 acknowledged, slowest answer ${
              Math.max(...blipReplies.map((r) => r.ms)).toFixed(0)
            } ms; ${proxy.accepted} proxied connections`,
        );
      } finally {
        const closing = performance.now();
        await within(node.close(), 15_000, "closing the node");
        await within(proxy.close(), 5_000, "closing the proxy");
        console.log(`node closed in ${(performance.now() - closing).toFixed(0)} ms`);
      }
    }),
);
