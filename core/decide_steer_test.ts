/**
 * The steering commands (Pause, Resume, Retry, Rerun, Migrate, Admit), `terminate` nodes and signal payloads,
 * command by command.
 */
import { assert, assertEquals, assertStrictEquals } from "../testing/assert.ts";
import type { Command } from "./decide.ts";
import { downstreamOf, migrationProblems } from "./decide_steer.ts";
import { EVENT_VERSION } from "./events.ts";
import { evolve, evolveAll, historyVersions, initialState, replay } from "./state.ts";
import { buildPlan, edge, label, N, Run } from "./testing_plans.ts";
import { pendingTimers, pendingWork } from "./timers.ts";
import { executionView } from "./view.ts";

const START: Command = { type: "Start", input: { n: 1 } };
const PAUSE: Command = { type: "Pause", reason: "look" };
const RESUME: Command = { type: "Resume" };
const RETRY: Command = { type: "Retry" };
const fire = (timerId: string): Command => ({ type: "FireTimer", timerId });

/** seq 1..n, `at` non-decreasing, schema version; replay (with every version's plan) equals the state. */
function checkHistory(run: Run): void {
  run.events.forEach((e, i) => {
    assertStrictEquals(e.seq, i + 1);
    assertStrictEquals(e.v, EVENT_VERSION);
    if (i > 0) assert(e.at >= run.events[i - 1].at, `at goes back at seq ${e.seq}`);
  });
  assertEquals(replay(run.executionId, run.plan, run.events, run.planOf), run.state);
}

const chain = () => buildPlan([N.src("a"), N.map("b"), N.sink("c")], [edge("a", "b"), edge("b", "c")]);

// ---- pause and resume

Deno.test("Pause: no node starts while paused; results of running attempts are kept; Resume starts them", () => {
  const run = new Run(chain());
  run.ok(START);
  assertEquals(run.labels(PAUSE, 1100), ["ExecutionPaused"]);
  assertStrictEquals(run.state.paused, true);
  assertStrictEquals(executionView(run.state).status, "paused");
  assertStrictEquals(run.rejected(PAUSE).code, "already_paused");

  // a was running: its result is recorded, b is scheduled but does not start.
  assertEquals(run.labels(run.complete("a"), 1200), ["NodeSucceeded(a)", "NodeScheduled(b)"]);
  assertEquals(pendingWork(run.state).toStart, []);
  assertEquals(run.ok({ type: "StartNode", nodeId: "b" }), [], "StartNode does nothing while paused");
  assertStrictEquals(run.state.nodes.b.status, "scheduled");

  assertEquals(run.labels(RESUME, 1300), ["ExecutionResumed", "NodeStarted(b)"]);
  assertStrictEquals(run.state.paused, false);
  assertStrictEquals(executionView(run.state).status, "running");
  assertStrictEquals(run.rejected(RESUME).code, "not_paused");
  run.ok(run.complete("b"), 1400);
  run.ok(run.complete("c"), 1500);
  assertStrictEquals(run.state.status, "completed");
  assertStrictEquals(run.rejected(PAUSE).code, "execution_terminal");
  assertStrictEquals(run.rejected(RESUME).code, "execution_terminal");
  checkHistory(run);
});

Deno.test("Pause: Signal and Cancel still work while paused", () => {
  const run = new Run(
    buildPlan([N.src("a"), N.wait("w", "go"), N.sink("k")], [edge("a", "w"), edge("w", "k")]),
  );
  run.ok(START);
  run.ok(run.complete("a"), 1100);
  assertStrictEquals(run.state.nodes.w.status, "running");
  run.ok(PAUSE, 1200);
  assertEquals(run.labels({ type: "Signal", name: "go", payload: null }, 1300), [
    "SignalReceived",
    "NodeSucceeded(w)",
    "NodeScheduled(k)",
  ]);
  assertEquals(run.labels({ type: "Cancel", reason: "enough" }, 1400), ["ExecutionCancelled"]);
  assertStrictEquals(run.state.status, "cancelled");
  assertStrictEquals(executionView(run.state).status, "cancelled", "a cancelled run is not shown paused");
  checkHistory(run);
});

