/**
 * Property tests of steering: random valid plans of every kind (`testing_plans.ts`) driven by random
 * commands, including Pause, Resume, Retry, Rerun, Migrate (to two later versions), Admit, PlanChildren,
 * ChildEnded, signals, terminate and switch nodes. Checked: pause never lets a node start, resume loses no
 * timer, a rerun leaves upstream outputs untouched, and replay of every history equals the decided state.
 */
import fc from "npm:fast-check@4.11.0";
import { assert, assertEquals, assertStrictEquals } from "../testing/assert.ts";
import { type Command, decide, type Decision } from "./decide.ts";
import type { EventType, ExecutionEvent } from "./events.ts";
import type { Json } from "./json.ts";
import type { Plan } from "./plan.ts";
import { evolveAll, type ExecutionState, initialState, replay, StateBuilder } from "./state.ts";
import {
  buildPlan,
  edge,
  N,
  Picker,
  randomDefinition,
  type RandomPlanOptions,
  Run,
} from "./testing_plans.ts";
import { pendingTimers, pendingWork } from "./timers.ts";
import type { WorkflowDefinition } from "./workflow.ts";

const choicesArb = fc.array(fc.noBias(fc.nat()), { minLength: 16, maxLength: 120 });

// ---- plans: a random version 1, and versions 2 and 3 to migrate to

/** v1; v2 adds a branch `x1 → x2` under the source; v3 drops `x2` and turns a map into a distinct. */
function versions(pick: Picker, options: RandomPlanOptions = {}): Plan[] {
  const def = randomDefinition(pick, options);
  const v2: Pick<WorkflowDefinition, "nodes" | "edges"> = {
    nodes: [...def.nodes, N.map("x1"), N.sink("x2")],
    edges: [...def.edges, edge("n0", "x1"), edge("x1", "x2")],
  };
  const firstMap = def.nodes.find((n) => n.nodeType === "map");
  const v3 = {
    nodes: v2.nodes.filter((n) => n.id !== "x2").map((n) =>
      n === firstMap ? { ...n, nodeType: "distinct", config: {} } : n
    ),
    edges: v2.edges.filter((e) => e.target !== "x2"),
  };
  return [
    buildPlan(def.nodes, def.edges),
    buildPlan(v2.nodes, v2.edges, { version: 2 }),
    buildPlan(v3.nodes, v3.edges, { version: 3 }),
  ];
}

// ---- random commands, as a runtime and users could send them, at any time

const PAYLOADS: Json[] = [null, [1, 2], { x: 1 }, "s"];
const CHILD_STATUSES = ["completed", "completed", "failed", "cancelled"];

interface Step {
  command: Command;
  /** Time of the command, if it moves the clock. */
  at?: number;
}

/**
 * One step of useful work, as the runtime would do it: start a scheduled node (also while paused, where it
 * must do nothing), finish a running attempt (`failPct`% fail), plan or end children, collect a children
 * node, signal a waiting node. `undefined`: nothing to do but wait for a timer.
 */
function workStep(s: ExecutionState, pick: Picker, failPct: number): Command | undefined {
  const options: (() => Command)[] = [];
  for (const n of s.plan.nodes) {
    const ns = s.nodes[n.id];
    const attempt = ns.attempts;
    if (ns.status === "scheduled") options.push(() => ({ type: "StartNode", nodeId: n.id }));
    if (ns.status !== "running") continue;
    const c = ns.children;
    if (n.behaviour === "task" || n.behaviour === "condition" || (c !== null && c.ended === c.count)) {
      options.push(() =>
        pick.next(100) < failPct
          ? {
            type: "FailNode",
            nodeId: n.id,
            attempt,
            error: { code: "x", message: "x" },
            retryable: pick.chance(70),
          }
          : {
            type: "CompleteNode",
            nodeId: n.id,
            attempt,
            outputRef: `${n.id}@${attempt}`,
            recordsProcessed: 1,
            recordsEmitted: 1,
            ...(n.behaviour === "condition" && { handle: pick.of(n.handles) }),
          }
      );
    } else if (n.subflow !== undefined && c === null) {
      const max = Math.min(n.subflow.maxItems, 5);
      options.push(() => ({
        type: "PlanChildren",
        nodeId: n.id,
        attempt,
        count: pick.next(max + 1 + (failPct > 0 ? 1 : 0)),
      }));
    } else if (ns.awaitSignal !== null) {
      options.push(() => ({ type: "Signal", name: ns.awaitSignal!, payload: pick.of(PAYLOADS) }));
    }
    for (const index of c?.live ?? []) {
      const status = pick.next(100) < failPct ? pick.of(["failed", "cancelled", "timed_out"]) : "completed";
      options.push(() => ({ type: "ChildEnded", nodeId: n.id, attempt, index, status }));
    }
  }
  return options.length === 0 ? undefined : pick.of(options)();
}

