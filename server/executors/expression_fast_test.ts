import fc from "npm:fast-check@4.11.0";
import { assert, assertEquals, assertStrictEquals } from "../../testing/assert.ts";
import type { Json } from "../../core/json.ts";
import { compileExpression, evaluate, evaluateFast, SLOW } from "./expression.ts";

/** Expressions of the fast subset, as text. */
const field = fc.constantFrom("a", "b", "s", "t", "value", "missing", "o.x", "o.y.z", "arr", "o");
const literal = fc.oneof(
  fc.integer({ min: -3, max: 12 }).map(String),
  fc.constantFrom("0", "0.1", "0.2", "1.25", "1e308", "-0", "'x'", '"10"', "''", "true", "false", "null"),
);
const variable = fc.constantFrom("$index", "$record", "$input", "$input.k");
const binop = fc.constantFrom("+", "-", "*", "/", "%", "=", "!=", "<", "<=", ">", ">=", "and", "or", "&");
const leaf = fc.oneof(field, literal, variable);
const { subset } = fc.letrec((tie) => ({
  subset: fc.oneof(
    { maxDepth: 4, depthIdentifier: "subset" },
    { weight: 3, arbitrary: leaf },
    {
      weight: 5,
      arbitrary: fc.tuple(tie("subset"), binop, tie("subset")).map(([l, op, r]) => `${l} ${op} ${r}`),
    },
    { weight: 1, arbitrary: tie("subset").map((e) => `(${e})`) },
    { weight: 1, arbitrary: tie("subset").map((e) => `-${e}`) },
    {
      weight: 1,
      arbitrary: fc.tuple(tie("subset"), tie("subset"), tie("subset")).map(([c, t, e]) =>
        `${c} ? ${t} : ${e}`
      ),
    },
    { weight: 1, arbitrary: fc.tuple(tie("subset"), tie("subset")).map(([c, t]) => `(${c} ? ${t})`) },
  ),
}));
/** Beyond the subset: these must compile to no fast path, or at least never disagree with JSONata. */
const beyond = fc.oneof(
  subset.map((e) => `$string(${e})`),
  fc.tuple(subset, subset).map(([a, b]) => `[${a}, ${b}]`),
  fc.tuple(subset, binop, subset).map(([a, op, b]) => `arr[${a}] ${op} ${b}`),
  fc.tuple(subset, subset).map(([a, b]) => `{'k': ${a}}.k = ${b}`),
);

const scalar: fc.Arbitrary<Json> = fc.oneof(
  fc.integer({ min: -3, max: 12 }),
  fc.constantFrom(0.5, -0.25, 0.1, 0.1 + 0.2, 1 / 3, 1e308, 3),
  fc.constantFrom("", "x", "ab", "10", "0"),
  fc.boolean(),
  fc.constant(null),
);
const value: fc.Arbitrary<Json> = fc.oneof(
  { weight: 4, arbitrary: scalar },
  { weight: 1, arbitrary: fc.array(scalar, { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.record({ x: scalar, y: fc.record({ z: scalar }) }, { requiredKeys: [] }) },
);
const record: fc.Arbitrary<Json> = fc.oneof(
  value,
  fc.record({ a: value, b: value, s: value, t: value, value, o: value, arr: value }, { requiredKeys: [] }),
);

/** JSONata's answer: the value, or "error". */
async function reference(
  text: string,
  rec: Json,
  index: number,
  input: Json,
): Promise<Json | undefined | "error"> {
  try {
    return await evaluate(compileExpression(text), rec, index, input);
  } catch {
    return "error";
  }
}

Deno.test("the fast path agrees with JSONata whenever it answers (generated expressions and records)", async () => {
  let compiled = 0, answered = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.oneof({ weight: 9, arbitrary: subset }, { weight: 1, arbitrary: beyond }),
      record,
      fc.nat(20),
      fc.oneof(scalar, fc.record({ k: scalar })),
      async (text, rec, index, input) => {
        let c;
        try {
          c = compileExpression(text);
        } catch {
          return; // not valid JSONata (`- -1`, say): nothing to compare
        }
        if (c.fast === undefined) return;
        compiled++;
        const fast = evaluateFast(c, rec, index, input);
        if (fast === SLOW) return;
        answered++;
        const ref = await reference(text, rec, index, input);
        assert(ref !== "error", `fast path answered ${JSON.stringify(fast)} where JSONata fails: ${text}`);
        assertEquals(fast, ref, `${text} on ${JSON.stringify(rec)} (index ${index})`);
      },
    ),
    { numRuns: 4000 },
  );
  // The property has teeth only if the fast path is used: most generated expressions are in the subset.
  assert(compiled > 2500 && answered > 1000, `compiled ${compiled}, answered ${answered}`);
});

Deno.test("the workloads' expressions take the fast path", () => {
  const cases: [string, Json, Json][] = [
    ["value * 2", 21, 42],
    ["value > 5", 6, true],
    ["value + 1", 1, 2],
    ["amount >= 10 and status = 'ok'", { amount: 10, status: "ok" }, true],
    ["price * qty", { price: 2.5, qty: 4 }, 10],
    ["missing > 3", { amount: 1 }, undefined as unknown as Json],
    ["customer.tier = 'gold' ? 0.9 : 1", { customer: { tier: "gold" } }, 0.9],
    ["name & '!'", { name: "ab" }, "ab!"],
  ];
  for (const [text, rec, expected] of cases) {
    const v = evaluateFast(compileExpression(text), rec, 0, null);
    assert(v !== SLOW, `${text} should be fast`);
    assertStrictEquals(v, expected, text);
  }
});

Deno.test("functions, arrays, predicates and objects have no fast path", () => {
  for (
    const text of ["$uppercase(name)", "[value]", "items[price > 3]", "{'a': value}", "$sum(items.price)"]
  ) {
    assertStrictEquals(compileExpression(text).fast, undefined, text);
  }
  // A case the fast path leaves to JSONata: an array operand (JSONata maps or fails).
  assertStrictEquals(evaluateFast(compileExpression("value * 2"), [1, 2], 0, null), SLOW);
});
