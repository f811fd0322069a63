/**
 * Metrics: real nodes scraped over HTTP (`GET /metrics`), the exposition parsed with a real Prometheus text
 * parser (npm parse-prometheus-text-format), and counters and histograms checked to move by exactly what
 * the test did. Then the cluster metrics (failover, rebalance, executions recovered and ended elsewhere) with
 * engines and members over one shared storage, and the small pieces (forwarding, transport, commit queue).
 */
import parsePrometheusTextFormat from "npm:parse-prometheus-text-format@1.1.1";
import { shardOf } from "../../core/ids.ts";
import { assert, assertStrictEquals } from "../../testing/assert.ts";
import { CommitGroup } from "../../storage/commit_group.ts";
import { MemoryStorage } from "../../storage/memory.ts";
import type { StoredWorkflow } from "../../storage/storage.ts";
import { systemClock } from "../runtime/clock.ts";
import type { ClusterMember } from "../cluster/member.ts";
import { Engine } from "../runtime/engine.ts";
import { silentLogger } from "../runtime/logger.ts";
import { Metrics } from "./metrics.ts";
import { executorFor } from "../executors/registry.ts";
import { realServices } from "../executors/services.ts";
import type { Forwarder } from "../http/routing.ts";
import {
  chain,
  createWorkflow,
  executeAndWait,
  getJson,
  n,
  postJson,
  startTarget,
  through,
  withNode,
  withNodeCalling,
} from "../../testing/server.ts";
import { request } from "../../testing/http.ts";
import { checkWorkflow } from "../runtime/workflows.ts";
import { startTestMember } from "../../testing/member.ts";
import { waitUntil } from "../../testing/wait.ts";

// ---- the exposition, parsed

/** One sample: its labels and value. */
interface Sample {
  labels: Record<string, string>;
  value: number;
}

/** A parsed scrape: each family's type, and the samples of every series name. */
interface Scrape {
  text: string;
  types: Map<string, string>;
  series: Map<string, Sample[]>;
}

interface ParsedFamily {
  name: string;
  type: string;
  metrics: { labels?: Record<string, string>; value?: string }[];
}

const parse = parsePrometheusTextFormat as unknown as (text: string) => ParsedFamily[];

/**
 * Parses an exposition with parse-prometheus-text-format. Its histogram support merges the series of a
 * labelled histogram (upstream issue #13, fix in the unmerged PR #8: labels, `_sum` and `_count` are lost),
 * so histogram families are parsed a second time with their `# HELP`/`# TYPE` lines removed: their
 * `_bucket`, `_sum` and `_count` series then come out as series of their own, labels intact.
 */
function parseScrape(text: string): Scrape {
  const families = parse(text);
  const types = new Map(families.map((f) => [f.name, f.type]));
  const histograms = new Set(families.filter((f) => f.type === "HISTOGRAM").map((f) => f.name));
  const flat = text.split("\n").filter((line) => {
    const m = /^# (?:HELP|TYPE) (\S+)/.exec(line);
    return !(m && histograms.has(m[1]));
  }).join("\n");
  const series = new Map<string, Sample[]>();
  for (const f of parse(flat)) {
    const samples = f.metrics.map((m) => ({ labels: m.labels ?? {}, value: Number(m.value) }));
    series.set(f.name, [...(series.get(f.name) ?? []), ...samples]);
  }
  return { text, types, series };
}

/** The sum of the samples of `name` whose labels include `labels` (0 when none). */
function value(s: Scrape, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const sample of s.series.get(name) ?? []) {
    if (Object.entries(labels).every(([k, v]) => sample.labels[k] === v)) total += sample.value;
  }
  return total;
}

/** How much `name{labels}` moved from `before` to `after`. */
function delta(before: Scrape, after: Scrape, name: string, labels: Record<string, string> = {}): number {
  return value(after, name, labels) - value(before, name, labels);
}