/** A command on a running task, condition, switch or collectable children node (or a stale one). */
function finishCommand(s: ExecutionState, pick: Picker): Command {
  const running = s.plan.nodes.filter((n) => {
    const ns = s.nodes[n.id];
    if (ns.status !== "running") return false;
    if (n.behaviour === "children") return ns.children !== null && ns.children.ended === ns.children.count;
    return n.behaviour === "task" || n.behaviour === "condition";
  });
  const n = running.length > 0 ? pick.of(running) : pick.of(s.plan.nodes);
  const attempt = s.nodes[n.id].attempts + (running.length === 0 || pick.chance(5) ? 1 : 0);
  if (pick.chance(25)) {
    return {
      type: "FailNode",
      nodeId: n.id,
      attempt,
      error: { code: "injected", message: "fails" },
      retryable: pick.chance(70),
    };
  }
  const handle = n.behaviour === "condition" ? { handle: pick.of(n.handles) } : {};
  return {
    type: "CompleteNode",
    nodeId: n.id,
    attempt,
    outputRef: `${n.id}@${attempt}`,
    recordsProcessed: 1,
    recordsEmitted: 1,
    ...handle,
  };
}

function childCommand(s: ExecutionState, pick: Picker, plan: boolean): Command {
  const nodes = s.plan.nodes.filter((n) => n.subflow !== undefined);
  if (nodes.length === 0) return { type: "FireTimer", timerId: "none" };
  const expanding = nodes.filter((n) =>
    s.nodes[n.id].status === "running" && s.nodes[n.id].children === null
  );
  if (plan) {
    const n = expanding.length > 0 ? pick.of(expanding) : pick.of(nodes);
    const count = pick.next(Math.min(n.subflow!.maxItems, 6) + 2);
    return { type: "PlanChildren", nodeId: n.id, attempt: s.nodes[n.id].attempts, count };
  }
  const live = nodes.filter((n) => (s.nodes[n.id].children?.live.length ?? 0) > 0);
  const n = live.length > 0 ? pick.of(live) : pick.of(nodes);
  const ns = s.nodes[n.id];
  const index = live.length > 0 && pick.chance(90) ? pick.of(ns.children!.live) : pick.next(8);
  return {
    type: "ChildEnded",
    nodeId: n.id,
    attempt: ns.attempts,
    index,
    status: pick.of(CHILD_STATUSES),
    error: { code: "child", message: "a child ended" },
  };
}

function steerCommand(s: ExecutionState, pick: Picker, plans: readonly Plan[], r: number): Command {
  if (r < 83) return s.paused && pick.chance(90) ? { type: "Resume" } : { type: "Pause", reason: "p" };
  if (r < 85) return { type: "Cancel", reason: "c" };
  if (r < 88) return { type: "Retry" };
  if (r < 91) {
    const fromNode = pick.chance(90) ? pick.of(s.plan.nodes).id : "zz";
    return { type: "Rerun", fromNode, ...(pick.chance(30) ? { input: { n: pick.next(9) } } : {}) };
  }
  if (r < 96) return { type: "Migrate", plan: pick.of(plans) };
  return { type: "Admit" };
}

function randomStep(run: Run, pick: Picker, plans: readonly Plan[], skip: ReadonlySet<string>): Step {
  const s = run.state;
  if (s.status === null) {
    const keyed = pick.chance(25)
      ? { concurrency: { key: "k", limit: 1 }, ...(pick.chance(70) && { queued: true }) }
      : {};
    return { command: { type: "Start", input: { n: 1 }, ...keyed } };
  }
  for (let tries = 0; tries < 8; tries++) {
    const r = pick.next(100);
    let step: Step;
    if (r < 40) {
      const command = workStep(s, pick, 15);
      if (command === undefined) continue;
      step = { command };
    } else if (r < 43) step = { command: { type: "StartNode", nodeId: pick.of(s.plan.nodes).id } };
    else if (r < 48) step = { command: finishCommand(s, pick) };
    else if (r < 53) step = { command: childCommand(s, pick, true) };
    else if (r < 63) step = { command: childCommand(s, pick, false) };
    else if (r < 71) {
      // Any timer the execution has, paused or not, fired at its time or early.
      const timers = pendingTimers({ ...s, paused: false });
      if (timers.length === 0) continue;
      const t = pick.of(timers);
      step = { command: { type: "FireTimer", timerId: t.id }, ...(pick.chance(70) && { at: t.dueAt }) };
    } else if (r < 75) {
      const name = pick.chance(90) && s.plan.signals.size > 0 ? pick.of([...s.plan.signals]) : "nope";
      step = { command: { type: "Signal", name, payload: pick.of(PAYLOADS) } };
    } else step = { command: steerCommand(s, pick, plans, r) };
    if (!skip.has(step.command.type)) return step;
  }
  return { command: { type: "FireTimer", timerId: "none" } };
}

