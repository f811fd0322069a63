/**
 * Steering executions over real HTTP: pause and resume (no node starts while paused, running attempts
 * finish and are kept, timers that came due fire on resume), retry of a failed run (completed nodes not run
 * again), rerun from a node with a new input, migrate to a newer version (and its refusal), every error
 * code with its status and path, the roles the routes need, the audit log, and PostgreSQL cases that
 * restart the node in between (the state replayed from storage, a migrated one from its start version).
 */
import { shardOf } from "../../core/ids.ts";
import { assert, assertEquals } from "../../testing/assert.ts";
import { freePort } from "../../testing/net.ts";
import { pgTest, withTempDatabase } from "../../testing/pg.ts";
import { request } from "../../testing/http.ts";
import {
  assertApiError,
  chain,
  createWorkflow,
  execute,
  getJson,
  n,
  nodeOutput,
  postJson,
  putJson,
  runWorkflow,
  startTarget,
  type Target,
  viewNode,
  waitForExecution,
  withNode,
  withNodeCalling,
} from "../../testing/server.ts";
import { sleep, waitUntil } from "../../testing/wait.ts";
import { type RunningNode, startNode } from "../start.ts";

// deno-lint-ignore no-explicit-any
type Event = { v: number; seq: number; at: number; type: string; [k: string]: any };

async function eventsOf(node: { url: string }, executionId: string): Promise<Event[]> {
  const r = await getJson(node, `/api/v1/executions/${executionId}/events`);
  assertEquals(r.status, 200, r.text);
  return r.body.events;
}

/** POST /api/v1/executions/{id}/{action}. */
function steer(
  node: { url: string },
  id: string,
  action: string,
  body?: unknown,
  headers?: Record<string, string>,
) {
  return postJson(node, `/api/v1/executions/${encodeURIComponent(id)}/${action}`, body, headers);
}

/** Starts an execution without waiting; returns its id. */
async function start(node: { url: string }, workflowId: string, input?: unknown): Promise<string> {
  const r = await execute(node, workflowId, { wait: 0, input });
  assertEquals(r.status, 202, r.text);
  return r.body.executionId;
}

/** `src → d (delay ms) → out`. */
const delayed = (id: string, ms: number) =>
  chain(
    id,
    n("src", "source/memory.collection", { data: [7] }),
    n("d", "control/delay", { durationMs: ms }),
    n("out", "sink/memory.collect"),
  );

/** `src → w (waits for signal "go") → out`: runs until signalled. */
const waiting = (id: string) =>
  chain(
    id,
    n("src", "source/memory.collection", { data: [1] }),
    n("w", "control/signal.wait", { name: "go" }),
    n("out", "sink/memory.collect"),
  );

/** How many requests `target` saw for `path`. */
const calls = (target: Target, path: string) => target.seen.filter((s) => s.path === path).length;

/** A target: `/b` fails (500) while `failing.b` holds; every other path answers `{path}`. */
function flakyTarget(failing: { b: boolean }): Target {
  return startTarget((req) => {
    const path = new URL(req.url).pathname;
    if (path === "/b" && failing.b) return new Response("not yet", { status: 500 });
    return Response.json({ path });
  });
}

/** `src → a (GET /a) → b (GET /b, or `bPath`) → out`, no node retries. */
const twoCalls = (id: string, target: Target, bPath = "/b") =>
  chain(
    id,
    n("src", "source/memory.collection", { data: [1] }),
    n("a", "control/http", { url: `${target.url}/a` }, { retry: { maxAttempts: 1 } }),
    n("b", "control/http", { url: `${target.url}${bPath}` }, { retry: { maxAttempts: 1 } }),
    n("out", "sink/memory.collect"),
  );

// ---- pause and resume

