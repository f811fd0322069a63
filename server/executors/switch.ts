/**
 * switch: evaluates its cases in order over the whole input — with the same JSONata input as a condition
 * (`{records, count, value}`, and `$input`, `$records` bound) — and routes the records to the handle of the
 * first case that holds, else to `default`.
 *
 * @module
 */
import { SWITCH_DEFAULT, switchCases } from "../../core/catalog_control.ts";
import type { Executor, Json } from "./executor.ts";
import { compileExpression, evaluateInput, isTruthy } from "./expression.ts";

/**
 * The switch executor.
 *
 * @example
 * ```ts
 * import { switchNode } from "./switch.ts";
 * const ctx = {
 *   config: { cases: [{ handle: "many", when: "count > 2" }, { handle: "some", when: "count > 0" }] },
 *   inputs: { records: [1, 2], byParent: {}, byHandle: {} },
 *   executionInput: null,
 * } as unknown as Parameters<typeof switchNode>[0];
 * const out = await switchNode(ctx);
 * if (out.handle !== "some") throw new Error(String(out.handle));
 * ```
 */
export const switchNode: Executor = async (ctx) => {
  const records = ctx.inputs.records;
  const input: { [key: string]: Json } = { records, count: records.length };
  if (records.length > 0) input.value = records[0];
  for (const c of switchCases(ctx.config)) {
    const result = await evaluateInput(
      compileExpression(c.when),
      input,
      { input: ctx.executionInput, records },
      "the input",
    );
    if (isTruthy(result)) return { records, handle: c.handle };
  }
  return { records, handle: SWITCH_DEFAULT };
};