Deno.test("Pause: only the execution timeout is pending; a delay due meanwhile fires on Resume", () => {
  const run = new Run(
    buildPlan([N.src("a"), N.delay("d", 500), N.sink("k")], [edge("a", "d"), edge("d", "k")], {
      timeoutMs: 60_000,
    }),
  );
  run.ok(START);
  run.ok(run.complete("a"), 1100);
  const before = pendingTimers(run.state);
  assertEquals(before.map((t) => t.id), ["delay:d:1", "execution-timeout"]);
  run.ok(PAUSE, 1200);
  assertEquals(pendingTimers(run.state), [
    { id: "execution-timeout", kind: "execution-timeout", dueAt: 61_000 },
  ]);
  assertEquals(run.ok(fire("delay:d:1"), 5000), [], "the delay does not fire while paused");
  assertStrictEquals(run.state.nodes.d.status, "running");
  run.ok(RESUME, 6000);
  assertEquals(pendingTimers(run.state), before, "every timer is back, unchanged (past due: fire at once)");
  assertEquals(run.labels(fire("delay:d:1"), 6000), [
    "TimerFired",
    "NodeSucceeded(d)",
    "NodeScheduled(k)",
    "NodeStarted(k)",
  ]);
  run.ok(run.complete("k"), 6100);
  assertStrictEquals(run.state.status, "completed");
  checkHistory(run);
});

Deno.test("Pause: a retry due meanwhile fires on Resume; the execution timeout fires while paused", () => {
  const run = new Run(
    buildPlan([N.src("a"), N.map("m", { retry: { maxAttempts: 3, initialIntervalMs: 100 } })], [
      edge("a", "m"),
    ], {
      timeoutMs: 10_000,
    }),
  );
  run.ok(START);
  run.ok(run.complete("a"), 1100);
  run.ok(run.fail("m", true), 1200);
  assertEquals(pendingTimers(run.state).map((t) => [t.id, t.dueAt]), [["retry:m:2", 1300], [
    "execution-timeout",
    11_000,
  ]]);
  run.ok(PAUSE, 1250);
  assertEquals(run.ok(fire("retry:m:2"), 2000), []);
  run.ok(RESUME, 3000);
  assertEquals(run.labels(fire("retry:m:2"), 3000), ["TimerFired", "NodeScheduled(m)", "NodeStarted(m)"]);
  assertStrictEquals(run.attempt("m"), 2);
  run.ok(PAUSE, 3100);
  assertEquals(run.labels(fire("execution-timeout"), 11_000), ["TimerFired", "ExecutionTimedOut"]);
  assertStrictEquals(run.state.nodes.m.status, "cancelled");
  checkHistory(run);
});

// ---- retry

Deno.test("Retry: failed nodes and what follows run again; completed outputs stay; attempts go on", () => {
  const plan = buildPlan(
    [N.src("a"), N.map("b"), N.sink("c"), N.map("d"), N.sink("e")],
    [edge("a", "b"), edge("b", "c"), edge("a", "d"), edge("d", "e")],
    { timeoutMs: 10_000 },
  );
  const run = new Run(plan);
  run.ok(START);
  run.ok(run.complete("a"), 1100);
  run.ok(run.complete("d"), 1150);
  run.ok(run.complete("e"), 1160);
  assertStrictEquals(run.rejected(RETRY).code, "execution_running");
  run.ok(PAUSE);
  assertStrictEquals(run.rejected(RETRY).code, "execution_running", "a paused run is live");
  run.ok(RESUME);
  run.ok(run.fail("b", false), 1200);
  assertStrictEquals(run.state.status, "failed");
  const kept = { a: run.state.nodes.a, d: run.state.nodes.d, e: run.state.nodes.e };

  const events = run.ok(RETRY, 5000);
  assertEquals(events.map(label), ["ExecutionReopened", "NodeScheduled(b)"]);
  assertEquals(events[0], {
    type: "ExecutionReopened",
    v: EVENT_VERSION,
    seq: events[0].seq,
    at: 5000,
    mode: "retry",
    nodes: ["b", "c"],
    timeoutAt: 15_000,
  });
  assertStrictEquals(run.state.status, "running");
  assertStrictEquals(run.state.error, null);
  assertStrictEquals(run.state.endedAt, null);
  assertStrictEquals(run.state.timeoutAt, 15_000, "as long from now as the first run had");
  for (const [id, ns] of Object.entries(kept)) {
    assertStrictEquals(run.state.nodes[id], ns, `${id} is untouched`);
  }
  assertStrictEquals(run.state.nodes.b.status, "running");
  assertStrictEquals(run.attempt("b"), 2, "attempts go on");
  assertStrictEquals(run.state.nodes.c.status, "pending");
  assertStrictEquals(run.state.nodes.c.attempts, 0);
  run.ok(run.complete("b"), 5100);
  assertStrictEquals(run.state.nodes.b.outputRef, "b@2", "a fresh output ref");
  run.ok(run.complete("c"), 5200);
  assertStrictEquals(run.state.status, "completed");
  assertStrictEquals(executionView(run.state).reopened, 1);
  assertStrictEquals(run.rejected(RETRY).code, "execution_not_failed");
  checkHistory(run);
});

