/**
 * Property tests of `foreach` children: under random item counts, concurrency, failure policies, orders of
 * child ends, stale reports and pauses, at most `maxConcurrency` children live, they start in item order,
 * each ends once, the node fails exactly when failures exceed the tolerated count, and it is collected
 * exactly when all ended. Also: child ids route to their parent's shard.
 */
import fc from "npm:fast-check@4.11.0";
import { assert, assertEquals, assertStrictEquals } from "../testing/assert.ts";
import type { Command } from "./decide.ts";
import { childExecutionId, executionIdFor, keyedExecutionId, routingKey, shardOf } from "./ids.ts";
import { replay } from "./state.ts";
import { buildPlan, edge, N, Picker, Run } from "./testing_plans.ts";
import { liveChildren, pendingWork } from "./timers.ts";

const scenarioArb = fc.record({
  maxConcurrency: fc.integer({ min: 1, max: 5 }),
  count: fc.integer({ min: 0, max: 14 }),
  policy: fc.oneof(
    fc.constant({ failurePolicy: "fail_fast" }),
    fc.constant({ failurePolicy: "continue" }),
    fc.nat({ max: 4 }).map((k) => ({ failurePolicy: "continue", toleratedFailureCount: k })),
  ),
  failPct: fc.constantFrom(0, 10, 30, 70),
  choices: fc.array(fc.noBias(fc.nat()), { minLength: 8, maxLength: 60 }),
});

Deno.test("foreach (property): bounded, ordered, each child ends once, fails exactly past the tolerance", () => {
  fc.assert(
    fc.property(scenarioArb, ({ maxConcurrency, count, policy, failPct, choices }) => {
      const pick = new Picker(choices);
      const plan = buildPlan(
        [N.src("a"), N.foreach("f", { maxConcurrency, ...policy }), N.sink("k")],
        [edge("a", "f"), edge("f", "k")],
      );
      const tolerated = policy.failurePolicy === "fail_fast"
        ? 0
        : (policy as { toleratedFailureCount?: number }).toleratedFailureCount ?? Infinity;
      const run = new Run(plan, true, "ex-each");
      run.ok({ type: "Start", input: null });
      run.ok(run.complete("a"));
      run.ok({ type: "PlanChildren", nodeId: "f", attempt: 1, count });

      const endedIndexes: number[] = [];
      let failures = 0;
      const check = () => {
        const ns = run.state.nodes.f;
        const c = ns.children!;
        assert(c.live.length <= maxConcurrency, `${c.live.length} live > ${maxConcurrency}`);
        const started = run.events.flatMap((e) => (e.type === "ChildStarted" ? [e] : []));
        assertEquals(started.map((e) => e.index), started.map((_, i) => i), "children start in item order");
        for (const e of started) assertStrictEquals(e.childId, childExecutionId("ex-each", "f", 1, e.index));
        assertStrictEquals(
          ns.status === "failed",
          failures > tolerated,
          `${failures} failures, ${tolerated} tolerated`,
        );
        const collect = pendingWork(run.state).toCollect;
        const allEnded = ns.status === "running" && c.count > 0 && c.ended === c.count;
        assertEquals(collect, allEnded ? [{ nodeId: "f", attempt: 1 }] : []);
        if (ns.status === "running" && !run.state.paused) {
          // Slots are never left empty while items wait.
          assertStrictEquals(c.live.length, Math.min(maxConcurrency, c.count - c.ended));
        }
      };
      check();
      for (let step = 0; run.state.nodes.f.status === "running" && step < 200; step++) {
        const c = run.state.nodes.f.children!;
        if (c.ended === c.count) break;
        const x = pick.next(100);
        let command: Command;
        if (x < 10) command = run.state.paused ? { type: "Resume" } : { type: "Pause", reason: "p" };
        else if (x < 20 || c.live.length === 0) {
          // A stale report: an ended child, one not started, another attempt. It changes nothing.
          const index = endedIndexes.length > 0 && pick.chance(50)
            ? pick.of(endedIndexes)
            : c.next + pick.next(3);
          const attempt = pick.chance(80) ? 1 : 2;
          const stale = run.send({ type: "ChildEnded", nodeId: "f", attempt, index, status: "completed" });
          if (c.live.includes(index) && attempt === 1) endedIndexes.push(index);
          else assert(stale.ok && stale.events.length === 0, "a stale report changes nothing");
          if (c.live.length === 0) run.ok({ type: "Resume" }); // only a pause holds the children back
          check();
          continue;
        } else {
          const index = pick.of(c.live);
          const failed = pick.next(100) < failPct;
          command = {
            type: "ChildEnded",
            nodeId: "f",
            attempt: 1,
            index,
            status: failed ? "failed" : "completed",
          };
          endedIndexes.push(index);
          if (failed) failures++;
        }
        const events = run.ok(command, run.now + 1);
        if (run.state.paused && command.type !== "Resume") {
          assertEquals(events.filter((e) => e.type === "ChildStarted"), [], "no child starts while paused");
        }
        check();
      }
      // Out of steps: the rest end well.
      for (
        let c = run.state.nodes.f.children!;
        run.state.nodes.f.status === "running" && c.ended < c.count;
      ) {
        if (run.state.paused) run.ok({ type: "Resume" });
        c = run.state.nodes.f.children!;
        endedIndexes.push(c.live[0]);
        run.ok({ type: "ChildEnded", nodeId: "f", attempt: 1, index: c.live[0], status: "completed" });
        check();
        c = run.state.nodes.f.children!;
      }
      assertEquals(new Set(endedIndexes).size, endedIndexes.length, "each child ends once");
      const ends = run.events.flatMap((e) => (e.type === "ChildEnded" ? [e.index] : []));
      assertEquals(ends, endedIndexes, "every end is recorded once, in order");
      if (run.state.nodes.f.status === "running") {
        if (run.state.paused) run.ok({ type: "Resume" });
        assertStrictEquals(run.state.nodes.f.children!.ended, count);
        run.ok(run.complete("f"), run.now + 1);
        run.ok(run.complete("k"), run.now + 1);
        assertStrictEquals(run.state.status, "completed");
        assert(failures <= tolerated);
      } else if (run.state.nodes.f.status === "completed") {
        assertStrictEquals(count, 0, "no items: done at once");
      } else {
        assertStrictEquals(run.state.status, "failed");
        assertStrictEquals(run.state.error?.code, "child_failed");
        assertEquals(liveChildren(run.state).keep, []);
        assertEquals(
          liveChildren(run.state).cancel.map((c) => c.index),
          run.state.nodes.f.children!.live,
          "the children still live are to cancel",
        );
      }
      assertEquals(replay("ex-each", plan, run.events), run.state);
    }),
    { numRuns: 300 },
  );
});