/** Sends one random command (the clock moves on now and then); returns the state before and the decision. */
function fuzzStep(run: Run, pick: Picker, plans: readonly Plan[], skip: ReadonlySet<string> = new Set()) {
  const { command, at } = randomStep(run, pick, plans, skip);
  const when = Math.max(run.now + (pick.chance(30) ? pick.next(400) : 0), at ?? 0);
  const before = run.state;
  const decision = run.send(command, when);
  return { before, command, decision };
}

const starts = (events: readonly ExecutionEvent[]) =>
  events.filter((e) => e.type === "NodeStarted" || e.type === "ChildStarted");

/** While paused: nothing to start, and no timer but the execution timeout. */
function checkPausedState(state: ExecutionState): void {
  if (state.status !== "running" || !state.paused) return;
  assertEquals(pendingWork(state).toStart, []);
  for (const t of pendingTimers(state)) assertStrictEquals(t.kind, "execution-timeout");
}

const REJECTIONS = new Set([
  "not_started",
  "already_started",
  "execution_terminal",
  "unknown_node",
  "signal_unknown",
  "already_paused",
  "not_paused",
  "execution_running",
  "execution_not_failed",
  "node_unknown",
  "migration_refused",
]);

// ---- 5. replay of every new event equals evolve

const seen = new Set<EventType>();

Deno.test("steer (property): replay of any history equals the decided state; one-by-one equals evolveAll", () => {
  fc.assert(
    fc.property(choicesArb, fc.integer({ min: 20, max: 90 }), (choices, steps) => {
      const pick = new Picker(choices);
      const plans = versions(pick);
      const run = new Run(plans[0], false, "ex-fuzz");
      for (let i = 0; i < steps; i++) {
        const { before, command, decision } = fuzzStep(run, pick, plans);
        if (!decision.ok) {
          assert(REJECTIONS.has(decision.rejection.code), decision.rejection.code);
          assertStrictEquals(run.state, before);
          continue;
        }
        assertEquals(
          run.state,
          decision.state,
          `the decision's state is its events evolved (${command.type})`,
        );
        if (before.status === "running" && before.paused && command.type !== "Resume") {
          assertEquals(starts(decision.events), [], `${command.type} started something while paused`);
        }
        checkPausedState(run.state);
        for (const e of decision.events) seen.add(e.type);
      }
      assertEquals(replay("ex-fuzz", plans[0], run.events, run.planOf), run.state);
      const init = initialState("ex-fuzz", plans[0]);
      assertEquals(evolveAll(init, run.events, run.planOf), run.state);
      const builder = new StateBuilder(init, run.planOf);
      for (const e of run.events) builder.add(e);
      assertEquals(builder.state, run.state);
      run.events.forEach((e, i) => assertStrictEquals(e.seq, i + 1));
    }),
    { numRuns: 150 },
  );
  // The generator reaches every new event (else the property says little).
  const wanted: EventType[] = [
    "ExecutionPaused",
    "ExecutionResumed",
    "ExecutionReopened",
    "ExecutionMigrated",
    "ExecutionAdmitted",
    "ChildrenPlanned",
    "ChildStarted",
    "ChildEnded",
    "ExecutionTerminated",
    "SignalReceived",
    "NodeRetryScheduled",
    "TimerFired",
  ];
  assertEquals(wanted.filter((t) => !seen.has(t)), []);
});

// ---- 1. pause never lets a node start

