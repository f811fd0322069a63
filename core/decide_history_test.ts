/**
 * The decider's working copies and its history bound (`DecideOptions`): deciding in place gives the events
 * and states that deciding on copies gives; a bounded history never passes its bound, ends failed with
 * `history_too_large` exactly when the unbounded run would have passed it, stays a valid history (replay
 * gives the state), and a retry with no room is refused.
 */
import fc from "npm:fast-check@4.11.0";
import { assert, assertEquals, assertStrictEquals } from "../testing/assert.ts";
import { type Command, decide, type DecideOptions, HISTORY_TOO_LARGE } from "./decide.ts";
import type { ExecutionEvent } from "./events.ts";
import type { Plan } from "./plan.ts";
import { type ExecutionState, initialState, replay, workingCopy } from "./state.ts";
import { buildPlan, edge, N, Picker, randomDefinition } from "./testing_plans.ts";
import { liveChildren, pendingTimers, pendingWork } from "./timers.ts";

/** A run decided with `opts`: its state (a working copy when in place) and its history. */
class Driven {
  state: ExecutionState;
  readonly events: ExecutionEvent[] = [];
  constructor(readonly plan: Plan, readonly opts: DecideOptions) {
    this.state = initialState("ex-h", plan);
  }
  send(command: Command, now: number) {
    const d = decide(this.state, command, now, this.opts);
    if (d.ok) {
      if (this.opts.inPlace) assertStrictEquals(d.state, this.state, "in place: the same object");
      this.state = d.state;
      this.events.push(...d.events);
    }
    return d;
  }
}

/** A command the runtime could send now, picked with `pick` (undefined: nothing left to do). */
function nextCommand(state: ExecutionState, pick: Picker): { command: Command; at: number } | undefined {
  const now = 1_000 + state.lastSeq * 10;
  if (state.status !== "running") {
    if (pick.chance(30) && state.status !== "completed") return { command: { type: "Retry" }, at: now };
    return undefined;
  }
  const work = pendingWork(state);
  const options: { command: Command; at: number }[] = [];
  for (const nodeId of work.toStart) options.push({ command: { type: "StartNode", nodeId }, at: now });
  for (const { nodeId, attempt } of [...work.toRun, ...work.toCollect]) {
    const node = state.plan.byId.get(nodeId)!;
    const handle = node.handles.length > 1 ? pick.of(node.handles) : undefined;
    options.push(
      pick.chance(20)
        ? {
          command: {
            type: "FailNode",
            nodeId,
            attempt,
            error: { code: "boom", message: "b" },
            retryable: true,
          },
          at: now,
        }
        : {
          command: {
            type: "CompleteNode",
            nodeId,
            attempt,
            outputRef: `${nodeId}@${attempt}`,
            recordsProcessed: 1,
            recordsEmitted: 1,
            ...(handle !== undefined && { handle }),
          },
          at: now,
        },
    );
  }
  for (const { nodeId, attempt } of work.toExpand) {
    options.push({ command: { type: "PlanChildren", nodeId, attempt, count: pick.next(4) }, at: now });
  }
  for (const c of liveChildren(state).keep) {
    const status = pick.chance(20) ? "failed" : "completed";
    options.push({ command: { type: "ChildEnded", ...c, status }, at: now });
  }
  for (const t of pendingTimers(state).slice(0, 2)) {
    options.push({ command: { type: "FireTimer", timerId: t.id }, at: Math.max(now, t.dueAt) });
  }
  for (const name of state.plan.signals) {
    options.push({ command: { type: "Signal", name, payload: 1 }, at: now });
  }
  options.push({ command: state.paused ? { type: "Resume" } : { type: "Pause", reason: "p" }, at: now });
  return pick.of(options);
}

Deno.test("decide in place (property): the same events and states as deciding on copies", () => {
  fc.assert(
    fc.property(fc.array(fc.nat(), { minLength: 10, maxLength: 200 }), (choices) => {
      const pick = new Picker(choices);
      const def = randomDefinition(pick, { maxNodes: 12 });
      const plan = buildPlan(def.nodes, def.edges);
      const copying = new Driven(plan, {});
      const inPlace = new Driven(plan, { inPlace: true });
      copying.send({ type: "Start", input: null }, 1_000);
      inPlace.send({ type: "Start", input: null }, 1_000);
      for (let step = 0; step < 150; step++) {
        const next = nextCommand(copying.state, pick);
        if (next === undefined) break;
        const before = copying.state;
        const a = copying.send(next.command, next.at);
        const b = inPlace.send(next.command, next.at);
        assertEquals(b, a);
        if (a.ok && a.events.length > 0) assert(before !== copying.state, "a copy: the old state stays");
      }
      assertEquals(inPlace.state, copying.state);
      assertEquals(replay("ex-h", plan, inPlace.events), inPlace.state);
    }),
    { numRuns: 300 },
  );
});

