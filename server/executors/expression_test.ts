import {
  assert,
  assertEquals,
  assertRejects,
  assertStrictEquals,
  assertThrows,
} from "../../testing/assert.ts";
import { NodeError } from "./executor.ts";
import {
  compileExpression,
  evaluate,
  evaluateInput,
  isTruthy,
  matches,
  recordInput,
  validateExpression,
} from "./expression.ts";

function isNodeError(code: string, retryable?: boolean) {
  return (e: unknown) => {
    assert(e instanceof NodeError, `expected a NodeError, got ${e}`);
    assertStrictEquals(e.code, code);
    if (retryable !== undefined) assertStrictEquals(e.retryable, retryable);
    return true;
  };
}

Deno.test("a bare value is evaluated as {value: record}", async () => {
  const gt = compileExpression("value > 10");
  assertStrictEquals(await evaluate(gt, 11, 0, null), true);
  assertStrictEquals(await evaluate(gt, 5, 0, null), false);
  assertStrictEquals(await evaluate(compileExpression("$uppercase(value)"), "abc", 0, null), "ABC");
  assertStrictEquals(await evaluate(compileExpression("$count(value)"), [1, 2, 3], 0, null), 3);
  assertStrictEquals(await evaluate(compileExpression("value = null"), null, 0, null), true);
  assertEquals(recordInput(7), { value: 7 });
});

Deno.test("an object record is the input itself", async () => {
  const rec = { amount: 3, name: "x", value: "own" };
  assertStrictEquals(await evaluate(compileExpression("amount * 2"), rec, 0, null), 6);
  assertStrictEquals(await evaluate(compileExpression("value"), rec, 0, null), "own");
  assertEquals(await evaluate(compileExpression("{'n': name, 'a': amount}"), rec, 0, null), { n: "x", a: 3 });
});

Deno.test("$record, $index and $input are bound", async () => {
  const e = compileExpression("[$record, $index, $input.threshold]");
  assertEquals(await evaluate(e, 5, 3, { threshold: 9 }), [5, 3, 9]);
  assertEquals(await evaluate(e, { a: 1 }, 0, { threshold: 1 }), [{ a: 1 }, 0, 1]);
  assertStrictEquals(await matches(compileExpression("value > $input.min"), 5, 0, { min: 4 }), true);
});

Deno.test("numbers and sequences come back as plain JSON", async () => {
  const doubled = await evaluate(compileExpression("value * 2"), 21, 0, null);
  assertStrictEquals(doubled, 42);
  assertStrictEquals(typeof doubled, "number");
  const seq = await evaluate(compileExpression("items.(p * 2)"), { items: [{ p: 1 }, { p: 2 }] }, 0, null);
  assert(Array.isArray(seq));
  assertEquals(Object.keys(seq), ["0", "1"]);
  assertStrictEquals(JSON.stringify(seq), "[2,4]");
  assertStrictEquals(await evaluate(compileExpression("0 * -1"), 1, 0, null), 0);
  assert(!Object.is(await evaluate(compileExpression("0 * -1"), 1, 0, null), -0));
});

Deno.test("no match is undefined, and a false predicate", async () => {
  const e = compileExpression("missing > 1");
  assertStrictEquals(await evaluate(e, { other: 1 }, 0, null), undefined);
  assertStrictEquals(await matches(e, { other: 1 }, 0, null), false);
  assertStrictEquals(await matches(compileExpression("nothing"), 3, 0, null), false);
});

Deno.test("invalid syntax is expression_invalid with position, not retryable", () => {
  assertThrows(() => compileExpression("value >"), isNodeError("expression_invalid", false));
  assertThrows(() => compileExpression("   "), isNodeError("expression_invalid", false));
  try {
    compileExpression("(value + 1");
    throw new Error("unreachable");
  } catch (e) {
    assert(e instanceof NodeError);
    assert(/position \d+/.test(e.message), e.message);
  }
  assertStrictEquals(validateExpression("value > 10"), undefined);
  const msg = validateExpression("value >");
  assert(msg !== undefined && msg.includes("invalid expression"), msg);
});

Deno.test("evaluation errors are expression_error; runaway recursion is expression_limit", async () => {
  await assertRejects(
    () => evaluate(compileExpression("value + 1"), "text", 4, null),
    (e: unknown) => isNodeError("expression_error", false)(e) && (e as Error).message.includes("record 4"),
  );
  await assertRejects(
    () => evaluate(compileExpression("($f := function($x) { $f($x) + 1 }; $f(1))"), 1, 0, null),
    isNodeError("expression_limit", false),
  );
  await assertRejects(
    () => evaluate(compileExpression("function($x) { $x }"), 1, 0, null),
    isNodeError("expression_result", false),
  );
});

Deno.test("compiled expressions are cached by text", () => {
  assertStrictEquals(compileExpression("a + b"), compileExpression("a + b"));
});

Deno.test("isTruthy follows JSONata's boolean cast", () => {
  for (const v of [undefined, null, false, 0, "", [], {}, [0, ""], NaN]) {
    assertStrictEquals(isTruthy(v), false);
  }
  for (const v of [true, 1, -1, "x", [0, 1], { a: 0 }]) assertStrictEquals(isTruthy(v), true);
});

Deno.test("evaluateInput takes an explicit input and bindings", async () => {
  const r = await evaluateInput(compileExpression("count + $extra"), { count: 2 }, { extra: 3 });
  assertStrictEquals(r, 5);
});