Deno.test("steer (property): after Pause and before Resume no node and no child starts", () => {
  const noResume = new Set(["Resume", "Retry", "Rerun"]);
  fc.assert(
    fc.property(
      choicesArb,
      fc.nat({ max: 40 }),
      fc.integer({ min: 5, max: 50 }),
      (choices, prefix, paused) => {
        const pick = new Picker(choices);
        const plans = versions(pick);
        const run = new Run(plans[0], false, "ex-pause");
        for (let i = 0; i < prefix; i++) fuzzStep(run, pick, plans, new Set(["Cancel", "Pause"]));
        if (run.state.status !== "running") return;
        if (!run.state.paused) run.ok({ type: "Pause", reason: "hold" });
        for (let i = 0; i < paused; i++) {
          const { command, decision } = fuzzStep(run, pick, plans, noResume);
          if (decision.ok) {
            assertEquals(
              starts(decision.events),
              [],
              `${command.type} started something while paused`,
            );
          }
          assertStrictEquals(run.state.paused, true);
          checkPausedState(run.state);
        }
        if (run.state.status !== "running") return;
        const resumed = run.ok({ type: "Resume" });
        assertEquals(resumed.filter((e) => e.type !== "ChildStarted").map((e) => e.type), [
          "ExecutionResumed",
        ]);
        run.startScheduled();
        assertEquals(pendingWork(run.state).toStart, [], "what waited starts on Resume");
      },
    ),
    { numRuns: 150 },
  );
});

// ---- 2. resume loses no timer

const withoutSeq = (d: Decision) => {
  assert(d.ok);
  return d.events.map(({ seq: _seq, ...rest }) => rest);
};

Deno.test("steer (property): every timer comes back on Resume and fires as it would have unpaused", () => {
  fc.assert(
    fc.property(choicesArb, fc.nat({ max: 40 }), fc.nat({ max: 3000 }), (choices, prefix, pause) => {
      const pick = new Picker(choices);
      const plans = versions(pick);
      const run = new Run(plans[0], false, "ex-timers");
      run.ok({ type: "Start", input: null });
      driveToTimers(run, pick, prefix);
      if (run.state.status !== "running" || run.state.queued) return;
      const s0 = run.state;
      const t0 = pendingTimers(s0);
      run.ok({ type: "Pause", reason: "hold" });
      const timeout = s0.timeoutAt;
      let t1 = run.now + pause;
      if (timeout !== null) t1 = Math.max(run.now, Math.min(t1, timeout - 1));
      run.now = t1;
      for (const t of t0) {
        if (t.kind !== "execution-timeout") assertEquals(run.ok({ type: "FireTimer", timerId: t.id }), []);
      }
      assertEquals(run.ok({ type: "Resume" }).map((e) => e.type), ["ExecutionResumed"]);
      assertEquals(pendingTimers(run.state), t0, "every timer is pending again, due when it was");

      // Firing them now does what firing them without the pause would have done.
      let resumed = run.state;
      let unpaused = s0;
      let at = t1;
      for (const t of t0) {
        at = Math.max(at, t.dueAt);
        const a = decide(resumed, { type: "FireTimer", timerId: t.id }, at);
        const b = decide(unpaused, { type: "FireTimer", timerId: t.id }, at);
        assertEquals(withoutSeq(a), withoutSeq(b), `timer ${t.id}`);
        assert(a.ok && b.ok);
        resumed = a.state;
        unpaused = b.state;
      }
      assertEquals({ ...resumed, lastSeq: 0 }, { ...unpaused, lastSeq: 0 });
    }),
    { numRuns: 150 },
  );
});

Deno.test("steer (property): with work going on during a pause, Resume brings back every timer", () => {
  const duringSkip = new Set(["Pause", "Resume", "Cancel", "Retry", "Rerun", "Migrate"]);
  fc.assert(
    fc.property(
      choicesArb,
      fc.nat({ max: 40 }),
      fc.integer({ min: 1, max: 30 }),
      (choices, prefix, during) => {
        const pick = new Picker(choices);
        const plans = versions(pick);
        const run = new Run(plans[0], false, "ex-timers2");
        run.ok({ type: "Start", input: null });
        driveToTimers(run, pick, prefix);
        if (run.state.status !== "running") return;
        const s0 = run.state;
        run.ok({ type: "Pause", reason: "hold" });
        for (let i = 0; i < during; i++) fuzzStep(run, pick, plans, duringSkip);
        if (run.state.status !== "running") return;
        const held = run.state;
        const due = pendingTimers({ ...held, paused: false });
        run.ok({ type: "Resume" });
        const after = pendingTimers(run.state);
        assertEquals(after, due, "the timers of the paused state, all of them");
        for (const t of pendingTimers(s0)) {
          // A timer whose node nothing touched during the pause is still there, due as before.
          if (t.nodeId === undefined || held.nodes[t.nodeId] === s0.nodes[t.nodeId]) {
            assert(after.some((x) => x.id === t.id && x.dueAt === t.dueAt), `timer ${t.id} lost`);
          }
        }
      },
    ),
    { numRuns: 100 },
  );
});

// ---- 3. rerun from a node leaves upstream outputs untouched