Deno.test("pause/resume: nothing starts while paused, a delay due meanwhile fires on resume and the run completes", async () => {
  await withNode(async (node) => {
    await createWorkflow(node, delayed("wf-pause", 150));
    const id = await start(node, "wf-pause");
    const paused = await steer(node, id, "pause", { reason: "look first" });
    assertEquals(paused.status, 200, paused.text);
    assertEquals([paused.body.executionId, paused.body.status], [id, "paused"]);

    // Well past the delay's due time: the downstream node has not started, the delay did not fire.
    const events = await eventsOf(node, id);
    const dStarted = events.find((x) => x.type === "NodeStarted" && x.nodeId === "d");
    assert(dStarted !== undefined, "the delay started before the pause (inside the first append)");
    await sleep(Math.max(0, dStarted.wakeAt - Date.now()) + 250);
    const view = (await getJson(node, `/api/v1/executions/${id}`)).body;
    assertEquals(view.status, "paused");
    assertEquals([viewNode(view, "d").status, viewNode(view, "out").status], ["running", "pending"]);
    const whilePaused = await eventsOf(node, id);
    assertEquals(whilePaused.filter((x) => x.type === "TimerFired"), [], "no timer fired while paused");
    assertEquals(whilePaused.find((x) => x.type === "ExecutionPaused")?.reason, "look first");

    const resumed = await steer(node, id, "resume");
    assertEquals(resumed.status, 200, resumed.text);
    assert(resumed.body.status !== "paused", resumed.text);
    const done = await waitForExecution(node, id, (v) => v.status === "completed");
    assertEquals(viewNode(done, "out").status, "completed");
    assertEquals(await nodeOutput(node, id, "out"), [7]);
    const after = await eventsOf(node, id);
    const resumedAt = after.findIndex((x) => x.type === "ExecutionResumed");
    const firedAt = after.findIndex((x) => x.type === "TimerFired" && x.timerId === "delay:d:1");
    assert(resumedAt > 0 && firedAt > resumedAt, "the overdue delay fired after the resume");
    const outStarted = after.findIndex((x) => x.type === "NodeStarted" && x.nodeId === "out");
    assert(outStarted > resumedAt, "out started only after the resume");
  });
});

Deno.test("pause: a running http attempt finishes and is kept; the next node waits for resume", async () => {
  let release!: () => void;
  const released = new Promise<void>((r) => release = r);
  const target = startTarget(async () => {
    await released;
    return Response.json({ held: true });
  });
  try {
    await withNodeCalling(target, async (node) => {
      await createWorkflow(
        node,
        chain(
          "wf-pause-http",
          n("src", "source/memory.collection", { data: [1] }),
          n("h", "control/http", { url: `${target.url}/hold` }, { retry: { maxAttempts: 1 } }),
          n("out", "sink/memory.collect"),
        ),
      );
      const id = await start(node, "wf-pause-http");
      await waitUntil("the call reached the target", () => target.seen.length === 1);
      const paused = await steer(node, id, "pause");
      assertEquals([paused.status, paused.body.status], [200, "paused"], paused.text);
      assertEquals(viewNode(paused.body, "h").status, "running");

      release();
      const finished = await waitForExecution(node, id, (v) => viewNode(v, "h").status === "completed");
      assertEquals(finished.status, "paused");
      assertEquals((await nodeOutput(node, id, "h"))[0].body, { held: true }, "its result is kept");
      await sleep(200);
      const still = (await getJson(node, `/api/v1/executions/${id}`)).body;
      assertEquals([still.status, viewNode(still, "out").status], ["paused", "pending"]);
      const before = await eventsOf(node, id);
      assert(!before.some((x) => x.type === "NodeStarted" && x.nodeId === "out"), "out did not start");
      // A paused run's index row says running: it is live (GET .../executions filters by the index).
      const listed = await getJson(node, "/api/v1/workflows/wf-pause-http/executions?status=running");
      assertEquals(listed.body.map((x: { executionId: string }) => x.executionId), [id]);

      assertEquals((await steer(node, id, "resume")).status, 200);
      await waitForExecution(node, id, (v) => v.status === "completed");
      assertEquals((await nodeOutput(node, id, "out"))[0].body, { held: true });
      assertEquals(target.seen.length, 1, "the call ran once");
    });
  } finally {
    release();
    await target.close();
  }
});

Deno.test("pause: cancel works on a paused run; pause and resume answer their 409s", async () => {
  await withNode(async (node) => {
    await createWorkflow(node, waiting("wf-wait"));
    const id = await start(node, "wf-wait");
    assertApiError(await steer(node, id, "resume"), 409, "not_paused");
    assertEquals((await steer(node, id, "pause")).status, 200);
    assertApiError(await steer(node, id, "pause"), 409, "already_paused");
    assertApiError(await steer(node, id, "retry"), 409, "execution_running");
    assertApiError(await steer(node, id, "rerun", { fromNode: "w" }), 409, "execution_running");
    const cancelled = await postJson(node, `/api/v1/executions/${id}/cancel`, { reason: "enough" });
    assertEquals([cancelled.status, cancelled.body.status], [200, "cancelled"], cancelled.text);
    assertApiError(await steer(node, id, "pause"), 409, "execution_terminal");
    assertApiError(await steer(node, id, "resume"), 409, "execution_terminal");
    assertApiError(await steer(node, id, "migrate", { version: 1 }), 409, "execution_terminal");
  });
});

