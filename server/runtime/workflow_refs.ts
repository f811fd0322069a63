/**
 * The sub-workflows a definition names (`workflow.run` and `foreach` nodes' `config.workflow`), checked when
 * it is created or updated: each must exist (`workflow_unknown`), a pinned version too (`version_unknown`),
 * and none may lead back to the workflow itself (`workflow_cycle`): A runs B runs … runs A, following each
 * workflow's latest version, or the version a node pins.
 *
 * @module
 */
import { MAX_WORKFLOW_DEPTH } from "../../core/catalog_control.ts";
import type { Problem } from "../../core/schema.ts";
import type { WorkflowDefinition } from "../../core/workflow.ts";

/** A sub-workflow a node names: its node's index, the workflow and its pinned version (`null`: the latest). */
export interface WorkflowRef {
  index: number;
  workflowId: string;
  version: number | null;
}

/** Reads a stored workflow version (`undefined` version: the latest live one). */
export type ReadWorkflow = (
  id: string,
  version?: number,
) => Promise<{ definition: WorkflowDefinition } | undefined>;

/** Most workflow versions one check reads. */
const MAX_READS = 256;

/**
 * The sub-workflows a definition's children nodes name, in node order.
 *
 * @example
 * ```ts
 * import { workflowRefs } from "./workflow_refs.ts";
 * const refs = workflowRefs({ id: "a", name: "a", edges: [], nodes: [
 *   { id: "each", type: "control", nodeType: "foreach", config: { workflow: "b", version: 2 } }] });
 * if (refs[0].workflowId !== "b" || refs[0].version !== 2) throw new Error();
 * ```
 */
export function workflowRefs(definition: WorkflowDefinition): WorkflowRef[] {
  const refs: WorkflowRef[] = [];
  definition.nodes.forEach((node, index) => {
    if (node.type !== "control" || (node.nodeType !== "workflow.run" && node.nodeType !== "foreach")) return;
    const { workflow, version } = node.config as { workflow?: unknown; version?: unknown };
    if (typeof workflow !== "string") return;
    refs.push({ index, workflowId: workflow, version: typeof version === "number" ? version : null });
  });
  return refs;
}

/** Reads workflow versions once each, at most `MAX_READS`. */
class Reader {
  readonly #read = new Map<string, Promise<WorkflowDefinition | undefined>>();
  constructor(private readonly read: ReadWorkflow) {}

  get reads(): number {
    return this.#read.size;
  }

  of(id: string, version: number | null): Promise<WorkflowDefinition | undefined> {
    const key = `${id}@${version ?? "latest"}`;
    let p = this.#read.get(key);
    if (!p) {
      p = this.read(id, version ?? undefined).then((w) => w?.definition);
      this.#read.set(key, p);
    }
    return p;
  }
}

/**
 * The path of workflow ids from `from` back to `rootId`'s latest version (which is the definition being
 * written), or `null`: depth-first, at most `MAX_WORKFLOW_DEPTH` levels, each version visited once.
 */
async function cycleFrom(
  rootId: string,
  from: WorkflowDefinition,
  reader: Reader,
  visited: Set<string>,
  depth: number,
): Promise<string[] | null> {
  for (const ref of workflowRefs(from)) {
    if (ref.workflowId === rootId && ref.version === null) return [rootId];
    const key = `${ref.workflowId}@${ref.version ?? "latest"}`;
    if (depth >= MAX_WORKFLOW_DEPTH || visited.has(key) || reader.reads >= MAX_READS) continue;
    visited.add(key);
    const next = await reader.of(ref.workflowId, ref.version);
    if (next === undefined) continue;
    const rest = await cycleFrom(rootId, next, reader, visited, depth + 1);
    if (rest !== null) return [ref.workflowId, ...rest];
  }
  return null;
}

/**
 * The problems of a definition's sub-workflow references: unknown workflows and versions, and cycles back to
 * the definition itself, each with the path of the node's field.
 *
 * @example
 * ```ts
 * import { referenceProblems } from "./workflow_refs.ts";
 * const b = { id: "b", name: "b", edges: [], nodes: [
 *   { id: "run", type: "control" as const, nodeType: "workflow.run", config: { workflow: "a" } }] };
 * const a = { id: "a", name: "a", edges: [], nodes: [
 *   { id: "run", type: "control" as const, nodeType: "workflow.run", config: { workflow: "b" } }] };
 * const read = (id: string) => Promise.resolve(id === "b" ? { definition: b } : undefined);
 * const problems = await referenceProblems(a, read);
 * if (problems[0]?.code !== "workflow_cycle" || problems[0].path !== "$.nodes[0].config.workflow") {
 *   throw new Error(JSON.stringify(problems));
 * }
 * ```
 */
export async function referenceProblems(
  definition: WorkflowDefinition,
  read: ReadWorkflow,
): Promise<Problem[]> {
  const refs = workflowRefs(definition);
  if (refs.length === 0) return [];
  const reader = new Reader(read);
  const problems: Problem[] = [];
  for (const ref of refs) {
    const path = `$.nodes[${ref.index}].config`;
    const self = ref.workflowId === definition.id;
    if (self && ref.version === null) {
      problems.push({
        path: `${path}.workflow`,
        code: "workflow_cycle",
        message: `${definition.id} runs itself`,
      });
      continue;
    }
    const target = await reader.of(ref.workflowId, ref.version);
    if (target === undefined) {
      if (ref.version !== null && (await reader.of(ref.workflowId, null)) !== undefined) {
        const message = `workflow ${ref.workflowId} has no version ${ref.version}`;
        problems.push({ path: `${path}.version`, code: "version_unknown", message });
      } else if (!self) {
        const message = `no workflow ${ref.workflowId}`;
        problems.push({ path: `${path}.workflow`, code: "workflow_unknown", message });
      } else {
        const message = `${definition.id} has no version ${ref.version} yet`;
        problems.push({ path: `${path}.version`, code: "version_unknown", message });
      }
      continue;
    }
    const visited = new Set([`${ref.workflowId}@${ref.version ?? "latest"}`]);
    const cycle = await cycleFrom(definition.id, target, reader, visited, 1);
    if (cycle !== null) {
      const message = `a cycle of sub-workflows: ${[definition.id, ref.workflowId, ...cycle].join(" → ")}`;
      problems.push({ path: `${path}.workflow`, code: "workflow_cycle", message });
    }
  }
  return problems;
}
