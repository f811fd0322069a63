/**
 * A workflow's version list: what storage tells of each stored version without its definition (so a page of
 * 500 stays small), and the cursor of the listing, newest version first. Shared by every backend.
 *
 * @module
 */
import type { StoredWorkflow } from "./records.ts";
import { InvalidCursor } from "./storage.ts";

/** One stored version of a workflow, summarised. */
export interface WorkflowVersionInfo {
  id: string;
  version: number;
  /** The definition's `name`. */
  name: string;
  /** The content hash of the definition (equal hashes, identical definitions). */
  hash: string;
  /** When this version was stored (epoch ms). */
  createdAt: number;
  nodeCount: number;
  edgeCount: number;
}

/**
 * The summary of a stored version.
 *
 * @example
 * ```ts
 * import { versionInfoOf } from "./workflow_versions.ts";
 * const info = versionInfoOf({
 *   id: "w", version: 2, hash: "h", createdAt: 5,
 *   definition: { id: "w", name: "W", edges: [], nodes: [{ id: "s", type: "source", nodeType: "sequence.numbers", config: {} }] },
 * });
 * if (info.nodeCount !== 1 || info.edgeCount !== 0 || info.name !== "W") throw new Error(JSON.stringify(info));
 * ```
 */
export function versionInfoOf(w: StoredWorkflow): WorkflowVersionInfo {
  return {
    id: w.id,
    version: w.version,
    name: w.definition.name,
    hash: w.hash,
    createdAt: w.createdAt,
    nodeCount: w.definition.nodes.length,
    edgeCount: w.definition.edges.length,
  };
}

/**
 * A version listing's cursor: the last listed version (the next page lists the versions below it).
 *
 * @example
 * ```ts
 * import { decodeVersionCursor, encodeVersionCursor } from "./workflow_versions.ts";
 * if (decodeVersionCursor(encodeVersionCursor(7)) !== 7) throw new Error("round trip");
 * ```
 */
export function encodeVersionCursor(version: number): string {
  return String(version);
}

/**
 * Reads a version cursor, or throws `InvalidCursor` (the API answers 400).
 *
 * @example
 * ```ts
 * import { decodeVersionCursor } from "./workflow_versions.ts";
 * let refused = false;
 * try { decodeVersionCursor("x1"); } catch { refused = true; }
 * if (!refused) throw new Error("not a cursor");
 * ```
 */
export function decodeVersionCursor(cursor: string): number {
  const n = /^[1-9]\d{0,9}$/.test(cursor) ? Number(cursor) : NaN;
  if (!(n <= 2 ** 31)) throw new InvalidCursor(cursor);
  return n;
}