Deno.test("Retry: every reopening gets the original timeout length, not a growing one", () => {
  const run = new Run(chain());
  run.ok({ type: "Start", input: null, timeoutMs: 1000 }); // the override is the original length
  assertStrictEquals(run.state.timeoutAt, 2000);
  for (const at of [5000, 9000, 20_000]) {
    run.ok(run.fail("a", false), at);
    run.ok(RETRY, at + 100);
    assertStrictEquals(run.state.timeoutAt, at + 100 + 1000);
  }
  checkHistory(run);
});

Deno.test("Retry: a cancelled or timed-out run runs its cancelled nodes again", () => {
  const run = new Run(chain());
  run.ok(START);
  run.ok(run.complete("a"), 1100);
  run.ok({ type: "Cancel", reason: "oops" }, 1200);
  assertEquals(run.labels(RETRY, 1300), ["ExecutionReopened", "NodeScheduled(b)", "NodeStarted(b)"]);
  assertStrictEquals(run.state.timeoutAt, null, "no timeout stays no timeout");
  run.ok(run.complete("b"), 1400);
  run.ok(run.complete("c"), 1500);
  assertStrictEquals(run.state.status, "completed");

  const timed = new Run(buildPlan([N.src("a"), N.delay("d", 5000)], [edge("a", "d")], { timeoutMs: 2000 }));
  timed.ok(START);
  timed.ok(timed.complete("a"), 1100);
  timed.ok(fire("execution-timeout"), 3000);
  assertStrictEquals(timed.state.status, "timed_out");
  assertEquals(timed.labels(RETRY, 4000), ["ExecutionReopened", "NodeScheduled(d)", "NodeStarted(d)"]);
  assertStrictEquals(timed.state.timeoutAt, 6000);
  assertEquals(pendingTimers(timed.state).map((t) => t.id), ["execution-timeout", "delay:d:2"]);
  checkHistory(run);
  checkHistory(timed);
});

// ---- rerun

