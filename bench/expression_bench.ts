/**
 * Expression evaluation (`server/executors/expression.ts`), the cost that filter, map,
 * sort and condition nodes pay per record: JSONata itself, and the fast path that
 * simple expressions take (`expression_fast.ts`). Each pair is one group, so
 * `deno bench` prints the ratio.
 *
 * @module
 */
import {
  compileExpression,
  evaluate,
  evaluateFast,
  matches,
  matchesFast,
} from "../server/executors/expression.ts";

const predicate = compileExpression("value > 10");
const objectPredicate = compileExpression('age >= 18 and country = "NL"');
const mapExpr = compileExpression("value * 2");
const person = { age: 30, country: "NL", name: "ann" };

Deno.bench("JSONata: value > 10", { group: "predicate on a bare value", baseline: true }, async () => {
  await matches(predicate, 12, 0, null);
});
Deno.bench("fast path: value > 10", { group: "predicate on a bare value" }, () => {
  matchesFast(predicate, 12, 0, null);
});
Deno.bench(
  'JSONata: age >= 18 and country = "NL"',
  { group: "predicate on an object", baseline: true },
  async () => {
    await matches(objectPredicate, person, 0, null);
  },
);
Deno.bench('fast path: age >= 18 and country = "NL"', { group: "predicate on an object" }, () => {
  matchesFast(objectPredicate, person, 0, null);
});
Deno.bench("JSONata: value * 2", { group: "map expression", baseline: true }, async () => {
  await evaluate(mapExpr, 21, 0, null);
});
Deno.bench("fast path: value * 2", { group: "map expression" }, () => {
  evaluateFast(mapExpr, 21, 0, null);
});
Deno.bench("compile (cached) an expression", { group: "compile" }, () => {
  compileExpression("value > 10");
});
