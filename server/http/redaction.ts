/**
 * What the API shows of stored definitions: inline credentials hidden as `***` (the rules are in
 * `server/executors/credentials.ts`), and what it stores when a hidden value comes back on an update: the
 * stored value at that place. Every route that returns a definition, a node config or text taken from one
 * goes through here. `{"$secret": "NAME"}` references are not credentials: they are shown as they are.
 *
 * @module
 */
import type { Problem } from "../../core/schema.ts";
import { isSecretRef } from "../../core/secret_ref.ts";
import type { WorkflowDefinition } from "../../core/workflow.ts";
import {
  childPlace,
  credentialValues,
  hides,
  type Place,
  REDACTED,
  redactJson,
  redactUrlPasswords,
  restoreUrlPasswords,
  ROOT_PLACE,
} from "../executors/credentials.ts";
import { transformJson } from "../executors/json_transform.ts";
import { Scrubber } from "../executors/secrets.ts";

export { REDACTED };

/**
 * A definition as the API shows it: every inline credential hidden (`***`; a URL's password becomes
 * `***`). Idempotent; the definition given is not modified.
 *
 * @example
 * ```ts
 * import { redactDefinition } from "./redaction.ts";
 * const shown = redactDefinition({
 *   id: "wf", name: "wf", edges: [],
 *   nodes: [{ id: "q", type: "source", nodeType: "sql.query",
 *     config: { sql: "select 1", connectionUrl: "postgres://app:s3cret@db/app" } }],
 * });
 * if (shown.nodes[0].config.connectionUrl !== "postgres://app:***@db/app") throw new Error();
 * ```
 */
export function redactDefinition<T extends WorkflowDefinition>(definition: T): T {
  return redactJson(definition) as T;
}

/** A text taken from a definition (its name, say) as the API shows it: URL passwords hidden. */
export function redactText(text: string): string {
  return redactUrlPasswords(text);
}

/** One value of an incoming definition with the stored value at the same place (if any). */
interface Pair {
  place: Place;
  stored: unknown;
  /** The definition itself, its list of nodes (paired by id, not by position), or a value inside. */
  at: "root" | "nodes" | "inside";
}

function own(value: unknown, key: string | number): unknown {
  if (typeof value !== "object" || value === null) return undefined;
  if (Array.isArray(value)) return typeof key === "number" ? value[key] : undefined;
  return typeof key === "string" && Object.hasOwn(value, key)
    ? (value as Record<string, unknown>)[key]
    : undefined;
}

/** The stored node with `id`, if `stored` is a list of nodes holding one. */
function storedNode(stored: unknown, node: unknown): unknown {
  const id = own(node, "id");
  if (!Array.isArray(stored) || typeof id !== "string") return undefined;
  return stored.find((n) => own(n, "id") === id);
}

/**
 * The definition to store from an update (`incoming`) and the latest stored version: where the update holds
 * `***` at a place where the stored version had a hidden value, or a URL whose password is `***`, the stored
 * value (or password) is kept. Nodes are paired by id, everything else by its path. So sending back what
 * `GET` showed stores the stored definition again.
 *
 * @example
 * ```ts
 * import { redactDefinition, restoreRedacted } from "./redaction.ts";
 * import type { WorkflowDefinition } from "../../core/workflow.ts";
 * const stored: WorkflowDefinition = {
 *   id: "wf", name: "wf", edges: [],
 *   nodes: [{ id: "h", type: "control", nodeType: "http",
 *     config: { url: "https://api.example", headers: { Authorization: "Bearer t0ken" } } }],
 * };
 * const edited = structuredClone(redactDefinition(stored));
 * edited.nodes[0].config.url = "https://api2.example";
 * const kept = restoreRedacted(edited, stored) as WorkflowDefinition;
 * if (JSON.stringify(kept.nodes[0].config.headers) !== '{"Authorization":"Bearer t0ken"}') throw new Error();
 * ```
 */
export function restoreRedacted(incoming: unknown, stored: WorkflowDefinition | unknown): unknown {
  return transformJson(incoming, { place: ROOT_PLACE, stored, at: "root" } as Pair, (value, pair) => {
    if (isSecretRef(value)) return { value };
    const { place, stored } = pair;
    if (value === REDACTED && place.hidden && stored !== undefined && hides(stored)) return { value: stored };
    if (typeof value === "string") {
      return {
        value: typeof stored === "string" && !place.hidden ? restoreUrlPasswords(value, stored) : value,
      };
    }
    return {
      descend: (key, child): Pair => ({
        place: childPlace(place, key),
        stored: pair.at === "nodes" ? storedNode(stored, child) : own(stored, key),
        at: pair.at === "root" && key === "nodes" ? "nodes" : "inside",
      }),
    };
  });
}

/**
 * Validation problems whose messages show none of the inline credentials of the given definitions (the
 * body posted, the stored version it was merged with).
 */
export function scrubProblems(problems: Problem[], ...definitions: unknown[]): Problem[] {
  const found = definitions.flatMap((d) => (d === undefined ? [] : credentialValues(d)));
  if (found.length === 0) return problems.map((p) => ({ ...p, message: redactText(p.message) }));
  const scrub = new Scrubber(found);
  return problems.map((p) => ({ ...p, message: scrub.text(redactText(p.message)) }));
}
