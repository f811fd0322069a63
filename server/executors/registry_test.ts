import { assert, assertEquals, assertStrictEquals } from "../../testing/assert.ts";
import { CATALOG } from "../../core/catalog.ts";
import { NodeError } from "./executor.ts";
import { executorFor, EXECUTORS } from "./registry.ts";
import { testNodeContext } from "../../testing/node_context.ts";

Deno.test("every task and condition kind of the catalog has an executor, and nothing else does", () => {
  const wanted = CATALOG.filter((k) => k.behaviour === "task" || k.behaviour === "condition")
    .map((k) => `${k.type}/${k.nodeType}`)
    .sort();
  assertEquals([...EXECUTORS.keys()].sort(), wanted);
  for (const k of CATALOG) {
    const has = executorFor(k.type, k.nodeType) !== undefined;
    assertStrictEquals(has, k.behaviour === "task" || k.behaviour === "condition", `${k.type}/${k.nodeType}`);
  }
  assert(executorFor("control", "delay") === undefined);
  assert(executorFor("source", "nope") === undefined);
});

Deno.test("a synchronous executor's failure is a rejected promise, never a throw", () => {
  const exec = executorFor("source", "sequence.numbers")!;
  const p = exec(testNodeContext({ config: { start: 1, end: 1e12, step: 1 }, limits: { maxRecords: 5 } }));
  assert(p instanceof Promise);
  return p.then(
    () => {
      throw new Error("should have failed");
    },
    (e) => assert(e instanceof NodeError && e.code === "output_too_large"),
  );
});