// ---- retry and rerun

Deno.test("retry: a failed run completes; completed nodes are not run again and keep their outputs", async () => {
  const failing = { b: true };
  const target = flakyTarget(failing);
  try {
    await withNodeCalling(target, async (node) => {
      const failed = await runWorkflow(node, twoCalls("wf-retry", target), "failed");
      const id = failed.body.executionId;
      assertEquals([failed.body.error.code, failed.body.error.nodeId], ["http_status", "b"]);
      assertEquals([calls(target, "/a"), calls(target, "/b")], [1, 1]);
      const aOutput = await nodeOutput(node, id, "a");
      assertApiError(await steer(node, id, "resume"), 409, "execution_terminal");

      failing.b = false;
      const retried = await steer(node, id, "retry");
      assertEquals(retried.status, 200, retried.text);
      assertEquals(retried.body.executionId, id);
      assert(["running", "completed"].includes(retried.body.status), retried.text);
      assertEquals(retried.body.reopened, 1);
      const done = await waitForExecution(node, id, (v) => v.status === "completed");
      assertEquals(done.error, null);
      assertEquals([calls(target, "/a"), calls(target, "/b")], [1, 2], "a ran once, b twice");
      assertEquals(
        ["src", "a", "b", "out"].map((x) => [viewNode(done, x).status, viewNode(done, x).attempts]),
        // out never started in the failed run (cancelled at its end): its first attempt is the retry's.
        [["completed", 1], ["completed", 1], ["completed", 2], ["completed", 1]],
      );
      assertEquals(await nodeOutput(node, id, "a"), aOutput, "a's output is kept");
      assertEquals((await nodeOutput(node, id, "out"))[0].body, { path: "/b" });

      const events = await eventsOf(node, id);
      const failedAt = events.findIndex((x) => x.type === "NodeFailed" && x.nodeId === "b");
      const reopenedAt = events.findIndex((x) => x.type === "ExecutionReopened");
      assert(failedAt > 0 && reopenedAt > failedAt, "the earlier attempt is in the history");
      assertEquals([events[reopenedAt].mode, events[reopenedAt].nodes], ["retry", ["b", "out"]]);
      assertEquals(
        events.filter((x) => x.type === "NodeStarted" && x.nodeId === "b").map((x) => x.attempt),
        [1, 2],
      );
      assertEquals(events.filter((x) => x.type === "ExecutionFailed").length, 1);
      assertEquals(events.at(-1)!.type, "ExecutionSucceeded");
      // The index is back: completed.
      const listed = await getJson(node, "/api/v1/workflows/wf-retry/executions");
      assertEquals(listed.body.map((x: { status: string }) => x.status), ["completed"]);

      assertApiError(await steer(node, id, "retry"), 409, "execution_not_failed");
    });
  } finally {
    await target.close();
  }
});

