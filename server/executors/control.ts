/**
 * Executors of the control nodes that run effects: http (`http_node.ts`) and condition. (delay and
 * signal.wait live in the core.)
 *
 * @module
 */
import type { Executor, Json } from "./executor.ts";
import { compileExpression, evaluateInput, isTruthy } from "./expression.ts";

export { http } from "./http_node.ts";
export { MAX_RESPONSE_BYTES, readBounded, retryableStatus } from "./http_response.ts";
export { fillTemplate } from "./http_template.ts";

/**
 * condition: evaluates `condition` once over the whole input, with the JSONata
 * input `{records, count, value}` (`value` is the first record, absent when there
 * are none) and `$input` (the execution's input), `$records` bound. So `count > 5`,
 * `value > 10` and `$sum(records) > 100` work. Truthy (JSONata's boolean cast; no
 * match is false) takes the handle `true`, else `false`. The records pass through.
 */
export const condition: Executor = async (ctx) => {
  const expr = compileExpression(ctx.config.condition as string);
  const records = ctx.inputs.records;
  const input: { [key: string]: Json } = { records, count: records.length };
  if (records.length > 0) input.value = records[0];
  const result = await evaluateInput(expr, input, { input: ctx.executionInput, records }, "the input");
  return { records, handle: isTruthy(result) ? "true" : "false" };
};
