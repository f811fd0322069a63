/**
 * The engine's expression language: JSONata, compiled once per expression text
 * (a bounded, approximately LRU cache) and evaluated against one record at a time. Never `eval`.
 *
 * Binding rules, for an expression evaluated on a record:
 * - an object record is the input itself, so `amount > 10` reads its field;
 * - any other record (number, string, boolean, null, array) is wrapped as
 *   `{value: record}`, so the old engine's `value > 10` keeps working;
 * - the variables `$record` (the record, unwrapped), `$index` (its position in the
 *   node's input) and `$input` (the execution's input) are bound in both cases.
 *
 * A result of JSONata "undefined" (nothing matched) is returned as `undefined`; a
 * predicate treats it as false.
 *
 * @module
 */
import jsonata from "npm:jsonata@2.2.2";
import { BoundedCache } from "../../core/cache.ts";
import { type Json, NodeError } from "./executor.ts";
import { compileFast, type FastExpression, SLOW } from "./expression_fast.ts";
import { isObject } from "./values.ts";

export { SLOW };

/** A compiled expression; get one from {@link compileExpression}. */
export interface CompiledExpression {
  /** The expression text as written. */
  readonly text: string;
  /** The compiled JSONata expression (shared: evaluate it only with per-call bindings). */
  readonly expr: jsonata.Expression;
  /** The same expression as a synchronous closure, when it is simple enough (see `expression_fast.ts`). */
  readonly fast: FastExpression | undefined;
}

/** Evaluation guardrails: wall time per evaluation, nesting depth, sequence length. */
const OPTIONS = { timeout: 5_000, stack: 1_000, sequence: 1_000_000 };

/** How many compiled expressions the cache keeps. */
export const EXPRESSION_CACHE_SIZE = 1_000;

const cache = new BoundedCache<string, CompiledExpression>(EXPRESSION_CACHE_SIZE);

interface JsonataFailure {
  code?: string;
  position?: number;
  token?: string;
  message?: string;
}

function failureOf(e: unknown): JsonataFailure {
  return typeof e === "object" && e !== null ? (e as JsonataFailure) : { message: String(e) };
}