Deno.test("Rerun: the node and its downstream run again, upstream and side branches untouched", () => {
  const plan = buildPlan(
    [N.src("a"), N.map("b"), N.sink("c"), N.map("d"), N.sink("e")],
    [edge("a", "b"), edge("b", "c"), edge("a", "d"), edge("d", "e")],
  );
  const run = new Run(plan);
  run.ok(START);
  const rerun = (fromNode: string, input?: unknown): Command =>
    ({ type: "Rerun", fromNode, ...(input === undefined ? {} : { input }) }) as Command;
  assertStrictEquals(run.rejected(rerun("b")).code, "execution_running");
  for (const id of ["a", "b", "d", "c", "e"]) run.ok(run.complete(id), run.now + 10);
  assertStrictEquals(run.state.status, "completed");

  const unknown = run.rejected(rerun("zz"));
  assertEquals([unknown.code, unknown.path], ["node_unknown", "$.fromNode"]);

  const kept = { a: run.state.nodes.a, d: run.state.nodes.d, e: run.state.nodes.e };
  const events = run.ok(rerun("b", { n: 2 }), 2000);
  assertEquals(events.map(label), ["ExecutionReopened", "NodeScheduled(b)"]);
  assert(events[0].type === "ExecutionReopened");
  assertEquals([events[0].mode, events[0].fromNode, events[0].nodes, events[0].input], ["rerun", "b", [
    "b",
    "c",
  ], { n: 2 }]);
  assertEquals(run.state.input, { n: 2 }, "the new input replaces the old");
  for (const [id, ns] of Object.entries(kept)) {
    assertStrictEquals(run.state.nodes[id], ns, `${id} is untouched`);
  }
  assertStrictEquals(run.attempt("b"), 2);
  run.ok(run.complete("b"), 2100);
  run.ok(run.complete("c"), 2200);
  assertStrictEquals(run.state.status, "completed");
  assertEquals([run.state.nodes.b.outputRef, run.state.nodes.c.outputRef], ["b@2", "c@2"]);

  // A rerun of the source reruns everything; without `input` the input stays.
  run.ok(rerun("a"), 3000);
  assertEquals(run.state.input, { n: 2 });
  assertEquals(Object.values(run.state.nodes).map((n) => n.status), [
    "running",
    "pending",
    "pending",
    "pending",
    "pending",
  ]);
  assertStrictEquals(executionView(run.state).reopened, 2);
  checkHistory(run);
});

Deno.test("Rerun of a failed run also resets its failed and cancelled nodes", () => {
  const plan = buildPlan(
    [N.src("a"), N.map("b"), N.map("d"), N.sink("c")],
    [edge("a", "b"), edge("a", "d"), edge("b", "c")],
  );
  const run = new Run(plan);
  run.ok(START);
  run.ok(run.complete("a"), 1100);
  run.ok(run.fail("b", false), 1200); // d was running: cancelled
  assertEquals([run.state.nodes.d.status, run.state.nodes.c.status], ["cancelled", "cancelled"]);
  const events = run.ok({ type: "Rerun", fromNode: "c" }, 1300);
  assert(events[0].type === "ExecutionReopened");
  assertEquals(events[0].nodes, ["b", "d", "c"], "in plan order");
  assertEquals(downstreamOf(plan, ["b"]), new Set(["b", "c"]));
  checkHistory(run);
});

// ---- terminate

Deno.test("terminate: completed ends the run completed; nodes still running are cancelled", () => {
  const plan = buildPlan(
    [N.src("a"), N.map("m"), N.terminate("t", "completed"), N.sink("k")],
    [edge("a", "m"), edge("a", "t"), edge("m", "k")],
  );
  const run = new Run(plan);
  run.ok(START);
  assertEquals(run.labels(run.complete("a"), 1100), [
    "NodeSucceeded(a)",
    "NodeScheduled(m)",
    "NodeScheduled(t)",
    "NodeStarted(m)",
    "NodeStarted(t)",
    "NodeSucceeded(t)",
    "ExecutionTerminated(t)",
  ]);
  const ended = run.events.at(-1);
  assertEquals(ended, {
    type: "ExecutionTerminated",
    v: EVENT_VERSION,
    seq: ended!.seq,
    at: 1100,
    nodeId: "t",
    status: "completed",
    reason: "stop here",
  });
  assertStrictEquals(run.state.status, "completed");
  assertStrictEquals(run.state.error, null);
  assertEquals([run.state.nodes.m.status, run.state.nodes.k.status], ["cancelled", "cancelled"]);
  assertEquals(pendingWork(run.state), { toStart: [], toRun: [], toExpand: [], toCollect: [] });
  assertEquals(run.ok(run.complete("m"), 1200), [], "a late result is ignored");
  assertStrictEquals(run.rejected(RETRY).code, "execution_not_failed");
  checkHistory(run);
});

Deno.test("terminate: failed ends the run failed with code terminated and the reason", () => {
  const plan = buildPlan(
    [N.src("a"), N.map("m"), N.terminate("t", "failed", "bad input")],
    [edge("a", "m"), edge("a", "t")],
  );
  const run = new Run(plan);
  run.ok(START);
  run.ok(run.complete("a"), 1100);
  assertStrictEquals(run.state.status, "failed");
  assertEquals(run.state.error, { code: "terminated", message: "bad input", nodeId: "t" });
  assertEquals(executionView(run.state).error, run.state.error);
  assertStrictEquals(run.state.nodes.m.status, "cancelled");
  assertStrictEquals(run.state.nodes.t.status, "completed");
  checkHistory(run);
});

