/**
 * The set of node kinds one engine knows: the built-in ones (`CATALOG`), plus those an embedding application
 * adds (`defineNodeKind`). Validation, plans and the catalog route all read the same set.
 *
 * @module
 */
import { CATALOG, type NodeKindSpec } from "./catalog.ts";

/**
 * The node kinds one engine knows: the built-in ones, plus those an embedding application adds
 * (`catalogWith`). Validation, plans and the catalog route all read the same one.
 */
export interface Catalog {
  /** Every kind, in palette order (built-in first). */
  readonly kinds: readonly NodeKindSpec[];
  /** The kind of a (type, nodeType) pair, if known. */
  find(type: string, nodeType: string): NodeKindSpec | undefined;
}

function catalogOf(kinds: readonly NodeKindSpec[]): Catalog {
  const byKind = new Map(kinds.map((k) => [`${k.type}/${k.nodeType}`, k]));
  return { kinds, find: (type, nodeType) => byKind.get(`${type}/${nodeType}`) };
}

/** The engine's own node kinds. */
export const BUILTIN_CATALOG: Catalog = catalogOf(CATALOG);

/**
 * The built-in kinds plus `extra`. Throws when an extra kind reuses a built-in (type, nodeType) pair or
 * another extra one's, or when one of them is not a task kind (a custom kind runs an executor).
 *
 * @example
 * ```ts
 * import { catalogWith } from "./catalog_set.ts";
 *
 * const catalog = catalogWith([{
 *   type: "transform", nodeType: "text.upper", displayName: "Upper", icon: "type", description: "Upper-cases",
 *   behaviour: "task", acceptsInput: true, outputs: ["out"], config: {},
 * }]);
 * if (!catalog.find("transform", "text.upper") || !catalog.find("transform", "filter")) throw new Error("both");
 * ```
 */
export function catalogWith(extra: readonly NodeKindSpec[]): Catalog {
  if (extra.length === 0) return BUILTIN_CATALOG;
  const seen = new Set(CATALOG.map((k) => `${k.type}/${k.nodeType}`));
  for (const kind of extra) {
    const key = `${kind.type}/${kind.nodeType}`;
    if (seen.has(key)) throw new Error(`node kind ${key} is already defined`);
    if (kind.behaviour !== "task") {
      throw new Error(`node kind ${key}: a custom kind's behaviour must be task`);
    }
    seen.add(key);
  }
  return catalogOf([...CATALOG, ...extra]);
}