Deno.test("rerun: from a middle node with a new input, that node and downstream run again, upstream not", async () => {
  const target = flakyTarget({ b: false });
  try {
    await withNodeCalling(target, async (node) => {
      // b's URL holds the execution's input: a rerun with a new input calls another path.
      const def = twoCalls("wf-rerun", target, "/b/{{input.n}}");
      const first = await runWorkflow(node, def, "completed", { input: { n: 1 } });
      const id = first.body.executionId;
      const aOutput = await nodeOutput(node, id, "a");
      assertEquals([calls(target, "/a"), calls(target, "/b/1")], [1, 1]);

      const rerun = await steer(node, id, "rerun", { fromNode: "b", input: { n: 2 } });
      assertEquals(rerun.status, 200, rerun.text);
      const done = await waitForExecution(node, id, (v) => v.status === "completed");
      assertEquals([calls(target, "/a"), calls(target, "/b/1"), calls(target, "/b/2")], [1, 1, 1]);
      assertEquals((await nodeOutput(node, id, "out"))[0].body, { path: "/b/2" }, "the new input was used");
      assertEquals(
        ["src", "a", "b", "out"].map((x) => viewNode(done, x).attempts),
        [1, 1, 2, 2],
      );
      assertEquals(await nodeOutput(node, id, "a"), aOutput);
      const events = await eventsOf(node, id);
      const reopened = events.filter((x) => x.type === "ExecutionReopened");
      assertEquals(reopened.length, 1);
      assertEquals(
        [reopened[0].mode, reopened[0].fromNode, reopened[0].nodes, reopened[0].input],
        ["rerun", "b", ["b", "out"], { n: 2 }],
      );
      assertEquals(
        events.filter((x) => x.type === "ExecutionSucceeded").length,
        2,
        "both runs are in the history",
      );

      // From the root: everything runs again.
      assertEquals((await steer(node, id, "rerun", { fromNode: "src" })).status, 200);
      const again = await waitForExecution(node, id, (v) => v.status === "completed" && v.reopened === 2);
      assertEquals(viewNode(again, "a").attempts, 2);
      assertEquals([calls(target, "/a"), calls(target, "/b/2")], [2, 2], "the rerun's input stays");
    });
  } finally {
    await target.close();
  }
});

// ---- migrate

Deno.test("migrate: a paused run moves to v2, which adds a node after the completed ones, and completes with it", async () => {
  await withNode(async (node) => {
    await createWorkflow(node, delayed("wf-migrate", 100));
    const id = await start(node, "wf-migrate");
    assertEquals((await steer(node, id, "pause")).status, 200);
    const v2 = delayed("wf-migrate", 100);
    v2.nodes.push(n("extra", "sink/memory.collect"));
    v2.edges.push({ source: "d", target: "extra" });
    const put = await putJson(node, "/api/v1/workflows/wf-migrate", v2);
    assertEquals([put.status, put.body.version], [200, 2], put.text);

    assertApiError(await steer(node, id, "migrate", { version: 3 }), 404, "version_not_found");
    const same = await steer(node, id, "migrate", { version: 1 });
    assertApiError(same, 409, "migration_refused");
    assertEquals(same.body.error.details.map((d: { code: string }) => d.code), ["version_not_newer"]);

    const moved = await steer(node, id, "migrate", { version: 2 });
    assertEquals(moved.status, 200, moved.text);
    assertEquals([moved.body.version, moved.body.status], [2, "paused"]);
    assertEquals(viewNode(moved.body, "extra").status, "pending");
    // The index follows the version.
    const listed = await getJson(node, "/api/v1/workflows/wf-migrate/executions");
    assertEquals(listed.body.map((x: { version: number }) => x.version), [2]);

    assertEquals((await steer(node, id, "resume")).status, 200);
    const done = await waitForExecution(node, id, (v) => v.status === "completed");
    assertEquals([done.version, viewNode(done, "extra").status], [2, "completed"]);
    assertEquals(await nodeOutput(node, id, "extra"), [7]);
    const migrated = (await eventsOf(node, id)).find((x) => x.type === "ExecutionMigrated")!;
    assertEquals([migrated.fromVersion, migrated.toVersion], [1, 2]);
  });
});

Deno.test("migrate: refused (409 migration_refused, with details) when a completed node was removed", async () => {
  await withNode(async (node) => {
    const v1 = chain(
      "wf-migrate-refused",
      n("src", "source/memory.collection", { data: [1] }),
      n("mid", "transform/map", { expression: "value" }),
      n("w", "control/signal.wait", { name: "go" }),
      n("out", "sink/memory.collect"),
    );
    await createWorkflow(node, v1);
    const id = await start(node, "wf-migrate-refused");
    await waitForExecution(node, id, (v) => viewNode(v, "mid").status === "completed");
    const v2 = chain(
      "wf-migrate-refused",
      n("src", "source/memory.collection", { data: [1] }),
      n("w", "control/signal.wait", { name: "go" }),
      n("out", "sink/memory.collect"),
    );
    assertEquals((await putJson(node, "/api/v1/workflows/wf-migrate-refused", v2)).status, 200);
    const refused = await steer(node, id, "migrate", { version: 2 });
    assertApiError(refused, 409, "migration_refused");
    assertEquals(refused.body.error.details.map((d: { path: string; code: string }) => [d.path, d.code]), [
      ["$.nodes.mid", "node_removed"],
    ]);
    assert(refused.body.error.details[0].message.includes("mid"), refused.text);
    const view = (await getJson(node, `/api/v1/executions/${id}`)).body;
    assertEquals([view.version, view.status], [1, "running"], "nothing changed");
  });
});

