/**
 * Expression evaluation (JSONata through `server/nodes/expression.ts`), the cost
 * that filter, map, sort and condition nodes pay per record.
 *
 * @module
 */
import { compileExpression, evaluate, matches } from "../server/nodes/expression.ts";

const predicate = compileExpression("value > 10");
const objectPredicate = compileExpression('age >= 18 and country = "NL"');
const mapExpr = compileExpression("value * 2");
const person = { age: 30, country: "NL", name: "ann" };

Deno.bench("filter predicate on a bare value (value > 10)", { group: "expression" }, async () => {
  await matches(predicate, 12, 0, null);
});
Deno.bench("filter predicate on an object record", { group: "expression" }, async () => {
  await matches(objectPredicate, person, 0, null);
});
Deno.bench("map expression (value * 2)", { group: "expression" }, async () => {
  await evaluate(mapExpr, 21, 0, null);
});
Deno.bench("compile (cached) an expression", { group: "expression" }, () => {
  compileExpression("value > 10");
});