Deno.test("terminate: a retried terminated run terminates again (it does not complete by itself)", () => {
  // The terminate node is the last to run: no node is failed or cancelled.
  const run = new Run(buildPlan([N.src("a"), N.terminate("t", "failed", "no")], [edge("a", "t")]));
  run.ok(START);
  run.ok(run.complete("a"), 1100);
  assertStrictEquals(run.state.status, "failed");
  run.ok(RETRY, 1200);
  assertStrictEquals(run.state.status, "failed");
  assertEquals(run.state.error, { code: "terminated", message: "no", nodeId: "t" });
  assertStrictEquals(run.attempt("t"), 2);
  checkHistory(run);
});

// ---- migrate

const v1 = () => buildPlan([N.src("a"), N.map("b"), N.sink("c")], [edge("a", "b"), edge("b", "c")]);

Deno.test("Migrate: a new node downstream of a completed node is scheduled; replay needs every plan", () => {
  const run = new Run(v1());
  run.ok(START);
  run.ok(run.complete("a"), 1100);
  const v2 = buildPlan(
    [N.src("a"), N.map("b"), N.sink("c"), N.map("x"), N.sink("y")],
    [edge("a", "b"), edge("b", "c"), edge("a", "x"), edge("x", "y")],
    { version: 2 },
  );
  const b = run.state.nodes.b;
  assertEquals(run.labels({ type: "Migrate", plan: v2 }, 1200), [
    "ExecutionMigrated",
    "NodeScheduled(x)",
    "NodeStarted(x)",
  ]);
  const migrated = run.events.find((e) => e.type === "ExecutionMigrated");
  assert(migrated?.type === "ExecutionMigrated");
  assertEquals([migrated.fromVersion, migrated.toVersion], [1, 2]);
  assertStrictEquals(run.state.plan, v2);
  assertStrictEquals(run.state.nodes.b, b, "a kept node keeps its state");
  assertStrictEquals(executionView(run.state).version, 2);
  for (const id of ["b", "x", "c", "y"]) run.ok(run.complete(id), run.now + 10);
  assertStrictEquals(run.state.status, "completed");

  assertEquals(historyVersions(run.events), [1, 2]);
  checkHistory(run);
  let threw = false;
  try {
    replay(run.executionId, run.plan, run.events);
  } catch {
    threw = true;
  }
  assert(threw, "a migrated history cannot be replayed without the plans it moved to");
});

Deno.test("Migrate: refused when a node that ran is removed or changed kind, or the version is not newer", () => {
  const run = new Run(v1());
  run.ok(START);
  run.ok(run.complete("a"), 1100); // a completed, b running, c pending
  const removed = buildPlan([N.src("a"), N.sink("c")], [edge("a", "c")], { version: 2 });
  let r = run.rejected({ type: "Migrate", plan: removed });
  assertEquals([r.code, r.path], ["migration_refused", "$.version"]);
  assertEquals(r.details?.map((d) => [d.code, d.path]), [["node_removed", "$.nodes.b"]]);

  const changed = buildPlan(
    [N.src("a"), { id: "b", type: "transform", nodeType: "distinct", config: {} }, N.sink("c")],
    [edge("a", "b"), edge("b", "c")],
    { version: 3 },
  );
  r = run.rejected({ type: "Migrate", plan: changed });
  assertEquals(r.details?.map((d) => [d.code, d.path]), [["node_kind_changed", "$.nodes.b"]]);

  r = run.rejected({ type: "Migrate", plan: v1() });
  assertEquals(r.details?.map((d) => [d.code, d.path]), [["version_not_newer", "$.version"]]);

  // A pending node may go or change.
  const cGone = buildPlan([N.src("a"), N.map("b")], [edge("a", "b")], { version: 4 });
  assertEquals(migrationProblems(run.state, cGone), []);
  run.ok(PAUSE, 1200);
  assertEquals(run.labels({ type: "Migrate", plan: cGone }, 1300), ["ExecutionMigrated"]);
  assertEquals(Object.keys(run.state.nodes), ["a", "b"]);
  run.ok(run.complete("b"), 1400);
  assertStrictEquals(run.state.status, "completed");
  assertStrictEquals(run.rejected({ type: "Migrate", plan: cGone }).code, "execution_terminal");
  checkHistory(run);
});

