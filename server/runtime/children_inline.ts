/**
 * The output of a children node (`foreach`, `workflow.run`): the outputs of its children in item order, and
 * the inline path — children of an all-local workflow run in process, item after item, with no execution of
 * their own (no id, no events, nothing stored but the node's output).
 *
 * @module
 */
import { setImmediate } from "node:timers";
import type { Json } from "../../core/json.ts";
import type { Plan, PlanNode } from "../../core/plan.ts";
import { NodeError } from "../executors/executor.ts";
import { enforceLimits, outputTooLarge } from "../executors/limits.ts";
import { type Clock, systemClock } from "./clock.ts";
import { type LocalRunDeps, runLocalPlan } from "./local_plan.ts";
import type { EngineLimits } from "./options.ts";

/** How a child ended, and its output (empty unless it completed). */
export interface ChildResult {
  status: string;
  records: Json[];
}

/** A node's gathered output with its size as JSON, or why it fails. */
export type Gathered = { ok: true; records: Json[]; bytes: number } | { ok: false; error: NodeError };

/**
 * The output of a children node: the records of its completed children, in item order (a failed or
 * cancelled child gives none), within the engine's bounds (else `output_too_large`, not retryable).
 *
 * @example
 * ```ts
 * import { gatherOutput } from "./children_inline.ts";
 * const node = { id: "each" } as Parameters<typeof gatherOutput>[0];
 * const out = gatherOutput(node, [
 *   { status: "completed", records: [1, 2] },
 *   { status: "failed", records: [] },
 *   { status: "completed", records: [3] },
 * ], { maxRecords: 10, maxBytes: 1000 });
 * if (!out.ok || out.records.join() !== "1,2,3") throw new Error();
 * ```
 */
export function gatherOutput(
  node: Pick<PlanNode, "id">,
  results: readonly (ChildResult | undefined)[],
  limits: Pick<EngineLimits, "maxRecords" | "maxBytes">,
): Gathered {
  let count = 0;
  for (const r of results) if (r?.status === "completed") count += r.records.length;
  if (count > limits.maxRecords) {
    return {
      ok: false,
      error: outputTooLarge(node.id, `${count} records, the limit is ${limits.maxRecords}`),
    };
  }
  const records: Json[] = new Array(count);
  let at = 0;
  for (const r of results) {
    if (r?.status !== "completed") continue;
    for (const record of r.records) records[at++] = record;
  }
  try {
    const bytes = enforceLimits(records, limits, node.id);
    return { ok: true, records, bytes };
  } catch (err) {
    if (err instanceof NodeError) return { ok: false, error: err };
    throw err;
  }
}

/** What an inline run of a node's items needs. */
export interface InlineRun {
  /** Names the node attempt (each item's run is `${runId}[${index}]`). */
  runId: string;
  /** The child workflow's plan: all local. */
  plan: Plan;
  node: PlanNode;
  items: readonly Json[];
  clock: Clock;
  local: LocalRunDeps;
  limits: Pick<EngineLimits, "maxRecords" | "maxBytes">;
  /** Whether the node still waits for the result (checked between items). */
  waits: () => boolean;
  /** Lets the event loop turn (I/O, due timers); default {@link turnOf} the clock. */
  turn?: () => Promise<void>;
}

/**
 * One turn of the event loop: a `setImmediate`, which runs once I/O was polled (and due timers ran), some
 * 20 µs later. Not a zero-delay timer of the system clock: from inside a timer's callback, as a worker's
 * next turn is, those are clamped to 1 – 4 ms, idle time that was a fifth of a 10,000-item inline foreach.
 *
 * @example
 * ```ts
 * import { eventLoopTurn } from "./children_inline.ts";
 * let ran = false;
 * setTimeout(() => ran = true, 0);
 * while (!ran) await eventLoopTurn();
 * ```
 */
