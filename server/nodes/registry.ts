/**
 * The executors of every node kind the runtime runs (behaviour `task` or
 * `condition` in the catalog), keyed by `${type}/${nodeType}`. Each one is wrapped
 * so that its output is checked against the node's limits (`output_too_large`).
 *
 * @module
 */
import type { Executor } from "./executor.ts";
import { enforceLimits } from "./limits.ts";
import {
  fileCsvSource,
  fileTextSource,
  memoryCollection,
  randomNumbers,
  sequenceNumbers,
  sqlQuery,
} from "./sources.ts";
import { aggregate, aggregateCount, batch, distinct, filter, limit, map, sort } from "./transforms.ts";
import { consoleLog, fileCsvSink, fileJsonlSink, fileTextSink, memoryCollect, sqlInsert } from "./sinks.ts";
import { condition, http } from "./control.ts";

/** Wraps an executor so that its records are checked against `ctx.limits`. */
export function withLimits(executor: Executor): Executor {
  return async (ctx) => {
    const result = await executor(ctx);
    enforceLimits(result.records, ctx.limits, ctx.nodeId);
    return result;
  };
}

const RAW: [string, Executor][] = [
  ["source/sequence.numbers", sequenceNumbers],
  ["source/random.numbers", randomNumbers],
  ["source/memory.collection", memoryCollection],
  ["source/file.text", fileTextSource],
  ["source/file.csv", fileCsvSource],
  ["source/sql.query", sqlQuery],
  ["transform/filter", filter],
  ["transform/map", map],
  ["transform/distinct", distinct],
  ["transform/batch", batch],
  ["transform/aggregate", aggregate],
  ["transform/aggregate.count", aggregateCount],
  ["transform/sort", sort],
  ["transform/limit", limit],
  ["sink/console.log", consoleLog],
  ["sink/file.text", fileTextSink],
  ["sink/file.csv", fileCsvSink],
  ["sink/file.jsonl", fileJsonlSink],
  ["sink/memory.collect", memoryCollect],
  ["sink/sql.insert", sqlInsert],
  ["control/http", http],
  ["control/condition", condition],
];

/** Every executor, keyed by `${type}/${nodeType}`, with its output bounded by the node's limits. */
export const EXECUTORS: ReadonlyMap<string, Executor> = new Map(RAW.map(([k, e]) => [k, withLimits(e)]));

/** The executor of a node kind, or `undefined` for a kind without one (delay, signal.wait, unknown). */
export function executorFor(type: string, nodeType: string): Executor | undefined {
  return EXECUTORS.get(`${type}/${nodeType}`);
}
