/**
 * `deno task cli` against a real node (in process, memory storage), run as a real process: `run` (waiting,
 * `--detach`, `--watch` live, a failure, a wait that runs out) and the execution commands, each in human and
 * `--json` output, with their exit codes.
 */
import { assert, assertEquals, assertMatch, assertStrictEquals } from "../../testing/assert.ts";
import { cli, spawnCli } from "../../testing/cli.ts";
import {
  chain,
  createWorkflow,
  n,
  postJson,
  through,
  waitForExecution,
  withNode,
} from "../../testing/server.ts";
import { EXIT } from "./errors.ts";
import { shortId } from "./format.ts";

const NUMBERS = through("numbers", [1, 2, 3, 4, 5], n("big", "transform/filter", { condition: "value > 2" }));
/** numbers → a 2 s delay → a gate the test opens with a signal → collect. */
const GATED = chain(
  "gated",
  n("src", "source/sequence.numbers", { start: 1, end: 5 }),
  n("wait", "control/delay", { duration: "2s" }),
  n("gate", "control/signal.wait", { name: "go" }),
  n("out", "sink/memory.collect"),
);
/** numbers → a short delay → a map that fails → collect. */
const FAILING = chain(
  "failing",
  n("src", "source/sequence.numbers", { start: 1, end: 3 }),
  n("wait", "control/delay", { duration: "200ms" }),
  n("bad", "transform/map", { expression: "$error('boom')" }),
  n("out", "sink/memory.collect"),
);
/** Waits for a signal: runs until the test says. */
const WAITING = chain(
  "waiting",
  n("src", "source/sequence.numbers", { start: 1, end: 2 }),
  n("gate", "control/signal.wait", { name: "approve" }),
  n("out", "sink/memory.collect"),
);

/** The index of the first line matching `re` (fails when none does). */
function lineIndex(lines: string[], re: RegExp): number {
  const i = lines.findIndex((l) => re.test(l));
  assert(i >= 0, `no line matches ${re}:\n${lines.join("\n")}`);
  return i;
}

Deno.test("cli: run waits for the end; --json, --detach, --input", async () => {
  await withNode(async (node) => {
    const url = node.url;
    await createWorkflow(node, NUMBERS);
    const human = await cli(["run", "numbers"], { url });
    assertStrictEquals(human.code, EXIT.ok, human.stderr);
    assertMatch(human.stdout, /^execution +ex-[0-9a-f-]{36}\nworkflow +numbers v1\nstatus +completed\n/);
    assertMatch(human.stdout, /\nbig +filter +completed +1 +5 +\d+ms\n/);
    assertMatch(human.stdout, /\nout +memory\.collect +completed +1 +3 +\d+ms\n/);

    const json = await cli(["run", "numbers", "--json", "--idempotency-key", "k-1"], { url });
    assertStrictEquals(json.code, EXIT.ok, json.stderr);
    const view = json.json();
    assertStrictEquals(view.status, "completed");
    assertStrictEquals("message" in view, false, "the execution view, as executions get shows it");
    assertEquals(view.nodes.map((x: { recordsProcessed: number }) => x.recordsProcessed), [5, 5, 3]);
    const replay = await cli(["run", "numbers", "--json", "--idempotency-key", "k-1"], { url });
    assertStrictEquals(replay.json().executionId, view.executionId, "the same key finds the same execution");

    const detached = await cli(["run", "numbers", "--detach"], { url });
    assertStrictEquals(detached.code, EXIT.ok, detached.stderr);
    assertMatch(
      detached.stdout,
      /^execution started: ex-[0-9a-f-]{36} \(numbers v1\), status (started|completed)\n$/,
    );
    const detachedJson = await cli(["run", "numbers", "--detach", "--json"], { url });
    assertEquals(Object.keys(detachedJson.json()).sort(), [
      "executionId",
      "message",
      "note",
      "status",
      "version",
      "workflowId",
    ]);

    await createWorkflow(
      node,
      chain("echo", n("in", "source/execution.input"), n("out", "sink/memory.collect")),
    );
    const inline = await cli(["run", "echo", "--input", '[{"n": 1}, {"n": 2}]', "--json"], { url });
    assertStrictEquals(inline.code, EXIT.ok, inline.stderr);
    assertStrictEquals(inline.json().nodes[1].recordsProcessed, 2);
    const piped = await cli(["run", "echo", "--input", "-", "--json"], { url, stdin: "[1, 2, 3]" });
    assertStrictEquals(piped.json().nodes[1].recordsProcessed, 3);
  });
});

