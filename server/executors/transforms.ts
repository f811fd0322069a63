/**
 * Executors of the transform nodes: filter, map, distinct, batch, aggregate,
 * aggregate.count, sort and limit. Expressions follow the binding rules of
 * `expression.ts` (bare records are `{value: record}`).
 *
 * @module
 */
import { setImmediate } from "node:timers";
import { type Executor, fromSync, type Json, type NodeContext, NodeError } from "./executor.ts";
import { compileExpression, evaluate, evaluateFast, matches, matchesFast, SLOW } from "./expression.ts";
import { canonicalJson, compareValues, fieldOf } from "./values.ts";

/** Yields to the event loop and checks the abort signal every this many records. */
const YIELD_EVERY = 1024;

/**
 * Every `YIELD_EVERY` records, a promise to await (a turn of the event loop: timers and I/O run); `undefined`
 * otherwise. The turn is an immediate, not a `setTimeout(0)`: nested timeouts are clamped to a few
 * milliseconds, which made a 1,000,000-record map wait 2 s in its 977 turns for 0.2 s of work.
 */
function checkpoint(ctx: NodeContext, i: number): Promise<void> | undefined {
  if (i % YIELD_EVERY !== YIELD_EVERY - 1) return undefined;
  ctx.signal.throwIfAborted();
  return new Promise<void>((resolve) => setImmediate(resolve));
}

/** filter: keeps the records whose `condition` is truthy (no match counts as false). */
export const filter: Executor = async (ctx) => {
  const cond = compileExpression(ctx.config.condition as string);
  const { records: input } = ctx.inputs;
  const records: Json[] = [];
  for (let i = 0; i < input.length; i++) {
    const fast = matchesFast(cond, input[i], i, ctx.executionInput);
    if (fast === SLOW ? await matches(cond, input[i], i, ctx.executionInput) : fast) records.push(input[i]);
    const turn = checkpoint(ctx, i);
    if (turn) await turn;
  }
  return { records };
};

/**
 * map: with `expression`, each record becomes the expression's value (null when it
 * matches nothing); otherwise, with `fields` (`{name: expression}`), each record
 * becomes an object of those fields, a field that matches nothing being left out.
 * `expression` wins when both are set.
 */
export const map: Executor = async (ctx) => {
  const { expression, fields } = ctx.config as { expression?: string; fields?: Record<string, unknown> };
  const input = ctx.inputs.records;
  const records: Json[] = new Array(input.length);
  if (expression !== undefined) {
    const expr = compileExpression(expression);
    for (let i = 0; i < input.length; i++) {
      const fast = evaluateFast(expr, input[i], i, ctx.executionInput);
      records[i] = (fast === SLOW ? await evaluate(expr, input[i], i, ctx.executionInput) : fast) ?? null;
      const turn = checkpoint(ctx, i);
      if (turn) await turn;
    }
    return { records };
  }
  if (fields === undefined) {
    throw new NodeError("config_missing", "map needs an expression or fields", false);
  }
  const compiled = Object.entries(fields).map(([name, text]) => {
    if (typeof text !== "string") {
      throw new NodeError("expression_invalid", `fields.${name} must be an expression string`, false);
    }
    return [name, compileExpression(text)] as const;
  });
  for (let i = 0; i < input.length; i++) {
    const out: { [key: string]: Json } = {};
    for (const [name, expr] of compiled) {
      const fast = evaluateFast(expr, input[i], i, ctx.executionInput);
      const v = fast === SLOW ? await evaluate(expr, input[i], i, ctx.executionInput) : fast;
      if (v !== undefined) out[name] = v;
    }
    records[i] = out;
    const turn = checkpoint(ctx, i);
    if (turn) await turn;
  }
  return { records };
};

/**
 * distinct: keeps the first record of each equal set, in input order. Records are
 * equal when deep-equal (object key order ignored), or, with `key`, when their key
 * values are (a key matching nothing counts as null).
 */
export const distinct: Executor = async (ctx) => {
  const key = ctx.config.key === undefined ? undefined : compileExpression(ctx.config.key as string);
  const input = ctx.inputs.records;
  const seen = new Set<string>();
  const records: Json[] = [];
  for (let i = 0; i < input.length; i++) {
    const k = canonicalJson(key ? await evaluate(key, input[i], i, ctx.executionInput) : input[i]);
    if (!seen.has(k)) {
      seen.add(k);
      records.push(input[i]);
    }
    const turn = checkpoint(ctx, i);
    if (turn) await turn;
  }
  return { records };
};

/** batch: arrays of `batchSize` records, in order; the last may be shorter; none for no input. */
export const batch: Executor = fromSync((ctx) => {
  const size = ctx.config.batchSize as number;
  const input = ctx.inputs.records;
  const records: Json[] = [];
  for (let i = 0; i < input.length; i += size) records.push(input.slice(i, i + size));
  return { records };
});