Deno.test("history bound (property): never passed; history_too_large exactly when it would be", () => {
  const seen = { cut: 0, within: 0 };
  fc.assert(
    fc.property(
      fc.array(fc.nat(), { minLength: 10, maxLength: 200 }),
      fc.integer({ min: 3, max: 60 }),
      fc.boolean(),
      (choices, max, inPlace) => {
        const pick = new Picker(choices);
        const def = randomDefinition(pick, { maxNodes: 12 });
        const plan = buildPlan(def.nodes, def.edges);
        const free = new Driven(plan, {});
        const bounded = new Driven(plan, { inPlace, maxHistoryEvents: max });
        free.send({ type: "Start", input: null }, 1_000);
        bounded.send({ type: "Start", input: null }, 1_000);
        let refused = false;
        const same = () =>
          bounded.events.length === free.events.length &&
          JSON.stringify(bounded.events.at(-1)) === JSON.stringify(free.events.at(-1));
        for (let step = 0; step < 150 && same(); step++) {
          const next = nextCommand(free.state, pick);
          if (next === undefined) break;
          const a = free.send(next.command, next.at);
          const b = bounded.send(next.command, next.at);
          if (!b.ok && a.ok) {
            // Only a retry with no room is refused where the free run is not.
            assertStrictEquals(b.rejection.code, HISTORY_TOO_LARGE);
            assert(bounded.state.lastSeq + 1 >= max);
            refused = true;
            break;
          }
        }
        const got = bounded.events;
        assert(got.length <= max, `${got.length} events, bound ${max}`);
        assertEquals(got.map((e) => e.seq), got.map((_, i) => i + 1));
        assertEquals(replay("ex-h", plan, got), bounded.state);
        const cut = got.length - 1;
        if (refused) {
          assertEquals(got, free.events.slice(0, got.length), "the same history up to the refused retry");
        } else if (
          free.events.length > got.length ||
          JSON.stringify(free.events[cut]) !== JSON.stringify(got[cut])
        ) {
          // Diverged: the bounded run is the free run's prefix, then the failure in the last place.
          assertEquals(got.slice(0, cut), free.events.slice(0, cut));
          const last = got[cut];
          assertStrictEquals(last.type, "ExecutionFailed");
          assertStrictEquals(last.seq, max);
          assertStrictEquals(bounded.state.status, "failed");
          assertStrictEquals(bounded.state.error?.code, HISTORY_TOO_LARGE);
          assert(Object.values(bounded.state.nodes).every((n) => n.status !== "running"), "nothing runs on");
          const retry = decide(bounded.state, { type: "Retry" }, 9_999_999, { maxHistoryEvents: max });
          assert(!retry.ok && retry.rejection.code === HISTORY_TOO_LARGE, "no room to retry");
          seen.cut++;
        } else {
          assertEquals(got, free.events, "within the bound: the same history");
          seen.within++;
        }
      },
    ),
    { numRuns: 400 },
  );
  assert(seen.cut > 0 && seen.within > 0, `both outcomes generated: ${JSON.stringify(seen)}`);
});

/** `a → b → c → …` of `count` maps after a source. */
function chainPlan(count: number): Plan {
  const nodes = [N.src("n0"), ...Array.from({ length: count - 1 }, (_, i) => N.map(`n${i + 1}`))];
  const edges = nodes.slice(1).map((n, i) => edge(`n${i}`, n.id));
  return buildPlan(nodes, edges);
}

/** Runs a plan of tasks to its end, each node completing at once; returns the run. */
function runAll(plan: Plan, opts: DecideOptions): Driven {
  const run = new Driven(plan, opts);
  run.send({ type: "Start", input: null }, 1_000);
  for (let guard = 0; run.state.status === "running" && guard < 10_000; guard++) {
    const work = pendingWork(run.state);
    for (const nodeId of work.toStart) run.send({ type: "StartNode", nodeId }, 1_000);
    for (const { nodeId, attempt } of work.toRun) {
      const c = { nodeId, attempt, outputRef: `${nodeId}@1`, recordsProcessed: 1, recordsEmitted: 1 };
      run.send({ type: "CompleteNode", ...c }, 1_001);
    }
  }
  return run;
}