Deno.test("cli: run --watch shows the nodes live, one line per change when not a terminal", async () => {
  await withNode(async (node) => {
    const url = node.url;
    await createWorkflow(node, GATED);
    const live = spawnCli(["run", "gated", "--watch", "--interval", "50ms"], { url });
    // Live: the delay is seen running, then done, while the execution still runs (its gate is shut).
    await live.waitFor("node gate running");
    const mid = live.stdout.trimEnd().split("\n");
    const id = /^\+\d+\.\ds execution (\S+) \(gated v1\) running$/.exec(mid[0])?.[1];
    assert(id, mid[0]);
    assert(
      lineIndex(mid, /^\+\d+\.\ds node wait running$/) < lineIndex(mid, /^\+\d+\.\ds node wait completed/),
    );
    assert(!live.stdout.includes("execution completed"), live.stdout);
    const signalled = await postJson(node, `/api/v1/executions/${id}/signals/go`, {});
    assertStrictEquals(signalled.status, 200, signalled.text);
    const done = await live.done;
    assertStrictEquals(done.code, EXIT.ok, done.stderr);
    const lines = done.stdout.trimEnd().split("\n");
    for (const nodeId of ["src", "wait", "gate", "out"]) {
      lineIndex(lines, new RegExp(`^\\+\\d+\\.\\ds node ${nodeId} completed`));
    }
    assertMatch(lines.at(-2)!, /^\+\d+\.\ds execution completed$/);
    assertMatch(
      lines.at(-1)!,
      new RegExp(`^${id} completed in \\S+ · 4 nodes: 4 completed · 10 records processed$`),
    );
    assert(lineIndex(lines, /node gate completed/) < lineIndex(lines, /node out completed/));
  });
});

Deno.test("cli: a run that fails is exit 4, with or without --watch; a wait that runs out is exit 5", async () => {
  await withNode(async (node) => {
    const url = node.url;
    await createWorkflow(node, FAILING);
    const watched = await cli(["run", "failing", "--watch", "--interval", "50ms"], { url });
    assertStrictEquals(watched.code, EXIT.runFailed, watched.stderr);
    const lines = watched.stdout.trimEnd().split("\n");
    lineIndex(lines, /^\+\d+\.\ds node bad failed: expression_error: /);
    lineIndex(lines, /^\+\d+\.\ds node out cancelled$/);
    lineIndex(lines, /^\+\d+\.\ds execution failed$/);
    assertMatch(lines.at(-1)!, /^error: expression_error: .*\(node bad\)$/);

    const waited = await cli(["run", "failing", "--json"], { url });
    assertStrictEquals(waited.code, EXIT.runFailed, waited.stderr);
    assertEquals([waited.json().status, waited.json().error.nodeId], ["failed", "bad"]);

    await createWorkflow(node, WAITING);
    const timedOut = await cli(["run", "waiting", "--timeout", "300ms", "--interval", "100ms"], { url });
    assertStrictEquals(timedOut.code, EXIT.stillRunning, timedOut.stderr);
    assertMatch(timedOut.stdout, /\nstatus +running\n/);
    assertMatch(timedOut.stderr, /the wait ran out; ex-\S+ goes on\n$/);
  });
});