/** The group-by field names of a config value: a name, a list of names, or none. */
export function groupFields(groupBy: unknown): string[] {
  if (groupBy === undefined || groupBy === null) return [];
  const names = Array.isArray(groupBy) ? groupBy : [groupBy];
  for (const n of names) {
    if (typeof n !== "string" || n === "") {
      throw new NodeError("config_type", "groupBy must be a field name or a list of field names", false);
    }
  }
  return names as string[];
}

type Op = "count" | "sum" | "avg" | "min" | "max";

interface Group {
  keys: Json[];
  count: number;
  n: number; // values seen (not null)
  sum: number;
  best: Json | undefined;
}

/**
 * Groups records by `groupBy` field values (a missing field counts as null; for a
 * bare record, the field `value` is the record) and computes `op` over `field`.
 * Groups come out in first-seen order.
 */
function aggregateRecords(input: Json[], by: string[], op: Op, field: string | undefined): Json[] {
  const groups = new Map<string, Group>();
  for (let i = 0; i < input.length; i++) {
    const record = input[i];
    const keys = by.map((f) => fieldOf(record, f) ?? null);
    const id = canonicalJson(keys);
    let g = groups.get(id);
    if (!g) {
      g = { keys, count: 0, n: 0, sum: 0, best: undefined };
      groups.set(id, g);
    }
    g.count++;
    if (op === "count" || field === undefined) continue;
    const v = fieldOf(record, field);
    if (v === undefined || v === null) continue; // nulls are skipped, as in SQL
    if (op === "sum" || op === "avg") {
      if (typeof v !== "number") {
        throw new NodeError(
          "aggregate_type",
          `${op} of ${field}: record ${i} has ${
            JSON.stringify(v)
          }, not a number (convert it with a map first)`,
          false,
        );
      }
      g.sum += v;
      g.n++;
    } else {
      if (typeof v !== "number" && typeof v !== "string") {
        throw new NodeError(
          "aggregate_type",
          `${op} of ${field}: record ${i} has ${JSON.stringify(v)}, not a number or a string`,
          false,
        );
      }
      g.n++;
      const c = g.best === undefined ? 0 : compareValues(v, g.best);
      if (g.best === undefined || (op === "min" ? c < 0 : c > 0)) g.best = v;
    }
  }
  if (by.length === 0 && groups.size === 0) {
    groups.set("[]", { keys: [], count: 0, n: 0, sum: 0, best: undefined });
  }
  const out: Json[] = [];
  for (const g of groups.values()) {
    const o: { [key: string]: Json } = {};
    by.forEach((f, j) => (o[f] = g.keys[j]));
    switch (op) {
      case "count":
        o.count = g.count;
        break;
      case "sum":
        o.sum = g.sum;
        break;
      case "avg":
        o.avg = g.n === 0 ? null : g.sum / g.n;
        break;
      default:
        o[op] = g.best ?? null;
    }
    out.push(o);
  }
  return out;
}

/**
 * aggregate: one object per group, `{...groupFields, [op]: result}`; with no
 * `groupBy`, one object over all records (even none: count 0, sum 0, else null).
 * sum and avg need numbers (nulls and missing values are skipped; anything else
 * fails with `aggregate_type`); min and max compare numbers before strings.
 */
export const aggregate: Executor = fromSync((ctx) => {
  const op = ctx.config.op as Op;
  const field = ctx.config.field as string | undefined;
  if (op !== "count" && field === undefined) {
    throw new NodeError("config_missing", `field is required for op ${op}`, false);
  }
  return {
    records: aggregateRecords(ctx.inputs.records, groupFields(ctx.config.groupBy), op, field),
  };
});

/** aggregate.count: `{...groupFields, count}` per group, or `{count}` over all records. */
export const aggregateCount: Executor = fromSync((ctx) => ({
  records: aggregateRecords(ctx.inputs.records, groupFields(ctx.config.groupBy), "count", undefined),
}));

/**
 * sort: orders records by the `by` expression (the record itself when unset), in
 * `order` (asc by default). Stable. Keys compare numbers numerically before strings
 * (by code unit), then booleans, null, arrays and objects; records whose key
 * matches nothing go last in both orders.
 */
export const sort: Executor = async (ctx) => {
  const by = ctx.config.by === undefined ? undefined : compileExpression(ctx.config.by as string);
  const desc = ctx.config.order === "desc";
  const input = ctx.inputs.records;
  const keyed: { key: Json | undefined; i: number }[] = new Array(input.length);
  for (let i = 0; i < input.length; i++) {
    keyed[i] = { key: by ? await evaluate(by, input[i], i, ctx.executionInput) : input[i], i };
    const turn = checkpoint(ctx, i);
    if (turn) await turn;
  }
  keyed.sort((a, b) => {
    if (a.key === undefined || b.key === undefined) {
      return (a.key === undefined ? 1 : 0) - (b.key === undefined ? 1 : 0) || a.i - b.i;
    }
    const c = compareValues(a.key, b.key);
    return (desc ? -c : c) || a.i - b.i;
  });
  return { records: keyed.map((k) => input[k.i]) };
};

/** limit: the first `count` records. */
export const limit: Executor = fromSync((ctx) => ({
  records: ctx.inputs.records.slice(0, ctx.config.count as number),
}));