async function scrape(node: { url: string }): Promise<Scrape> {
  const res = await fetch(`${node.url}/metrics`);
  const text = await res.text();
  assertStrictEquals(res.status, 200, text);
  assertStrictEquals(res.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  return parseScrape(text);
}

// ---- a node over HTTP

Deno.test("metrics: executions, requests and attempts move the counters and histograms by their amounts", async () => {
  const target = startTarget(() => new Response("busy", { status: 503 }));
  try {
    await withNodeCalling(target, async (node) => {
      await createWorkflow(
        node,
        through("wf-m", [1, 2, 3], n("keep", "transform/filter", { condition: "value > 1" })),
      );
      await createWorkflow(
        node,
        chain(
          "wf-fail",
          n("src", "source/memory.collection", { data: [1] }),
          n("call", "control/http", { method: "POST", url: target.url, idempotent: true }, {
            retry: { maxAttempts: 2, initialIntervalMs: 10 },
          }),
        ),
      );
      const before = await scrape(node);

      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push((await executeAndWait(node, "wf-m")).body.executionId);
      const failed = await executeAndWait(node, "wf-fail", "failed");
      assertStrictEquals(target.seen.length, 2);
      assertStrictEquals((await getJson(node, `/api/v1/executions/${ids[0]}`)).status, 200);
      assertStrictEquals((await getJson(node, "/api/v1/no-such-route")).status, 404);
      const after = await scrape(node);

      // Executions: created, ended by status, durations.
      assertStrictEquals(delta(before, after, "workflow_created_total"), 4);
      assertStrictEquals(delta(before, after, "workflow_execution_total", { status: "completed" }), 3);
      assertStrictEquals(delta(before, after, "workflow_execution_total", { status: "failed" }), 1);
      assertStrictEquals(delta(before, after, "workflow_execution_total", { status: "cancelled" }), 0);
      const completed = { status: "completed" };
      assertStrictEquals(delta(before, after, "workflow_execution_duration_seconds_count", completed), 3);
      assertStrictEquals(
        delta(before, after, "workflow_execution_duration_seconds_bucket", { ...completed, le: "+Inf" }),
        3,
      );
      const durationSum = value(after, "workflow_execution_duration_seconds_sum", completed);
      assert(durationSum >= 0 && durationSum < 30, `sum ${durationSum}`);
      assertStrictEquals(
        delta(before, after, "workflow_execution_duration_seconds_count", { status: "failed" }),
        1,
      );

      // HTTP: by method, route pattern and status; never the raw path.
      const execute = { method: "POST", route: "/api/v1/workflows/:id/execute", status: "200" };
      assertStrictEquals(delta(before, after, "http_requests_total", execute), 4);
      assertStrictEquals(delta(before, after, "http_request_duration_seconds_count", execute), 4);
      assertStrictEquals(
        delta(before, after, "http_request_duration_seconds_bucket", { ...execute, le: "+Inf" }),
        4,
      );
      assertStrictEquals(
        value(after, "http_requests_total", {
          method: "GET",
          route: "/api/v1/executions/:executionId",
          status: "200",
        }),
        1,
      );
      assertStrictEquals(
        value(after, "http_requests_total", { method: "GET", route: "unmatched", status: "404" }),
        1,
      );
      assertStrictEquals(
        value(after, "http_requests_total", { method: "POST", route: "/api/v1/workflows", status: "201" }),
        2,
      );
      assertStrictEquals(
        value(after, "http_requests_total", { method: "GET", route: "/metrics", status: "200" }),
        1,
      );
      for (const sample of after.series.get("http_requests_total")!) {
        const route = sample.labels.route;
        assert(route === "unmatched" || route.startsWith("/"), route);
        for (const id of [...ids, failed.body.executionId, "wf-m", "wf-fail", "no-such-route"]) {
          assert(!route.includes(id), `route label ${route} holds ${id}`);
        }
      }

      // Node attempts by kind: 4 sources, 3 filters, 3 collects, 2 http attempts (one retry, then failed).
      const attempts = (kind: string) => delta(before, after, "workflow_node_attempts_total", { kind });
      assertStrictEquals(attempts("source/memory.collection"), 4);
      assertStrictEquals(attempts("transform/filter"), 3);
      assertStrictEquals(attempts("sink/memory.collect"), 3);
      assertStrictEquals(attempts("control/http"), 2);
      assertStrictEquals(delta(before, after, "workflow_node_retries_total"), 1);
      assertStrictEquals(delta(before, after, "workflow_node_retries_total", { kind: "control/http" }), 1);
      assertStrictEquals(delta(before, after, "workflow_node_failures_total"), 2);
      assertStrictEquals(delta(before, after, "workflow_node_failures_total", { kind: "control/http" }), 2);
      const ran = (kind: string, outcome: string) =>
        delta(before, after, "workflow_node_duration_seconds_count", { kind, outcome });
      assertStrictEquals(ran("transform/filter", "completed"), 3);
      assertStrictEquals(ran("control/http", "failed"), 2);
      assertStrictEquals(ran("control/http", "completed"), 0);

      // Storage: every append went through the commit group.
      const flushes = delta(before, after, "workflow_commit_group_flushes_total", { outcome: "ok" });
      assert(flushes >= 4, `flushes ${flushes}`);
      assertStrictEquals(
        delta(before, after, "workflow_commit_group_flushes_total", { outcome: "error" }),
        0,
      );
      assertStrictEquals(delta(before, after, "workflow_commit_group_batch_size_count"), flushes);
      assertStrictEquals(
        delta(before, after, "workflow_storage_append_duration_seconds_count", { outcome: "ok" }),
        flushes,
      );
      const appends = delta(before, after, "workflow_append_duration_seconds_count");
      assert(appends >= 4 && appends >= flushes - 0, `appends ${appends}`);
      assertStrictEquals(delta(before, after, "workflow_commit_group_batch_size_sum"), appends);
      assert(delta(before, after, "workflow_events_appended_total") >= appends);

      // Levels read at the scrape.
      assertStrictEquals(value(after, "workflow_entity_count"), 0);
      assertStrictEquals((after.series.get("workflow_entity_count") ?? []).length, 128);
      assertStrictEquals(value(after, "workflow_timers_pending"), 0);
      assertStrictEquals(value(after, "cluster_member_count", { status: "up" }), 1);
      assertStrictEquals(value(after, "cluster_member_count", { status: "down" }), 0);
      assertStrictEquals(value(after, "shard_count", { node: node.cluster.opts.nodeId }), 128);
      assertStrictEquals(value(after, "workflow_storage_up"), 1);
      assertStrictEquals(value(after, "workflow_commit_group_queue_depth"), 0);
      assertStrictEquals(value(after, "workflow_transport_queue_depth"), 0);
      assertStrictEquals(value(after, "workflow_transport_dropped_total"), 0);
      assertStrictEquals(value(after, "workflow_failover_total"), 0);
      // A standalone node is its own leader: its first round assigned it every shard (128 moves, listed in one
      // shard_rebalance event), then took them all up (one shard_started event).
      assertStrictEquals(value(after, "workflow_rebalance_total"), 128);
      assertStrictEquals(value(after, "workflow_cluster_events_total", { type: "shard_rebalance" }), 1);
      assertStrictEquals(value(after, "workflow_cluster_events_total", { type: "shard_started" }), 1);
      assert(value(after, "process_memory_bytes", { type: "rss" }) > 0);
      assert(value(after, "process_memory_bytes", { type: "heap_used" }) > 0);

      // Types as declared.
      for (
        const [name, type] of [
          ["workflow_execution_total", "COUNTER"],
          ["workflow_execution_duration_seconds", "HISTOGRAM"],
          ["workflow_entity_count", "GAUGE"],
          ["http_requests_total", "COUNTER"],
          ["http_request_duration_seconds", "HISTOGRAM"],
          ["workflow_routing_latency_seconds", "HISTOGRAM"],
          ["workflow_node_duration_seconds", "HISTOGRAM"],
          ["workflow_commit_group_batch_size", "HISTOGRAM"],
          ["cluster_member_count", "GAUGE"],
          ["shard_count", "GAUGE"],
          ["process_event_loop_lag_seconds", "GAUGE"],
        ]
      ) {
        assertStrictEquals(after.types.get(name), type, name);
      }
    });
  } finally {
    await target.close();
  }
});

Deno.test("metrics: a live execution is counted by its shard and its timer, then ends cancelled", async () => {
  await withNode(async (node) => {
    await createWorkflow(
      node,
      chain(
        "wf-wait",
        n("src", "source/memory.collection", { data: [1] }),
        n("d", "control/delay", {
          durationMs: 60_000,
        }),
      ),
    );
    const started = await postJson(node, "/api/v1/workflows/wf-wait/execute", {});
    assertStrictEquals(started.status, 202, started.text);
    const id: string = started.body.executionId;
    const shard = String(shardOf(id, node.engine.shardCount));
    let live: Scrape;
    for (let i = 0;; i++) {
      live = await scrape(node);
      if (value(live, "workflow_timers_pending") === 1) break;
      assert(i < 200, "the delay's timer was never armed");
      await new Promise((r) => setTimeout(r, 10));
    }
    assertStrictEquals(value(live, "workflow_entity_count", { shard }), 1);
    assertStrictEquals(value(live, "workflow_entity_count"), 1);
    assertStrictEquals(value(live, "workflow_execution_total"), 0);

    const cancel = await postJson(node, `/api/v1/executions/${id}/cancel`, { reason: "test" });
    assertStrictEquals(cancel.status, 200, cancel.text);
    const ended = await scrape(node);
    assertStrictEquals(value(ended, "workflow_execution_total", { status: "cancelled" }), 1);
    assertStrictEquals(value(ended, "workflow_execution_duration_seconds_count", { status: "cancelled" }), 1);
    assertStrictEquals(value(ended, "workflow_entity_count"), 0);
    // The timer queue keeps a moot timer until it is due (then drops it): still armed, at most.
    assert(value(ended, "workflow_timers_pending") <= 1);
    assertStrictEquals(
      value(ended, "http_requests_total", {
        method: "POST",
        route: "/api/v1/executions/:executionId/cancel",
        status: "200",
      }),
      1,
    );
  });
});

Deno.test("metrics: every node has a registry of its own (two nodes in one process)", async () => {
  await withNode(async (a) => {
    await withNode(async (b) => {
      await createWorkflow(a, through("wf-a", [1]));
      await executeAndWait(a, "wf-a");
      await executeAndWait(a, "wf-a");
      const [sa, sb] = [await scrape(a), await scrape(b)];
      assertStrictEquals(value(sa, "workflow_execution_total", { status: "completed" }), 2);
      assertStrictEquals(value(sb, "workflow_execution_total", { status: "completed" }), 0);
      assertStrictEquals(value(sb, "workflow_created_total"), 0);
      assertStrictEquals(value(sb, "http_requests_total", { route: "/api/v1/workflows/:id/execute" }), 0);
      assert(a.metrics.registry !== b.metrics.registry);
    });
  });
});

Deno.test("metrics: HTTP method labels stay bounded; HEAD is counted on the GET route", async () => {
  await withNode(async (node) => {
    await request(node, "BREW", "/health");
    const head = await fetch(`${node.url}/health`, { method: "HEAD" });
    await head.body?.cancel();
    const s = await scrape(node);
    // An unknown method: 405, no route matched.
    assertStrictEquals(
      value(s, "http_requests_total", { method: "other", route: "unmatched", status: "405" }),
      1,
    );
    assertStrictEquals(
      value(s, "http_requests_total", { method: "HEAD", route: "/health", status: "200" }),
      1,
    );
    assert(!s.text.includes("BREW"));
  });
});

// ---- the cluster: failover, rebalance, executions that end on another member

const SHARDS = 8;

interface Member {
  id: string;
  engine: Engine;
  member: ClusterMember;
  metrics: Metrics;
  stopped: boolean;
}

async function startMember(storage: MemoryStorage, id: string, services: ReturnType<typeof realServices>) {
  const metrics = new Metrics();
  const { engine, member } = await startTestMember(storage, id, {
    shardCount: SHARDS,
    services,
    engine: {
      appender: new CommitGroup(storage, {}, metrics.commitGroupObserver),
      observer: metrics.engineObserver,
    },
    cluster: { onEvent: (type, details) => metrics.clusterEvent(type, details) },
  });
  metrics.bind({ engine, cluster: member, storage });
  await member.start();
  return { id, engine, member, metrics, stopped: false } satisfies Member;
}

async function storeDelayWorkflow(storage: MemoryStorage): Promise<StoredWorkflow> {
  const checked = checkWorkflow({
    id: "wf-slow",
    name: "slow",
    nodes: [
      { id: "src", type: "source", nodeType: "sequence.numbers", config: { start: 1, end: 2 } },
      { id: "wait", type: "control", nodeType: "delay", config: { durationMs: 400 } },
    ],
    edges: [{ source: "src", target: "wait" }],
  });
  if (!checked.ok) throw new Error(JSON.stringify(checked.problems));
  const put = await storage.putWorkflow(checked.value.definition, checked.value.hash, 0, Date.now());
  if (!put.ok) throw new Error("put failed");
  return put.workflow;
}

Deno.test("metrics: a member's crash counts failovers on the survivor, which ends its executions", async () => {
  const storage = new MemoryStorage();
  const services = realServices();
  const members: Member[] = [];
  try {
    members.push(await startMember(storage, "a", services));
    members.push(await startMember(storage, "b", services));
    const [a, b] = members;
    await waitUntil("a balanced allocation", () =>
      a.engine.ownedShards.size === SHARDS / 2 &&
      b.engine.ownedShards.size === SHARDS / 2);
    const wf = await storeDelayWorkflow(storage);
    let id: string;
    do id = `ex-${crypto.randomUUID()}`; while (!a.engine.ownedShards.has(shardOf(id, SHARDS)));
    const r = await a.engine.submit(wf, { executionId: id, input: null });
    assert(r.ok, JSON.stringify(r));

    const onA = parseScrape((await a.metrics.render()).text);
    assertStrictEquals(value(onA, "workflow_created_total"), 1);
    assertStrictEquals(value(onA, "workflow_entity_count", { shard: String(shardOf(id, SHARDS)) }), 1);
    // a, the leader, placed all 8 shards at start, then moved 4 to b when it joined.
    assertStrictEquals(value(onA, "workflow_rebalance_total"), SHARDS + SHARDS / 2);
    assertStrictEquals(value(onA, "workflow_cluster_events_total", { type: "shard_rebalance" }), 2); // a round each
    assertStrictEquals(value(onA, "shard_count", { node: "a" }), SHARDS / 2);
    assertStrictEquals(value(onA, "shard_count", { node: "b" }), SHARDS / 2);
    assertStrictEquals(value(onA, "cluster_member_count", { status: "up" }), 2);

    // a crashes: no more heartbeats, its engine gone (its execution is released, not ended, there).
    a.stopped = true;
    await a.member.stop();
    await a.engine.stop();
    await waitUntil("b owns every shard", () => b.engine.ownedShards.size === SHARDS);
    await waitUntil(
      "the execution to end on b",
      async () => (await storage.getExecution(id))?.status === "completed",
    );

    const onB = parseScrape((await b.metrics.render()).text);
    // Counted per shard taken over, from one workflow_failover event listing them.
    assertStrictEquals(value(onB, "workflow_failover_total"), SHARDS / 2);
    assertStrictEquals(value(onB, "workflow_cluster_events_total", { type: "workflow_failover" }), 1);
    assertStrictEquals(value(onB, "workflow_rebalance_total"), SHARDS / 2);
    assertStrictEquals(value(onB, "shard_count", { node: "b" }), SHARDS);
    assertStrictEquals(value(onB, "cluster_member_count", { status: "down" }), 1);
    // Recovered on b, ended on b: counted where it ended, created where it was submitted.
    assertStrictEquals(value(onB, "workflow_execution_total", { status: "completed" }), 1);
    assertStrictEquals(value(onB, "workflow_created_total"), 0);
    assertStrictEquals(value(onB, "workflow_node_attempts_total", { kind: "source/sequence.numbers" }), 0);
    const onAAfter = parseScrape((await a.metrics.render()).text);
    assertStrictEquals(value(onAAfter, "workflow_execution_total"), 0);
    assertStrictEquals(
      value(onAAfter, "workflow_node_attempts_total", { kind: "source/sequence.numbers" }),
      1,
    );
  } finally {
    for (const m of members) {
      if (!m.stopped) {
        await m.member.stop();
        await m.engine.stop();
      }
      m.metrics.close();
    }
    await services.close();
  }
});

// ---- the small pieces

Deno.test("metrics: forwarded calls are timed by outcome; transport and commit queue figures", async () => {
  const metrics = new Metrics();
  try {
    const answers = [
      { ok: true as const, response: { status: 200, headers: {}, body: "" } },
      { ok: false as const, code: "timeout", message: "late" },
      { ok: false as const, code: "unreachable", message: "gone" },
      { ok: false as const, code: "something else", message: "?" },
    ];
    let i = 0;
    const inner: Forwarder = { forward: () => Promise.resolve(answers[i++]) };
    const forwarder = metrics.forwarder(inner);
    const req = { method: "GET", path: "/x", headers: {}, body: "" };
    for (let k = 0; k < answers.length; k++) await forwarder.forward("b", req, 1000);

    let stats = { queued: 3, sent: 10, received: 9, dropped: 2, rejectedPeers: 0, frames: 10 };
    const storage = new MemoryStorage();
    const group = new CommitGroup(storage, { maxQueue: 0 }, metrics.commitGroupObserver);
    await group.append({} as never).catch(() => {});
    const engine = new Engine({
      storage,
      clock: systemClock,
      newId: () => crypto.randomUUID(),
      executorFor,
      services: realServices(),
      nodeName: "n",
      log: silentLogger,
    });
    metrics.bind({ engine, transport: { stats: () => stats } });
    const first = parseScrape((await metrics.render()).text);
    for (const outcome of ["ok", "timeout", "unreachable", "error"]) {
      assertStrictEquals(value(first, "workflow_routing_latency_seconds_count", { outcome }), 1, outcome);
    }
    assertStrictEquals(value(first, "workflow_transport_queue_depth"), 3);
    assertStrictEquals(value(first, "workflow_transport_dropped_total"), 2);
    assertStrictEquals(value(first, "workflow_commit_group_refused_total"), 1);
    stats = { ...stats, queued: 0, dropped: 5 };
    const second = parseScrape((await metrics.render()).text);
    assertStrictEquals(value(second, "workflow_transport_queue_depth"), 0);
    assertStrictEquals(value(second, "workflow_transport_dropped_total"), 5);
    // Cluster events of unknown types are counted as `other` (bounded labels).
    metrics.clusterEvent("something_new");
    const third = parseScrape((await metrics.render()).text);
    assertStrictEquals(value(third, "workflow_cluster_events_total", { type: "other" }), 1);
  } finally {
    metrics.close();
  }
});

Deno.test("metrics: the event-loop lag is measured from a periodic timer's drift", async () => {
  const metrics = new Metrics({ lagIntervalMs: 20 });
  try {
    assertStrictEquals(metrics.eventLoopLagMs, null);
    await new Promise((r) => setTimeout(r, 30));
    const busyUntil = performance.now() + 120;
    while (performance.now() < busyUntil) { /* block the loop */ }
    await new Promise((r) => setTimeout(r, 5));
    const lag = metrics.eventLoopLagMs;
    assert(lag !== null && lag >= 50, `lag ${lag}`);
    const s = parseScrape((await metrics.render()).text);
    assert(value(s, "process_event_loop_lag_seconds") >= 0.05);
  } finally {
    metrics.close();
  }
});
