/**
 * "The database goes away while running": a node in this process reaches its
 * PostgreSQL through a TCP proxy the test can cut (the listener and every open
 * connection closed) and restore (listening again on the same port). During the
 * outage submissions are answered 503 `storage_unavailable` promptly and
 * /health/ready is 503; an execution acknowledged just before the cut is not
 * lost; after the restore the node recovers by itself (no restart).
 */
import { assert, assertEquals } from "../core/testing.ts";
import { pgTest, withTempDatabase } from "../storage/pg_testing.ts";
import { startNode } from "./node.ts";
import { call, type HttpTarget, type Reply, sleep } from "./process_testing.ts";

/** A TCP proxy to one address that can be cut and restored on the same port. */
class TcpProxy {
  #listener: Deno.Listener | undefined;
  #conns = new Set<Deno.Conn>();
  #tasks = new Set<Promise<void>>();
  port = 0;
  /** Connections accepted in all. */
  accepted = 0;

  constructor(readonly target: { hostname: string; port: number }) {}

  /** Listens (again) on 127.0.0.1: on a free port the first time, on the same port afterwards. */
  listen(): void {
    if (this.#listener) return;
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

  /** The end of the outage: listens again on the same port. */
  restore(): void {
    this.listen();
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
  edges: [{ source: "src", target: "wait" }, { source: "wait", target: "sq" }, {
    source: "sq",
    target: "out",
  }],
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

/** Times an async call, in ms. */
async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const value = await fn();
  return [value, performance.now() - started];
}

pgTest(
  "outage: PostgreSQL goes away while running; 503 fast, nothing acknowledged lost, recovers alone",
  () =>
    withTempDatabase(async (dbUrl) => {
      const direct = new URL(dbUrl);
      const proxy = new TcpProxy({ hostname: direct.hostname, port: Number(direct.port || 5432) });
      proxy.listen();
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

        // ---- the outage
        proxy.cut();
        const cutAt = performance.now();
        const [refused, refusedMs] = await timed(() => execute(node, FAST.id));
        assertError(refused, 503, "storage_unavailable");
        assert(refusedMs < 5_000, `503 took ${refusedMs} ms`);
        assertEquals(refused.headers.get("retry-after"), "1");
        const [keyed, keyedMs] = await timed(() =>
          execute(node, FAST.id, "", { "idempotency-key": "during" })
        );
        assertError(keyed, 503, "storage_unavailable");
        assert(keyedMs < 5_000, `503 took ${keyedMs} ms`);
        const [notReady, notReadyMs] = await timed(() => call(node, "GET", "/health/ready"));
        assertEquals(notReady.status, 503, notReady.text);
        assertEquals(notReady.body, { status: "not_ready", engine: true, storage: false });
        assert(notReadyMs < 5_000, `/health/ready took ${notReadyMs} ms`);
        // Reads need storage too: 503 as well, not a hang or a 500.
        const read = await call(node, "GET", `/api/v1/executions/${inFlightId}/events`);
        assertError(read, 503, "storage_unavailable");
        // Stay down past the delay's due time, so its timer fires (and its append fails) during the outage.
        await sleep(Math.max(0, 1_800 - (performance.now() - cutAt)));
        const stillDown = await execute(node, FAST.id);
        assertError(stillDown, 503, "storage_unavailable");
        const outageMs = performance.now() - cutAt;

        // ---- restored: the node recovers by itself
        proxy.restore();
        const restoredAt = performance.now();
        let readyMs: number | undefined;
        while (readyMs === undefined) {
          const r = await call(node, "GET", "/health/ready");
          if (r.status === 200) readyMs = performance.now() - restoredAt;
          else if (performance.now() - restoredAt > 15_000) throw new Error(`not ready again: ${r.text}`);
          else await sleep(50);
        }
        let view;
        for (;;) {
          const r = await call(node, "GET", `/api/v1/executions/${inFlightId}`);
          if (r.status === 200 && r.body.status !== "running") {
            view = r.body;
            break;
          }
          if (performance.now() - restoredAt > 20_000) {
            throw new Error(`in-flight execution stuck: ${r.text}`);
          }
          await sleep(50);
        }
        const inFlightDoneMs = performance.now() - restoredAt;
        assertEquals(view.status, "completed", JSON.stringify(view));
        const out = await call(node, "GET", `/api/v1/executions/${inFlightId}/nodes/out/output`);
        assertEquals([out.status, out.body.records], [200, [1, 4, 9]], out.text);
        const events = await call(node, "GET", `/api/v1/executions/${inFlightId}/events`);
        // deno-lint-ignore no-explicit-any
        const list: any[] = events.body.events;
        assertEquals(list.map((e) => e.seq), list.map((_, i) => i + 1));
        assertEquals(list.at(-1).type, "ExecutionSucceeded");
        for (const id of ["src", "wait", "sq", "out"]) {
          assertEquals(list.filter((e) => e.type === "NodeSucceeded" && e.nodeId === id).length, 1, id);
        }

        // New submissions succeed: 202, and to the end; the key refused during the outage is fresh.
        const again = await execute(node, FAST.id);
        assertEquals(again.status, 202, again.text);
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

        console.log(
          `503 in ${refusedMs.toFixed(0)} ms (keyed ${keyedMs.toFixed(0)} ms), /health/ready 503 in ` +
            `${notReadyMs.toFixed(0)} ms; outage ${outageMs.toFixed(0)} ms; ready again ${
              readyMs.toFixed(0)
            } ms after the restore; the in-flight execution completed ${inFlightDoneMs.toFixed(0)} ms ` +
            `after the restore; ${proxy.accepted} proxied connections`,
        );
      } finally {
        await node.close();
        await proxy.close();
      }
    }),
);