Deno.test("Migrate while paused: the new node is scheduled and starts on Resume", () => {
  const run = new Run(v1());
  run.ok(START);
  run.ok(run.complete("a"), 1100);
  run.ok(PAUSE, 1150);
  const v2 = buildPlan([N.src("a"), N.map("b"), N.sink("c"), N.sink("z")], [
    edge("a", "b"),
    edge("b", "c"),
    edge("a", "z"),
  ], { version: 2 });
  assertEquals(run.labels({ type: "Migrate", plan: v2 }, 1200), ["ExecutionMigrated", "NodeScheduled(z)"]);
  assertEquals(run.labels(RESUME, 1300), ["ExecutionResumed", "NodeStarted(z)"]);
  checkHistory(run);
});

// ---- concurrency keys: queued runs and Admit

Deno.test("queued Start schedules nothing until Admit; a reopened keyed run queues again", () => {
  const plan = buildPlan([N.src("a"), N.sink("k")], [edge("a", "k")], {
    concurrency: { key: "input.n", limit: 1 },
  });
  assertEquals(plan.concurrency, { key: "input.n", limit: 1 });
  const run = new Run(plan);
  const events = run.ok({
    type: "Start",
    input: { n: 1 },
    concurrency: { key: "1", limit: 1 },
    queued: true,
  });
  assertEquals(events.map(label), ["ExecutionStarted"]);
  assert(events[0].type === "ExecutionStarted");
  assertEquals([events[0].concurrency, events[0].queued], [{ key: "1", limit: 1 }, true]);
  assertStrictEquals(run.state.queued, true);
  const view = executionView(run.state);
  assertEquals([view.status, view.queued, view.concurrency], ["running", true, { key: "1", limit: 1 }]);
  assertEquals(pendingWork(run.state), { toStart: [], toRun: [], toExpand: [], toCollect: [] });

  assertEquals(run.labels({ type: "Admit" }, 1100), [
    "ExecutionAdmitted",
    "NodeScheduled(a)",
    "NodeStarted(a)",
  ]);
  assertStrictEquals(executionView(run.state).queued, undefined);
  assertEquals(run.ok({ type: "Admit" }), [], "admitting an admitted run does nothing");
  run.ok(run.complete("a"), 1200);
  run.ok(run.complete("k"), 1300);
  assertStrictEquals(run.state.status, "completed");
  assertEquals(run.ok({ type: "Admit" }), [], "nor a finished one");

  assertEquals(run.labels({ type: "Rerun", fromNode: "k" }, 1400), ["ExecutionReopened"]);
  assertStrictEquals(run.state.queued, true, "it waits for a slot again");
  assertEquals(run.labels({ type: "Admit" }, 1500), [
    "ExecutionAdmitted",
    "NodeScheduled(k)",
    "NodeStarted(k)",
  ]);

  // Without a key a run is never queued.
  const plain = new Run(plan, true, "ex-2");
  assertEquals(plain.labels(START), ["ExecutionStarted", "NodeScheduled(a)", "NodeStarted(a)"]);
  assertEquals(plain.ok({ type: "Admit" }), []);
  checkHistory(run);
});

// ---- signals carry data