/** Execution ids as the engine makes them: random, idempotent, keyed, a schedule's run, and children. */
const executionIdArb = fc.oneof(
  fc.uuid(),
  fc.tuple(fc.string({ maxLength: 12 }), fc.string({ minLength: 1, maxLength: 20 })).map(([w, k]) =>
    executionIdFor(w, k)
  ),
  fc.tuple(fc.string({ maxLength: 12 }), fc.string({ maxLength: 20 }), fc.uuid()).map(([w, k, s]) =>
    keyedExecutionId(w, k, s)
  ),
  fc.tuple(fc.uuid(), fc.nat()).map(([s, t]) => `sch-${s}@${t}`),
);

Deno.test("childExecutionId (property): a child, and its children, live in the root's shard", () => {
  fc.assert(
    fc.property(
      executionIdArb,
      fc.array(
        fc.tuple(fc.string({ minLength: 1, maxLength: 10 }), fc.integer({ min: 1, max: 9 }), fc.nat()),
        {
          minLength: 1,
          maxLength: 4,
        },
      ),
      fc.integer({ min: 1, max: 1024 }),
      (root, path, shards) => {
        let id = root;
        for (const [nodeId, attempt, index] of path) {
          const child = childExecutionId(id, nodeId, attempt, index);
          assertStrictEquals(child, childExecutionId(id, nodeId, attempt, index), "fixed by its coordinates");
          assert(child !== childExecutionId(id, nodeId, attempt + 1, index), "another attempt, another id");
          assert(child !== childExecutionId(id, nodeId, attempt, index + 1), "another item, another id");
          assertStrictEquals(routingKey(child), routingKey(root));
          assertStrictEquals(shardOf(child, shards), shardOf(root, shards));
          id = child;
        }
      },
    ),
    { numRuns: 300 },
  );
});