export function eventLoopTurn(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * How the inline path lets the event loop turn on `clock`: {@link eventLoopTurn} on the system clock; a
 * zero-delay timer of any other (the simulator's virtual clock orders its own timers, so the turn stays one).
 *
 * @example
 * ```ts
 * import { eventLoopTurn, turnOf } from "./children_inline.ts";
 * import { systemClock } from "./clock.ts";
 * if (turnOf(systemClock) !== eventLoopTurn) throw new Error();
 * ```
 */
export function turnOf(clock: Clock): () => Promise<void> {
  if (clock === systemClock) return eventLoopTurn;
  return () => new Promise<void>((resolve) => clock.setTimer(0, resolve));
}

/** How long the inline path runs items before it lets the event loop turn (clock ms). */
const SLICE_MS = 10;

/**
 * Items of one node in flight at once on the inline path, at most (and at most `maxConcurrency`). They share
 * one thread and wait on nothing outside it, so more would only interleave more runs: more state held at
 * once, and more items to finish before the event loop gets its turn (with a `maxConcurrency` of 1,000 it
 * waited up to 100 ms), for no more items per second.
 */
const INLINE_WORKERS = 16;

/**
 * Runs every item of a children node through an all-local child workflow, in process, at most
 * `maxConcurrency` at a time, and gathers the outputs in item order. A failed item counts against the
 * node's tolerated failures; past them the node fails (`child_failed`, not retryable). Returns `undefined`
 * when the node stopped waiting meanwhile (the parent ended): nothing is reported then.
 *
 * @example
 * ```ts
 * import { runInline } from "./children_inline.ts";
 * import { compilePlan } from "../../core/plan.ts";
 * import { executorFor } from "../executors/registry.ts";
 * import { realServices } from "../executors/services.ts";
 * import { systemClock } from "./clock.ts";
 * const child = compilePlan({ id: "sq", name: "sq", nodes: [
 *   { id: "one", type: "source", nodeType: "sequence.numbers", config: { start: 1, end: 1, step: 1 } },
 *   { id: "sq", type: "transform", nodeType: "map", config: { expression: "$input * $input" } },
 *   { id: "out", type: "sink", nodeType: "memory.collect", config: {} },
 * ], edges: [{ source: "one", target: "sq" }, { source: "sq", target: "out" }] }, 1);
 * const parent = compilePlan({ id: "p", name: "p", edges: [], nodes: [
 *   { id: "each", type: "control", nodeType: "foreach", config: { workflow: "sq", maxConcurrency: 2 } }] }, 1);
 * const services = realServices();
 * const limits = { maxRecords: 100, maxBytes: 1 << 20 };
 * const out = await runInline({
 *   runId: "e/each@1", plan: child, node: parent.nodes[0], items: [1, 2, 3], clock: systemClock,
 *   local: { executorFor, services, limits }, limits, waits: () => true,
 * });
 * await services.close();
 * if (!out?.ok || out.records.join() !== "1,4,9") throw new Error(JSON.stringify(out));
 * ```
 */
export async function runInline(run: InlineRun): Promise<Gathered | undefined> {
  const { node, items, clock } = run;
  const spec = node.subflow!;
  const results: (ChildResult | undefined)[] = new Array(items.length);
  const signal = new AbortController().signal;
  const now = clock.now();
  let next = 0;
  let failed = 0;
  let failure: NodeError | undefined;
  let gone = false;
  let sliceStart = now;
  // One turn of the event loop for all the workers: the first to see the slice over asks for it, the others
  // wait for the same one (one turn per slice, not one per worker), and all go on together after it.
  const eventLoop = run.turn ?? turnOf(clock);
  let turn: Promise<void> | undefined;
  const nextTurn = () =>
    turn ??= eventLoop().then(() => {
      turn = undefined;
      sliceStart = clock.now();
    });
  const worker = async () => {
    while (next < items.length && failure === undefined && !gone) {
      if (turn !== undefined || clock.now() - sliceStart >= SLICE_MS) await nextTurn();
      if (!run.waits()) {
        gone = true;
        return;
      }
      if (next >= items.length || failure !== undefined) return; // others took the rest meanwhile
      const index = next++;
      const out = await runLocalPlan(run.plan, items[index], {
        runId: `${run.runId}[${index}]`,
        now,
        signal,
      }, run.local);
      results[index] = { status: out.status, records: out.output };
      if (out.status !== "completed" && ++failed > spec.toleratedFailures && failure === undefined) {
        const why = out.error ? `: ${out.error.message}` : "";
        failure = new NodeError("child_failed", `item ${index} ended ${out.status}${why}`, false);
      }
    }
  };
  const workers = Math.min(spec.maxConcurrency, items.length, INLINE_WORKERS);
  await Promise.all(Array.from({ length: workers }, worker));
  if (gone || !run.waits()) return undefined;
  if (failure !== undefined) return { ok: false, error: failure };
  return gatherOutput(node, results, run.limits);
}