Deno.test("signal payload: array → its items, object → [it], null → the input passes on", () => {
  const plan = buildPlan(
    [N.src("a"), N.wait("w1", "list"), N.wait("w2", "obj"), N.wait("w3", "none"), N.wait("w4", "text")],
    [edge("a", "w1"), edge("a", "w2"), edge("a", "w3"), edge("a", "w4")],
  );
  const run = new Run(plan);
  run.ok(START);
  run.ok({ type: "Signal", name: "list", payload: [1, { b: 2 }] }, 1050); // before w1 waits: kept
  run.ok(run.complete("a"), 1100);
  assertEquals(
    run.state.nodes.w1.signalRecords,
    [1, { b: 2 }],
    "a signal received earlier completes it at once",
  );
  run.ok({ type: "Signal", name: "obj", payload: { ok: true } }, 1200);
  run.ok({ type: "Signal", name: "none", payload: null }, 1300);
  run.ok({ type: "Signal", name: "text", payload: "hi" }, 1400);
  assertEquals(run.state.nodes.w2.signalRecords, [{ ok: true }]);
  assertStrictEquals(run.state.nodes.w3.signalRecords, null);
  assertEquals(run.state.nodes.w4.signalRecords, ["hi"]);
  assertStrictEquals(run.state.status, "completed");
  assertEquals(run.state.signalPayloads, { list: [1, { b: 2 }], obj: { ok: true }, none: null, text: "hi" });
  checkHistory(run);

  // Folding one by one or all at once gives the same state.
  const init = initialState(run.executionId, plan);
  assertEquals(run.events.reduce((s, e) => evolve(s, e), init), evolveAll(init, run.events));
});

Deno.test("Rerun of a signal node waits for a new signal; a migration renaming a waited signal is refused", () => {
  const plan = buildPlan([N.src("a"), N.wait("w", "go"), N.sink("c")], [edge("a", "w"), edge("w", "c")]);
  const run = new Run(plan);
  run.ok(START);
  run.ok(run.complete("a"), 1100);
  run.ok({ type: "StartNode", nodeId: "w" }, 1150);
  const renamed = buildPlan(
    [N.src("a"), N.wait("w", "went"), N.sink("c")],
    [edge("a", "w"), edge("w", "c")],
    { version: 2 },
  );
  const problems = migrationProblems(run.state, renamed);
  assertEquals(problems.map((p) => p.code), ["node_signal_changed"]);
  run.ok({ type: "Signal", name: "go", payload: { n: 1 } }, 1200);
  run.ok(run.complete("c"), 1300);
  assertStrictEquals(run.state.status, "completed");

  run.ok({ type: "Rerun", fromNode: "w" }, 2000);
  if (run.state.nodes.w.status === "scheduled") run.ok({ type: "StartNode", nodeId: "w" }, 2010);
  assertStrictEquals(run.state.nodes.w.status, "running", "it waits again: the old signal is forgotten");
  assertEquals(run.state.signals, []);
  run.ok({ type: "Signal", name: "go", payload: { n: 2 } }, 2100);
  assertEquals(run.state.nodes.w.signalRecords, [{ n: 2 }]);
  checkHistory(run);
});

Deno.test("Migrate: refused when a running foreach would run another workflow or be fed otherwise", () => {
  const nodes = [N.src("a"), N.foreach("each", { maxConcurrency: 2 }), N.sink("c")];
  const plan = buildPlan(nodes, [edge("a", "each"), edge("each", "c")]);
  const run = new Run(plan);
  run.ok(START);
  run.ok(run.complete("a"), 1100);
  run.ok({ type: "StartNode", nodeId: "each" }, 1150);
  run.ok({ type: "PlanChildren", nodeId: "each", attempt: 1, count: 3, version: 4 }, 1200);
  assertStrictEquals(run.state.nodes.each.children?.version, 4, "the resolved child version is kept");
  const other = buildPlan(
    [N.src("a"), N.foreach("each", { workflow: "other", maxConcurrency: 2 }), N.sink("c")],
    [edge("a", "each"), edge("each", "c")],
    { version: 2 },
  );
  assertEquals(migrationProblems(run.state, other).map((p) => p.code), ["node_running_changed"]);
  const fedOtherwise = buildPlan(
    [N.src("a"), N.src("b"), N.foreach("each", { maxConcurrency: 2 }), N.sink("c")],
    [edge("a", "each"), edge("b", "each"), edge("each", "c")],
    { version: 2 },
  );
  assertEquals(migrationProblems(run.state, fedOtherwise).map((p) => p.code), ["node_running_changed"]);
  const downstreamOnly = buildPlan(
    [...nodes, N.sink("d")],
    [edge("a", "each"), edge("each", "c"), edge("each", "d")],
    { version: 2 },
  );
  assertEquals(migrationProblems(run.state, downstreamOnly), []);
  checkHistory(run);
});