/** Runs the execution as the runtime would until it ends, or for `maxSteps`; `failPct`% of attempts fail. */
function drive(run: Run, pick: Picker, failPct: number, maxSteps = 500, cancelAt = -1): void {
  for (let step = 0; run.state.status === "running" && step < maxSteps; step++) {
    if (step === cancelAt) {
      run.ok({ type: "Cancel", reason: "stop" });
      return;
    }
    const command = workStep(run.state, pick, failPct);
    if (command !== undefined) {
      run.ok(command, run.now + pick.next(50));
      continue;
    }
    const timers = pendingTimers(run.state);
    assert(timers.length > 0, `stuck at step ${step}`);
    run.ok({ type: "FireTimer", timerId: timers[0].id }, Math.max(run.now, timers[0].dueAt));
  }
}

/** Runs some steps, stopping early (mostly) once a node waits on a timer. */
function driveToTimers(run: Run, pick: Picker, maxSteps: number): void {
  for (let i = 0; i < maxSteps && run.state.status === "running"; i++) {
    if (pendingTimers(run.state).some((t) => t.kind !== "execution-timeout") && pick.chance(70)) return;
    drive(run, pick, 30, 1);
  }
}

/** Every node reachable from `from` along edges (computed here, apart from the decider's own). */
function reachable(plan: Plan, from: string[]): Set<string> {
  const out = new Set<string>(from);
  for (let changed = true; changed;) {
    changed = false;
    for (const n of plan.nodes) {
      if (!out.has(n.id) && n.parents.some((p) => out.has(p.source))) {
        out.add(n.id);
        changed = true;
      }
    }
  }
  return out;
}

Deno.test("steer (property): a rerun resets the node and its downstream only, and then completes", () => {
  const options: RandomPlanOptions = { timeouts: false, failingTerminate: false };
  fc.assert(
    fc.property(
      choicesArb,
      fc.constantFrom(0, 20, 40),
      fc.integer({ min: -1, max: 12 }),
      fc.nat(),
      (choices, failPct, cancelAt, from) => {
        const pick = new Picker(choices);
        const plan = buildPlanFrom(pick, options);
        const run = new Run(plan, true, "ex-rerun");
        run.ok({ type: "Start", input: { n: 1 } });
        drive(run, pick, failPct, 500, cancelAt);
        const before = run.state;
        const fromNode = plan.nodes[from % plan.nodes.length].id;
        const broken = plan.nodes.filter((n) => ["failed", "cancelled"].includes(before.nodes[n.id].status));
        const reset = reachable(plan, [fromNode, ...broken.map((n) => n.id)]);

        const decision = decide(before, { type: "Rerun", fromNode }, run.now + 1);
        if (!decision.ok) throw new Error(`Rerun refused: ${decision.rejection.code}`);
        const reopened = decision.state;
        for (const n of plan.nodes) {
          const was = before.nodes[n.id];
          const got = reopened.nodes[n.id];
          if (!reset.has(n.id)) assertStrictEquals(got, was, `${n.id} must be untouched`);
          else {
            assert(["pending", "scheduled", "skipped"].includes(got.status), `${n.id} is ${got.status}`);
            assertStrictEquals(got.attempts, was.attempts, "attempt counts go on");
            assertStrictEquals(got.outputRef, null);
          }
        }
        run.now++;
        run.apply(decision.events);
        run.startScheduled();
        drive(run, pick, 0);
        assertStrictEquals(run.state.status, "completed");
        for (const n of plan.nodes) {
          if (!reset.has(n.id)) assertStrictEquals(run.state.nodes[n.id], before.nodes[n.id], `${n.id} kept`);
        }
        // Attempt numbers are never reused, so output refs stay unique.
        const last = new Map<string, number>();
        const refs = new Set<string>();
        for (const e of run.events) {
          if (e.type === "NodeStarted") {
            assertStrictEquals(e.attempt, (last.get(e.nodeId) ?? 0) + 1, `attempts of ${e.nodeId}`);
            last.set(e.nodeId, e.attempt);
          }
          if (e.type === "NodeSucceeded" && e.outputRef !== null) {
            assert(!refs.has(e.outputRef), `output ref ${e.outputRef} reused`);
            refs.add(e.outputRef);
          }
        }
        assertEquals(replay("ex-rerun", plan, run.events), run.state);
      },
    ),
    { numRuns: 150 },
  );
});

function buildPlanFrom(pick: Picker, options: RandomPlanOptions): Plan {
  const def = randomDefinition(pick, options);
  return buildPlan(def.nodes, def.edges);
}