Deno.test("cli: executions list, get (whole or short id, --wait), events, cancel, signal", async () => {
  await withNode(async (node) => {
    const url = node.url;
    await createWorkflow(node, NUMBERS);
    await createWorkflow(node, WAITING);
    const done = (await cli(["run", "numbers", "--json"], { url })).json().executionId as string;
    const started = await cli(["run", "waiting", "--detach", "--json"], { url });
    const running = started.json().executionId as string;
    await waitForExecution(node, running, (v) => v.nodes[1].status === "running");

    const list = await cli(["executions", "list"], { url });
    assertStrictEquals(list.code, EXIT.ok, list.stderr);
    const rows = list.stdout.trimEnd().split("\n");
    assertMatch(rows[0], /^EXECUTION +WORKFLOW +VERSION +STATUS +STARTED +DURATION +EVENTS$/);
    assertMatch(rows[1], new RegExp(`^${shortId(running)} +waiting +1 +running +`));
    assertMatch(rows[2], new RegExp(`^${shortId(done)} +numbers +1 +completed +`));
    const filtered = await cli([
      "executions",
      "list",
      "--json",
      "--workflow",
      "numbers",
      "--status",
      "completed",
    ], {
      url,
    });
    assertEquals(filtered.json().map((r: { executionId: string }) => r.executionId), [done]);
    const badStatus = await cli(["executions", "list", "--status", "begun"], { url });
    assertStrictEquals(badStatus.code, EXIT.refused);
    assertMatch(badStatus.stderr, /^error: invalid_parameter \(400\): status must be one of/);

    const get = await cli(["executions", "get", shortId(done)], { url });
    assertStrictEquals(get.code, EXIT.ok, get.stderr);
    assertMatch(get.stdout, new RegExp(`^execution +${done}\n`));
    const getJson = await cli(["executions", "get", done, "--json"], { url });
    assertStrictEquals(getJson.json().executionId, done);
    const unknown = await cli(["executions", "get", "ex-00000000"], { url });
    assertStrictEquals(unknown.code, EXIT.refused);
    assertEquals(unknown.stderr, "error: execution_not_found (404): no execution ex-00000000\n");

    const events = await cli(["executions", "events", shortId(done)], { url });
    assertStrictEquals(events.code, EXIT.ok, events.stderr);
    const eventLines = events.stdout.trimEnd().split("\n");
    assertMatch(eventLines[0], /^SEQ +AT +TYPE +NODE +DETAIL$/);
    assertMatch(eventLines[1], /^ +1 +\d{4}-\d\d-\d\dT[\d:.]+Z +ExecutionStarted +\{/);
    assertMatch(eventLines.at(-1)!, /ExecutionSucceeded$/);
    const after = await cli(["executions", "events", done, "--after", "2", "--json"], { url });
    assertStrictEquals(after.json().events[0].seq, 3);

    // A wait that ends: the signal (inline JSON payload) lets the run end; get --wait sees it completed.
    const badSignal = await cli(["executions", "signal", running, "nope"], { url });
    assertStrictEquals(badSignal.code, EXIT.refused);
    assertMatch(badSignal.stderr, /^error: signal_unknown \(404\)/);
    const waiter = cli(["executions", "get", shortId(running), "--wait", "--interval", "50ms", "--json"], {
      url,
    });
    const signal = await cli(
      ["executions", "signal", shortId(running), "approve", "--data", '{"by": "ann"}'],
      {
        url,
      },
    );
    assertStrictEquals(signal.code, EXIT.ok, signal.stderr);
    assertMatch(signal.stdout, new RegExp(`^signal approve sent: ${running} is (running|completed)\n`));
    const waited = await waiter;
    assertStrictEquals(waited.code, EXIT.ok, waited.stderr);
    assertStrictEquals(waited.json().status, "completed");
    const payload = await cli(["executions", "events", running, "--json"], { url });
    const received = payload.json().events.find((e: { type: string }) => e.type === "SignalReceived");
    assertEquals([received.name, received.payload], ["approve", { by: "ann" }]);

    // Cancel: a running execution, then again (refused), then get --wait sees the end: exit 4.
    const second = (await cli(["run", "waiting", "--detach", "--json"], { url })).json()
      .executionId as string;
    const cancelled = await cli(["executions", "cancel", second, "--reason", "not needed"], { url });
    assertStrictEquals(cancelled.code, EXIT.ok, cancelled.stderr);
    assertMatch(cancelled.stdout, new RegExp(`^cancelled: ${second} is cancelled\n`));
    assertMatch(cancelled.stdout, /\nerror +cancelled: not needed\n/);
    const twice = await cli(["executions", "cancel", second, "--json"], { url });
    assertStrictEquals(twice.code, EXIT.refused);
    assertStrictEquals(twice.json().error.code, "execution_terminal");
    const ended = await cli(["executions", "get", second, "--wait"], { url });
    assertStrictEquals(ended.code, EXIT.runFailed, ended.stderr);
  });
});
