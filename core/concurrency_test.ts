/**
 * The admission rule of concurrency keys: unit cases, and a property over random interleavings of
 * submissions, ends of admitted runs and cancellations of waiting ones — never more admitted than the limit,
 * admissions in submission order, and no run starved (ending the admitted ones admits every waiting run).
 */
import fc from "npm:fast-check@4.11.0";
import { assert, assertEquals } from "../testing/assert.ts";
import { admissible, KeyAdmission } from "./concurrency.ts";

Deno.test("admissible: room under the limit, never negative, never more than wait", () => {
  assertEquals(admissible(1, 0, 0), 0);
  assertEquals(admissible(1, 0, 3), 1);
  assertEquals(admissible(5, 2, 10), 3);
  assertEquals(admissible(5, 2, 1), 1);
  assertEquals(admissible(2, 2, 4), 0);
  assertEquals(admissible(2, 7, 4), 0);
});

Deno.test("a submission never passes a waiting run, even when a slot is free", () => {
  const k = new KeyAdmission(1);
  assertEquals(k.submit("a", 1), "admitted");
  assertEquals(k.submit("b", 2), "queued");
  k.end("a"); // the slot is free, but b has not been admitted yet
  assertEquals(k.submit("c", 3), "queued");
  assertEquals(k.admit(), ["b"]);
  assertEquals(k.waiting(), ["c"]);
  assertEquals(k.submit("b", 9), "admitted", "a known run keeps its status");
});

Deno.test("a lowered limit admits nothing until enough admitted runs end", () => {
  const k = new KeyAdmission(3);
  for (const id of ["a", "b", "c", "d", "e"]) k.submit(id, 0);
  k.limit = 1;
  k.end("a");
  assertEquals(k.admit(), []);
  k.end("b");
  assertEquals(k.admit(), []);
  k.end("c");
  assertEquals(k.admit(), ["d"]);
  k.limit = 4;
  assertEquals(k.admit(), ["e"]);
});

Deno.test("order: recovered waiting runs line up by time, then tie", () => {
  const k = new KeyAdmission(1);
  k.hold("running");
  k.enqueue("x", 30, "x");
  k.enqueue("b", 10, "b");
  k.enqueue("a", 10, "a");
  k.enqueue("gone", 5, "gone");
  k.end("gone");
  k.order();
  assertEquals(k.waiting(), ["a", "b", "x"]);
  k.end("running");
  assertEquals(k.admit(), ["a"]);
});

Deno.test("hold: a waiting run counted admitted leaves the queue", () => {
  const k = new KeyAdmission(1);
  k.enqueue("a", 1);
  k.enqueue("b", 2);
  k.hold("a");
  assertEquals({ running: k.running, waiting: k.waiting() }, { running: 1, waiting: ["b"] });
  k.end("a");
  assertEquals(k.admit(), ["b"]);
  assert(!k.idle);
  k.end("b");
  assert(k.idle);
});

Deno.test("stale entries are compacted: a queue of cancelled runs does not grow without bound", () => {
  const k = new KeyAdmission(1);
  k.submit("holder", 0);
  k.enqueue("first", 0);
  for (let i = 0; i < 10_000; i++) {
    k.enqueue(`r${i}`, i);
    k.end(`r${i}`);
  }
  assertEquals(k.waiting(), ["first"]);
  k.end("holder");
  assertEquals(k.admit(), ["first"]);
  assert(k.admit().length === 0);
});

/** One step of the property: submit a new run, end an admitted one, cancel a waiting one, or re-queue. */
type Op =
  | { kind: "submit" }
  | { kind: "end"; pick: number }
  | { kind: "cancel"; pick: number }
  | { kind: "requeue"; pick: number }
  /** An end whose admission pass is deferred (the runtime holds admissions while a shard recovers). */
  | { kind: "endHeld"; pick: number }
  | { kind: "settle" };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.constant({ kind: "submit" as const }) },
  { weight: 4, arbitrary: fc.nat(1_000).map((pick) => ({ kind: "end" as const, pick })) },
  { weight: 1, arbitrary: fc.nat(1_000).map((pick) => ({ kind: "cancel" as const, pick })) },
  { weight: 1, arbitrary: fc.nat(1_000).map((pick) => ({ kind: "requeue" as const, pick })) },
  { weight: 1, arbitrary: fc.nat(1_000).map((pick) => ({ kind: "endHeld" as const, pick })) },
  { weight: 1, arbitrary: fc.constant({ kind: "settle" as const }) },
);

Deno.test("property: never over the limit, admitted in queue order, nothing starves", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 5 }), fc.array(opArb, { maxLength: 300 }), (limit, ops) => {
      const k = new KeyAdmission(limit);
      let next = 0;
      /** The order runs joined the queue (or were admitted at once), and the order they were admitted. */
      const lineUp: string[] = [];
      const admittedOrder: string[] = [];
      const cancelled = new Set<string>();
      const check = () => assert(k.running <= limit, `${k.running} admitted over a limit of ${limit}`);
      const admitAll = () => {
        for (const id of k.admit()) admittedOrder.push(id);
        check();
        // Room and a waiting run never sit together after an admission pass.
        assert(k.queued === 0 || k.running === limit, "a waiting run while a slot is free");
      };
      for (const op of ops) {
        if (op.kind === "submit") {
          const id = `r${next++}`;
          lineUp.push(id);
          if (k.submit(id, next) === "admitted") admittedOrder.push(id);
          check();
        } else if (op.kind === "settle") {
          admitAll();
        } else if (op.kind === "end" || op.kind === "endHeld") {
          const running = k.admitted().sort();
          if (running.length === 0) continue;
          k.end(running[op.pick % running.length]);
          if (op.kind === "end") admitAll();
        } else if (op.kind === "cancel") {
          const waiting = k.waiting();
          if (waiting.length === 0) continue;
          const id = waiting[op.pick % waiting.length];
          cancelled.add(id);
          k.end(id);
          admitAll();
        } else {
          // A run that ended is reopened: it waits again, at the tail, under a new name in the model.
          const running = k.admitted().sort();
          if (running.length === 0) continue;
          const id = running[op.pick % running.length];
          k.end(id);
          const again = `${id}'`;
          lineUp.push(again);
          k.enqueue(again, next);
          admitAll();
        }
      }
      // Never starve: ending the admitted runs admits every waiting one, in turn.
      admitAll();
      for (let guard = 0; k.running > 0; guard++) {
        assert(guard < 10_000, "did not drain");
        k.end(k.admitted().sort()[0]);
        admitAll();
      }
      assert(k.idle, "every run was admitted and ended");
      assertEquals(
        admittedOrder,
        lineUp.filter((id) => !cancelled.has(id)),
        "admitted in the order they came",
      );
    }),
    { numRuns: 500 },
  );
});