// ---- errors

Deno.test("steering errors: bodies checked with paths; unknown executions and nodes are 404", async () => {
  await withNode(async (node) => {
    for (const action of ["pause", "resume", "retry", "migrate"]) {
      const body = action === "migrate" ? { version: 2 } : {};
      assertApiError(await steer(node, "ex-missing", action, body), 404, "execution_not_found");
    }
    assertApiError(await steer(node, "ex-missing", "rerun", { fromNode: "a" }), 404, "execution_not_found");

    const pathsOf = (r: { body: { error: { details: { path: string }[] } } }) =>
      r.body.error.details.map((d) => d.path);
    const bad: [string, unknown, string[]][] = [
      ["rerun", {}, ["$.fromNode"]],
      ["rerun", { fromNode: 5 }, ["$.fromNode"]],
      ["rerun", { fromNode: "" }, ["$.fromNode"]],
      ["rerun", { fromNode: "a", inputs: 1 }, ["$.inputs"]],
      ["pause", { reason: 5 }, ["$.reason"]],
      ["pause", { reason: "x".repeat(1001) }, ["$.reason"]],
      ["pause", { why: "x" }, ["$.why"]],
      ["resume", { now: true }, ["$.now"]],
      ["retry", { "odd key": 1 }, ['$["odd key"]']],
      ["migrate", {}, ["$.version"]],
      ["migrate", { version: "2" }, ["$.version"]],
      ["migrate", { version: 0 }, ["$.version"]],
      ["migrate", { version: 2, force: true }, ["$.force"]],
      ["pause", [], ["$"]],
    ];
    for (const [action, body, paths] of bad) {
      const r = await steer(node, "ex-any", action, body);
      assertApiError(r, 400, "validation_failed");
      assertEquals(pathsOf(r), paths, `${action} ${JSON.stringify(body)}`);
    }
    const malformed = await request(node, "POST", "/api/v1/executions/ex-any/pause", {
      raw: "{",
      headers: { "content-type": "application/json" },
    });
    assertApiError(malformed, 400, "malformed_json");

    const done = await runWorkflow(
      node,
      chain("wf-done", n("src", "source/memory.collection", { data: [1] })),
    );
    const id = done.body.executionId;
    const unknown = await steer(node, id, "rerun", { fromNode: "nope" });
    assertApiError(unknown, 404, "node_unknown");
    assertEquals(pathsOf(unknown), ["$.fromNode"]);
    assertApiError(await steer(node, id, "retry"), 409, "execution_not_failed");
  });
});

// ---- roles and the audit log

const ADMIN = "admin-token-for-steering-tests-0123456789";
const OPERATOR = "operator-token-for-steering-tests-0123456789";
const VIEWER = "viewer-token-for-steering-tests-0123456789";