Deno.test("history bound: a chain that needs more events ends failed in the bound's last place", () => {
  // A chain of 10 needs 1 + 3 * 10 + 1 = 32 events.
  assertEquals(runAll(chainPlan(10), {}).events.length, 32);
  assertStrictEquals(runAll(chainPlan(10), { maxHistoryEvents: 32 }).state.status, "completed");
  for (const inPlace of [false, true]) {
    const run = runAll(chainPlan(10), { inPlace, maxHistoryEvents: 20 });
    assertEquals(run.events.length, 20);
    const last = run.events[19];
    assert(last.type === "ExecutionFailed" && last.error.code === "history_too_large", JSON.stringify(last));
    assert(last.error.message.includes("20 events"), last.error.message);
    assertStrictEquals(run.state.status, "failed");
    assertEquals(run.state.error, last.error);
    assertEquals(replay("ex-h", run.plan, run.events), run.state);
  }
});

Deno.test("history bound: the end may take the last place; any other event there fails the run", () => {
  const plan = buildPlan([N.src("a")], []);
  // Started, scheduled, started, succeeded, execution succeeded: 5 events.
  assertStrictEquals(runAll(plan, { maxHistoryEvents: 5 }).state.status, "completed");
  const short = runAll(plan, { maxHistoryEvents: 4 });
  assertEquals(short.events.map((e) => e.type), [
    "ExecutionStarted",
    "NodeScheduled",
    "NodeStarted",
    "ExecutionFailed",
  ]);
  assertStrictEquals(short.state.nodes.a.status, "cancelled");
});

Deno.test("history bound: a retry runs with room; without, it is refused with history_too_large", () => {
  const plan = buildPlan([N.src("a")], []);
  const run = new Driven(plan, { maxHistoryEvents: 9 });
  run.send({ type: "Start", input: null }, 1_000);
  run.send({ type: "StartNode", nodeId: "a" }, 1_000);
  const failed = {
    type: "FailNode" as const,
    nodeId: "a",
    error: { code: "x", message: "x" },
    retryable: false,
  };
  run.send({ ...failed, attempt: 1 }, 1_001); // 5 events: failed
  assertStrictEquals(run.state.status, "failed");
  const retried = run.send({ type: "Retry" }, 1_002); // reopened, scheduled
  assert(retried.ok && retried.events.length === 2, JSON.stringify(retried));
  run.send({ type: "StartNode", nodeId: "a" }, 1_002);
  run.send({ ...failed, attempt: 2 }, 1_003); // NodeFailed would be the 9th: the history's failure takes it
  assertStrictEquals(run.state.status, "failed");
  assert(run.events.length <= 9, `${run.events.length}`);
  const refused = run.send({ type: "Retry" }, 1_004);
  assert(!refused.ok && refused.rejection.code === "history_too_large", JSON.stringify(refused));
  assert(refused.rejection.message.includes("bound is 9"), refused.rejection.message);
});

Deno.test("history bound: a start with more roots than room is cut short and fails", () => {
  const plan = buildPlan(Array.from({ length: 8 }, (_, i) => N.src(`r${i}`)), []);
  const run = new Driven(plan, { maxHistoryEvents: 5 });
  const d = run.send({ type: "Start", input: null }, 1_000);
  assert(d.ok);
  assertEquals(d.events.map((e) => e.type), [
    "ExecutionStarted",
    "NodeScheduled",
    "NodeScheduled",
    "NodeScheduled",
    "ExecutionFailed",
  ]);
  assertStrictEquals(run.state.status, "failed");
  assertEquals(replay("ex-h", plan, run.events), run.state);
});

Deno.test("history bound: a bound lowered below a history lets one more event end it", () => {
  const plan = chainPlan(4);
  const long = runAll(plan, {}); // 14 events
  const mid = replay("ex-h", plan, long.events.slice(0, 8)); // running, 8 events
  assertStrictEquals(mid.status, "running");
  const next = pendingWork(mid);
  const command: Command = next.toRun.length > 0
    ? {
      type: "CompleteNode",
      nodeId: next.toRun[0].nodeId,
      attempt: next.toRun[0].attempt,
      outputRef: "x",
      recordsProcessed: 1,
      recordsEmitted: 1,
    }
    : { type: "StartNode", nodeId: next.toStart[0] };
  const d = decide(workingCopy(mid), command, 2_000, { inPlace: true, maxHistoryEvents: 5 });
  assert(d.ok && d.events.length === 1 && d.events[0].type === "ExecutionFailed", JSON.stringify(d));
  assertStrictEquals(d.events[0].seq, 9);
  assertStrictEquals(d.state.status, "failed");
});
