/**
 * The executors of every node kind the runtime runs (behaviour `task` or
 * `condition` in the catalog), keyed by `${type}/${nodeType}`. The engine checks
 * every executor's output against the node's limits (`output_too_large`).
 *
 * @module
 */
import type { Executor } from "./executor.ts";
import {
  executionInput,
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
import { switchNode } from "./switch.ts";
import { mysqlQuery, mysqlWrite } from "./mysql.ts";
import { sqlTransform } from "./sql_transform.ts";
import { MESSAGING_EXECUTORS } from "./messaging.ts";

const RAW: [string, Executor][] = [
  ["source/sequence.numbers", sequenceNumbers],
  ["source/random.numbers", randomNumbers],
  ["source/execution.input", executionInput],
  ["source/memory.collection", memoryCollection],
  ["source/file.text", fileTextSource],
  ["source/file.csv", fileCsvSource],
  ["source/sql.query", sqlQuery],
  ["source/mysql.query", mysqlQuery],
  ["transform/sql.query", sqlTransform],
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
  ["sink/mysql.write", mysqlWrite],
  ["control/http", http],
  ["control/condition", condition],
  ["control/switch", switchNode],
  ...MESSAGING_EXECUTORS,
];

/** Every executor, keyed by `${type}/${nodeType}`. */
export const EXECUTORS: ReadonlyMap<string, Executor> = new Map(RAW);

/** The executor of a node kind, or `undefined` for a kind without one (delay, signal.wait, unknown). */
export function executorFor(type: string, nodeType: string): Executor | undefined {
  return EXECUTORS.get(`${type}/${nodeType}`);
}