Deno.test("steering needs the operator role; every call is in the audit log", async () => {
  const node = await startNode({
    port: 0,
    host: "127.0.0.1",
    storage: "memory",
    logLevel: "error",
    apiTokens: [
      { role: "admin", token: ADMIN },
      { role: "operator", token: OPERATOR },
      { role: "viewer", token: VIEWER },
    ],
  });
  const as = (token: string) => ({ authorization: `Bearer ${token}` });
  try {
    assertEquals((await postJson(node, "/api/v1/workflows", waiting("wf-auth"), as(ADMIN))).status, 201);
    const started = await postJson(node, "/api/v1/workflows/wf-auth/execute", {}, as(OPERATOR));
    assertEquals(started.status, 202, started.text);
    const id = started.body.executionId;
    for (const action of ["pause", "resume", "retry", "rerun", "migrate"]) {
      assertApiError(await steer(node, id, action, {}), 401, "unauthenticated");
      assertApiError(await steer(node, id, action, {}, as(VIEWER)), 403, "forbidden");
    }
    const paused = await steer(node, id, "pause", {}, as(OPERATOR));
    assertEquals([paused.status, paused.body.status], [200, "paused"], paused.text);
    assertEquals((await steer(node, id, "resume", {}, as(ADMIN))).status, 200);

    let events: { route: string; status: number; outcome: string; role: string | null }[] = [];
    await waitUntil("the steering calls are audited", async () => {
      const r = await getJson(node, "/api/v1/audit?limit=1000", as(ADMIN));
      assertEquals(r.status, 200, r.text);
      events = r.body.events;
      return events.some((e) => e.route.endsWith("/resume") && e.status === 200);
    });
    const steering = events.filter((e) => /\/(pause|resume|retry|rerun|migrate)$/.test(e.route));
    const seen = steering.map((e) => `${e.route.split("/").at(-1)} ${e.status} ${e.outcome} ${e.role}`);
    assert(seen.includes("pause 200 ok operator"), seen.join("\n"));
    assert(seen.includes("resume 200 ok admin"), seen.join("\n"));
    for (const action of ["pause", "resume", "retry", "rerun", "migrate"]) {
      assert(seen.includes(`${action} 403 denied viewer`), `${action}: ${seen.join("\n")}`);
    }
    assertEquals(
      steering.find((e) => e.route.endsWith("/pause"))?.route,
      "/api/v1/executions/:executionId/pause",
    );
  } finally {
    await node.close();
  }
});

// ---- PostgreSQL: the state comes back from storage

/** A standalone node on PostgreSQL `databaseUrl`, allowed to call `target`. */
function pgNode(databaseUrl: string, target?: Target): Promise<RunningNode> {
  return startNode({
    port: 0,
    host: "127.0.0.1",
    storage: "postgres",
    databaseUrl,
    logLevel: "error",
    ...(target && { httpAllow: [new URL(target.url).host] }),
  });
}

pgTest(
  "retry on PostgreSQL: a failed run retried after a restart completes without rerunning a",
  async () => {
    const failing = { b: true };
    const target = flakyTarget(failing);
    try {
      await withTempDatabase(async (url) => {
        let node = await pgNode(url, target);
        let id: string;
        try {
          const failed = await runWorkflow(node, twoCalls("wf-pg-retry", target), "failed");
          id = failed.body.executionId;
        } finally {
          await node.close();
        }
        // A new process: the ended run is nowhere in memory; the retry loads it from storage.
        failing.b = false;
        node = await pgNode(url, target);
        try {
          const retried = await steer(node, id, "retry");
          assertEquals(retried.status, 200, retried.text);
          const done = await waitForExecution(node, id, (v) => v.status === "completed");
          assertEquals([calls(target, "/a"), calls(target, "/b")], [1, 2]);
          assertEquals(
            ["a", "b", "out"].map((x) => viewNode(done, x).attempts),
            [1, 2, 1],
          );
          assertEquals((await nodeOutput(node, id, "out"))[0].body, { path: "/b" });
          const listed = await getJson(node, "/api/v1/workflows/wf-pg-retry/executions");
          assertEquals(listed.body.map((x: { status: string }) => x.status), ["completed"]);
          assertApiError(await steer(node, id, "retry"), 409, "execution_not_failed");
        } finally {
          await node.close();
        }
      });
    } finally {
      await target.close();
    }
  },
);

pgTest(
  "migrate on PostgreSQL: a migrated paused run is recovered after a restart and completes on v2",
  async () => {
    await withTempDatabase(async (url) => {
      const v2 = delayed("wf-pg-migrate", 100);
      v2.nodes.push(n("extra", "sink/memory.collect"));
      v2.edges.push({ source: "d", target: "extra" });
      let node = await pgNode(url);
      let id: string;
      try {
        await createWorkflow(node, delayed("wf-pg-migrate", 100));
        id = await start(node, "wf-pg-migrate");
        assertEquals((await steer(node, id, "pause")).status, 200);
        assertEquals((await putJson(node, "/api/v1/workflows/wf-pg-migrate", v2)).status, 200);
        const moved = await steer(node, id, "migrate", { version: 2 });
        assertEquals([moved.status, moved.body.version], [200, 2], moved.text);
        const listed = await getJson(node, "/api/v1/workflows/wf-pg-migrate/executions");
        assertEquals(listed.body.map((x: { version: number }) => x.version), [2], "the index says v2");
      } finally {
        await node.close();
      }
      // Recovered from storage: replayed from v1 (its start), then migrated to v2; still paused.
      node = await pgNode(url);
      try {
        const recovered = (await getJson(node, `/api/v1/executions/${id}`)).body;
        assertEquals([recovered.version, recovered.status], [2, "paused"]);
        assertEquals(viewNode(recovered, "extra").status, "pending");
        assertEquals((await steer(node, id, "resume")).status, 200);
        await waitForExecution(node, id, (v) => v.status === "completed");
      } finally {
        await node.close();
      }
      // Ended and read from storage alone.
      node = await pgNode(url);
      try {
        const done = (await getJson(node, `/api/v1/executions/${id}`)).body;
        assertEquals([done.version, done.status, viewNode(done, "extra").status], [
          2,
          "completed",
          "completed",
        ]);
        assertEquals(await nodeOutput(node, id, "extra"), [7]);
      } finally {
        await node.close();
      }
    });
  },
);