function shorten(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

function syntaxMessage(e: unknown): string {
  const f = failureOf(e);
  const where = typeof f.position === "number" ? ` at position ${f.position}` : "";
  return `${f.message ?? "syntax error"}${where}${f.code ? ` (${f.code})` : ""}`;
}

/**
 * Compiles `text`, from the cache when it was compiled recently.
 *
 * @throws {NodeError} code `expression_invalid` (not retryable) with JSONata's
 * message and position when `text` is not a valid expression.
 */
export function compileExpression(text: string): CompiledExpression {
  if (typeof text !== "string" || text.trim() === "") {
    throw new NodeError("expression_invalid", "an expression must be a non-empty string", false);
  }
  const hit = cache.get(text);
  if (hit) return hit;
  let expr: jsonata.Expression;
  try {
    expr = jsonata(text, OPTIONS);
  } catch (e) {
    throw new NodeError(
      "expression_invalid",
      `invalid expression "${shorten(text)}": ${syntaxMessage(e)}`,
      false,
    );
  }
  const compiled: CompiledExpression = { text, expr, fast: compileFast(expr.ast()) };
  cache.set(text, compiled);
  return compiled;
}

/**
 * Checks an expression's syntax, for the API's validation layer.
 *
 * @returns the error message, or `undefined` when `text` compiles.
 */
export function validateExpression(text: string): string | undefined {
  try {
    compileExpression(text);
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

/** The JSONata input for a record: the record when it is an object, else `{value: record}`. */
export function recordInput(record: Json): Json {
  return isObject(record) ? record : { value: record };
}

/**
 * Evaluates `compiled` on one record synchronously when its fast path decides the
 * case; {@link SLOW} means "call {@link evaluate}" (JSONata itself).
 */
export function evaluateFast(
  compiled: CompiledExpression,
  record: Json,
  index: number,
  executionInput: Json,
): Json | undefined | typeof SLOW {
  if (compiled.fast === undefined) return SLOW;
  const v = compiled.fast({ input: recordInput(record), record, index, executionInput });
  return v === 0 ? 0 : v; // -0 becomes 0, as toJson does
}

/**
 * Evaluates `compiled` on one record (see the module doc for the bindings).
 *
 * @returns the value as plain JSON, or `undefined` when nothing matched.
 * @throws {NodeError} `expression_error`, `expression_limit` or `expression_result`
 * (not retryable) when evaluation fails.
 */
export function evaluate(
  compiled: CompiledExpression,
  record: Json,
  index: number,
  executionInput: Json,
): Promise<Json | undefined> {
  return evaluateInput(
    compiled,
    recordInput(record),
    { record, index, input: executionInput },
    `record ${index}`,
  );
}

/**
 * Evaluates `compiled` with an explicit JSONata input and variable bindings (names
 * without the `$`). `what` names the subject in error messages.
 */
export async function evaluateInput(
  compiled: CompiledExpression,
  input: Json,
  bindings: Record<string, unknown>,
  what = "input",
): Promise<Json | undefined> {
  let result: unknown;
  try {
    result = await compiled.expr.evaluate(input, bindings);
  } catch (e) {
    const f = failureOf(e);
    const limit = f.code === "D1011" || f.code === "D1012" || f.code === "D2015";
    throw new NodeError(
      limit ? "expression_limit" : "expression_error",
      `expression "${shorten(compiled.text)}" failed on ${what}: ${f.message ?? "error"}${
        f.code ? ` (${f.code})` : ""
      }`,
      false,
    );
  }
  return toJson(result, compiled.text);
}

/**
 * Converts a JSONata result to plain JSON: sequences become plain arrays, object
 * members that are `undefined` are dropped, `-0` becomes `0`.
 *
 * @throws {NodeError} `expression_result` when the result holds a function.
 */
export function toJson(value: unknown, text = ""): Json | undefined {
  switch (typeof value) {
    case "undefined":
      return undefined;
    case "string":
    case "boolean":
      return value;
    case "number":
      return Object.is(value, -0) ? 0 : value;
    case "function":
      throw new NodeError("expression_result", `expression "${shorten(text)}" returned a function`, false);
  }
  if (value === null) return null;
  if (Array.isArray(value)) {
    const out: Json[] = [];
    for (const item of value) {
      const j = toJson(item, text);
      if (j !== undefined) out.push(j);
    }
    return out;
  }
  if (typeof value === "object") {
    const o = value as Record<string, unknown>;
    if (o._jsonata_lambda || o._jsonata_function) {
      throw new NodeError("expression_result", `expression "${shorten(text)}" returned a function`, false);
    }
    const out: { [key: string]: Json } = {};
    for (const [k, v] of Object.entries(o)) {
      const j = toJson(v, text);
      if (j !== undefined) out[k] = j;
    }
    return out;
  }
  return undefined;
}

/**
 * JSONata's boolean cast: `undefined`, null, false, 0, "" , an empty array, an
 * empty object are false; an array is true when any member is; anything else true.
 */
export function isTruthy(value: unknown): boolean {
  if (value === undefined || value === null) return false;
  switch (typeof value) {
    case "boolean":
      return value;
    case "number":
      return value !== 0 && !Number.isNaN(value);
    case "string":
      return value.length > 0;
    case "function":
      return false;
  }
  if (Array.isArray(value)) return value.some(isTruthy);
  if (typeof value === "object") return Object.keys(value).length > 0;
  return false;
}

/** Evaluates a predicate on one record: `undefined` (no match) counts as false. */
export async function matches(
  compiled: CompiledExpression,
  record: Json,
  index: number,
  executionInput: Json,
): Promise<boolean> {
  return isTruthy(await evaluate(compiled, record, index, executionInput));
}

/** `matches`, synchronously when the fast path decides; {@link SLOW} means "call `matches`". */
export function matchesFast(
  compiled: CompiledExpression,
  record: Json,
  index: number,
  executionInput: Json,
): boolean | typeof SLOW {
  const v = evaluateFast(compiled, record, index, executionInput);
  return v === SLOW ? SLOW : isTruthy(v);
}
