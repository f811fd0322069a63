/**
 * Validation of a workflow definition's edges: each edge's ends name nodes, its
 * handles fit the kinds at either end, and no edge repeats another. It also
 * returns the graph of the edges between known nodes, for the cycle check.
 *
 * @module
 */
import type { GraphEdge } from "./graph.ts";
import type { WorkflowEdge } from "./workflow.ts";
import type { NodeInfo } from "./validate_node.ts";
import { isObject, PROBLEM_CODES as C, type Problems, show, typeOf } from "./validate_problems.ts";
import { DEFAULT_TARGET_HANDLE } from "./plan.ts";

/**
 * The old engine's handle names (what its UI sent): a source handle `output` or
 * `source` means the node's only output; a target handle `input` or `target`
 * means the default target handle (`in`). A node with several outputs (a
 * condition's `true`/`false`, a switch's cases) still needs the handle's own name.
 */
export const OLD_SOURCE_HANDLES: readonly string[] = ["output", "source"];
/** See {@link OLD_SOURCE_HANDLES}. */
export const OLD_TARGET_HANDLES: readonly string[] = ["input", "target"];

/**
 * Our name of a source handle: an old name (`output`, `source`) becomes the only
 * output of `outputs`; any other name, or an old one that names a real output or
 * that has no single output to mean, is returned as it is.
 *
 * @example
 * ```ts
 * if (sourceHandleName("output", ["out"]) !== "out") throw new Error("mapped");
 * if (sourceHandleName("output", ["true", "false"]) !== "output") throw new Error("kept");
 * ```
 */
export function sourceHandleName(handle: string, outputs: readonly string[]): string {
  if (outputs.includes(handle) || !OLD_SOURCE_HANDLES.includes(handle) || outputs.length !== 1) return handle;
  return outputs[0];
}

/**
 * Our name of a target handle: `input` and `target` become `in`; any other name is kept.
 *
 * @example
 * ```ts
 * if (targetHandleName("input") !== "in") throw new Error("mapped");
 * ```
 */
export function targetHandleName(handle: string): string {
  return OLD_TARGET_HANDLES.includes(handle) ? DEFAULT_TARGET_HANDLE : handle;
}

/**
 * Validates `$.edges` against the nodes in `byId` (`nodesKnown`: the nodes were
 * an array, so an unknown end is a problem) and returns the edges normalised (a
 * null handle dropped, the old engine's handle names replaced by ours) and the
 * graph of those between known nodes.
 */
export function validateEdges(
  edges: readonly unknown[],
  p: Problems,
  byId: Map<string, NodeInfo>,
  nodesKnown: boolean,
): { normalised: WorkflowEdge[]; graph: GraphEdge[] } {
  const normalised: WorkflowEdge[] = [];
  const graph: GraphEdge[] = [];
  const firstByKey = new Map<string, number>();
  for (let j = 0; j < edges.length; j++) {
    const edge = edges[j];
    const path = `$.edges[${j}]`;
    if (!isObject(edge)) {
      p.add(path, C.type, `edge must be an object, got ${typeOf(edge)}`);
      continue;
    }
    const end = (key: "source" | "target"): { id?: string; info?: NodeInfo } => {
      const id = p.requiredString(edge, key, path, `edge ${key}`);
      if (id === undefined || !nodesKnown) return { id };
      const info = byId.get(id);
      if (info === undefined) p.add(`${path}.${key}`, C.unknownNode, `edge ${key} ${show(id)} names no node`);
      return { id, info };
    };
    const source = end("source");
    const target = end("target");

    // React Flow sends `null` for "no handle": treated (and normalised) as absent.
    const handle = (key: "sourceHandle" | "targetHandle"): string | undefined => {
      const value = edge[key];
      if (value === undefined || value === null) return undefined;
      if (typeof value === "string") return value;
      p.add(`${path}.${key}`, C.type, `${key} must be a string, got ${typeOf(value)}`);
      return undefined;
    };
    const sourceKind = source.info?.kind;
    const targetKind = target.info?.kind;
    const outputs = source.info?.outputs ?? sourceKind?.outputs;
    // The old engine's names, mapped to ours (and stored so): see OLD_SOURCE_HANDLES.
    const givenSource = handle("sourceHandle");
    const sourceHandle = givenSource === undefined || outputs === undefined
      ? givenSource
      : sourceHandleName(givenSource, outputs);
    const givenTarget = handle("targetHandle");
    const targetHandle = givenTarget === undefined ? undefined : targetHandleName(givenTarget);
    p.optional(edge, "id", "string", path);
    p.optional(edge, "label", "string", path);
    p.optional(edge, "animated", "boolean", path);
    p.optional(edge, "style", "object", path);

    if (sourceKind !== undefined && outputs !== undefined) {
      const node = `${show(source.id)}, a ${sourceKind.type}/${sourceKind.nodeType} node`;
      if (outputs.length === 0) {
        p.add(`${path}.source`, C.sinkHasOutput, `edge leaves ${node}, which has no outputs`);
      } else if (sourceHandle === undefined ? outputs.length > 1 : !outputs.includes(sourceHandle)) {
        const what = sourceHandle === undefined
          ? "a sourceHandle is required"
          : `unknown sourceHandle ${show(sourceHandle)}`;
        p.add(`${path}.sourceHandle`, C.unknownHandle, `${what}: ${node} has outputs ${outputs.join(", ")}`);
      }
    }
    if (targetKind !== undefined && !targetKind.acceptsInput) {
      const node = `${show(target.id)}, a ${targetKind.type}/${targetKind.nodeType} node`;
      p.add(`${path}.target`, C.sourceHasInput, `edge leads into ${node}, which takes no input`);
    }

    if (source.id !== undefined && target.id !== undefined) {
      // A missing sourceHandle is the kind's only output, so it equals "out" written out.
      const effectiveHandle = sourceHandle ??
        (sourceKind !== undefined && sourceKind.outputs.length === 1 ? sourceKind.outputs[0] : null);
      // "\u0000" cannot occur in a valid id; "\u0001" marks an absent handle.
      const key = `${source.id}\u0000${target.id}\u0000${effectiveHandle ?? "\u0001"}\u0000${
        targetHandle ?? "\u0001"
      }`;
      const first = firstByKey.get(key);
      if (first !== undefined) {
        p.add(
          path,
          C.duplicateEdge,
          `duplicate edge ${show(source.id)} → ${show(target.id)}: same as $.edges[${first}]`,
        );
      } else firstByKey.set(key, j);
      if (source.info !== undefined && target.info !== undefined) {
        graph.push({ source: source.id, target: target.id });
      }
    }

    const out: WorkflowEdge = { ...edge } as WorkflowEdge;
    if (out.sourceHandle === null) delete out.sourceHandle;
    else if (sourceHandle !== undefined) out.sourceHandle = sourceHandle;
    if (out.targetHandle === null) delete out.targetHandle;
    else if (targetHandle !== undefined) out.targetHandle = targetHandle;
    normalised.push(out);
  }
  return { normalised, graph };
}