// ---- a cluster: any member steers, the owner of the shard acts

/** Member `id` of a two-member cluster on `databaseUrl`. */
function member(id: string, databaseUrl: string, target: Target): Promise<RunningNode> {
  return startNode({
    port: 0,
    host: "127.0.0.1",
    storage: "postgres",
    databaseUrl,
    nodeId: id,
    clusterPort: freePort(),
    clusterSecret: "steering-test-cluster-secret",
    shards: 8,
    logLevel: "error",
    httpAllow: [new URL(target.url).host],
  });
}

pgTest(
  "cluster: pause, resume, migrate, retry and rerun sent to the member that does not own the run are forwarded",
  async () => {
    const failing = { b: true };
    const target = flakyTarget(failing);
    try {
      await withTempDatabase(async (url) => {
        const a = await member("a", url, target);
        let b: RunningNode | undefined;
        try {
          b = await member("b", url, target);
          const members = [a, b];
          await waitUntil(
            "both members own shards",
            () => a.engine.ownedShards.size > 0 && b!.engine.ownedShards.size > 0,
            15_000,
            50,
          );
          await createWorkflow(a, waiting("wf-cl-wait"));
          await createWorkflow(a, twoCalls("wf-cl-retry", target));
          /** The member that does not own execution `id`'s shard. */
          const other = (id: string) => {
            const shard = shardOf(id, 8);
            const owner = members.find((m) => m.engine.ownedShards.has(shard));
            assert(owner !== undefined, `shard ${shard} has an owner`);
            return owner === a ? b! : a;
          };

          const waitingId = await start(a, "wf-cl-wait");
          const paused = await steer(other(waitingId), waitingId, "pause");
          assertEquals([paused.status, paused.body.status], [200, "paused"], paused.text);
          const resumed = await steer(other(waitingId), waitingId, "resume");
          assertEquals([resumed.status, resumed.body.status], [200, "running"], resumed.text);
          const v2 = waiting("wf-cl-wait");
          v2.nodes.push(n("extra", "sink/memory.collect"));
          v2.edges.push({ source: "w", target: "extra" });
          assertEquals((await putJson(a, "/api/v1/workflows/wf-cl-wait", v2)).status, 200);
          const moved = await steer(other(waitingId), waitingId, "migrate", { version: 2 });
          assertEquals([moved.status, moved.body.version], [200, 2], moved.text);
          assertEquals(viewNode(moved.body, "extra").status, "pending");

          const failed = await execute(a, "wf-cl-retry");
          assertEquals([failed.status, failed.body.status], [200, "failed"], failed.text);
          const id = failed.body.executionId;
          failing.b = false;
          const retried = await steer(other(id), id, "retry");
          assertEquals(retried.status, 200, retried.text);
          await waitForExecution(other(id), id, (v) => v.status === "completed", 10_000);
          assertEquals([calls(target, "/a"), calls(target, "/b")], [1, 2]);
          const rerun = await steer(other(id), id, "rerun", { fromNode: "b" });
          assertEquals([rerun.status, rerun.body.reopened], [200, 2], rerun.text);
          await waitForExecution(
            other(id),
            id,
            (v) => v.status === "completed" && viewNode(v, "b").attempts === 3,
            10_000,
          );
          assertEquals([calls(target, "/a"), calls(target, "/b")], [1, 3], "a is not run again");
        } finally {
          await b?.close();
          await a.close();
        }
      });
    } finally {
      await target.close();
    }
  },
);
