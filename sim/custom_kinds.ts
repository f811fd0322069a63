/**
 * The application-defined node kinds in the simulator's workload: one kind made by `defineNodeKind` (as an
 * embedding application makes them), run by the same runtime and checked by the same invariants as the
 * built-in kinds. Its records carry the attempt's idempotency key, so a history that recorded the output of
 * an attempt of another execution or node would show it.
 *
 * @module
 */
import { z } from "npm:zod@4.6.7";
import { type Catalog, catalogWith } from "../core/catalog_set.ts";
import type { WorkflowDefinition } from "../core/workflow.ts";
import type { Executor } from "../server/executors/executor.ts";
import { executorFor as builtinExecutor } from "../server/executors/registry.ts";
import { defineNodeKind, runtimeKindOf } from "../server/embed/node_kind.ts";

/** `sim.tag`: each record wrapped with the node's `tag` and the attempt's idempotency key. */
export const TAG_KIND = defineNodeKind({
  type: "transform",
  name: "sim.tag",
  configSchema: z.object({ tag: z.string().min(1).max(20) }),
  run: (ctx, input) => input.map((value) => ({ value, tag: ctx.config.tag, key: ctx.idempotencyKey })),
});

const KINDS = [runtimeKindOf(TAG_KIND)];

/** The built-in kinds plus the workload's own. */
export const SIM_CATALOG: Catalog = catalogWith(KINDS.map((k) => k.spec));

/**
 * The executor of a kind: the workload's own, then the built-in ones.
 *
 * @example
 * ```ts
 * import { simExecutorFor } from "./custom_kinds.ts";
 * if (!simExecutorFor("transform", "sim.tag") || !simExecutorFor("transform", "map")) throw new Error("both");
 * ```
 */
export function simExecutorFor(type: string, nodeType: string): Executor | undefined {
  for (const k of KINDS) if (k.spec.type === type && k.spec.nodeType === nodeType) return k.executor;
  return builtinExecutor(type, nodeType);
}

/** A workflow through the custom kind: numbers, tagged, collected. */
export function customKindWorkflow(): WorkflowDefinition {
  return {
    id: "custom",
    name: "Custom node kind",
    nodes: [
      { id: "src", type: "source", nodeType: "sequence.numbers", config: { end: 3 } },
      { id: "tag", type: "transform", nodeType: "sim.tag", config: { tag: "t" } },
      { id: "out", type: "sink", nodeType: "memory.collect", config: {} },
    ],
    edges: [{ source: "src", target: "tag" }, { source: "tag", target: "out" }],
  };
}
