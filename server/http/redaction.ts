/**
 * What the API shows of stored definitions: inline credentials hidden as `***` (the rules are in
 * `server/executors/credentials.ts`), and what it stores when a hidden value comes back on an update: the
 * stored value at that place, as long as the node holding it still sends it where it did. Every route that returns a definition, a node config or text taken from one
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
  urlTarget,
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

/** The code of the problem of a `***` that cannot keep the stored credential: it must be sent again. */
export const CREDENTIAL_REQUIRED = "credential_required";

/** One value of an incoming definition with the stored value at the same place (if any). */
interface Pair {
  place: Place;
  stored: unknown;
  /** The definition itself, its list of nodes (paired by id, not by position), or a value inside. */
  at: "root" | "nodes" | "inside";
  /** Whether a stored credential may be kept here: outside nodes, or in a node whose target is unchanged. */
  trusted: boolean;
  /** Where this value lies, to name it in a problem (built only then: a definition may nest deeply). */
  parent: Pair | undefined;
  key: string | number | undefined;
}

function pathOf(pair: Pair): string {
  const parts: string[] = [];
  for (let at: Pair | undefined = pair; at?.parent !== undefined; at = at.parent) {
    parts.push(typeof at.key === "number" ? `[${at.key}]` : `.${at.key}`);
  }
  return "$" + parts.reverse().join("");
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

/** The config fields that say where a node sends what it holds: a URL, a connection URL, a connection name. */
const TARGET_FIELDS = ["url", "connectionUrl", "connection"] as const;

/** What a target field is compared by: a URL's scheme, host and port, a reference's name, or the value. */
function targetOf(value: unknown): string | undefined {
  if (value === undefined) return "none";
  if (isSecretRef(value)) return `secret:${value.$secret}`;
  if (typeof value === "string") return `text:${urlTarget(value)}`;
  try {
    return `json:${JSON.stringify(value)}`;
  } catch {
    return undefined; // too deep to compare: never the same
  }
}

/**
 * Whether a node of an update sends what it holds where the stored node did: the same kind (`type`,
 * `nodeType`) and the same target fields ({@link TARGET_FIELDS}, URLs compared by scheme, host and port).
 */
function sameTarget(node: unknown, stored: unknown): boolean {
  if (stored === undefined) return false;
  if (own(node, "type") !== own(stored, "type") || own(node, "nodeType") !== own(stored, "nodeType")) {
    return false;
  }
  const config = own(node, "config");
  const storedConfig = own(stored, "config");
  return TARGET_FIELDS.every((field) => {
    const mine = targetOf(own(config, field));
    return mine !== undefined && mine === targetOf(own(storedConfig, field));
  });
}

/** The definition to store, or the places where a hidden credential must be sent again. */
export type Restored = { ok: true; definition: unknown } | { ok: false; problems: Problem[] };

function credentialRequired(pair: Pair): Problem {
  return {
    path: pathOf(pair),
    code: CREDENTIAL_REQUIRED,
    message: "*** keeps a stored credential only where the node's type and target (URL scheme, host and " +
      "port, connection, and a URL's user for its password) are unchanged: send the credential again",
  };
}

/**
 * The definition to store from an update (`incoming`) and the latest stored version: where the update holds
 * `***` at a place where the stored version had a hidden value, or a URL whose password is `***`, the stored
 * value (or password) is kept. Nodes are paired by id, everything else by its path. So sending back what
 * `GET` showed stores the stored definition again.
 *
 * A stored credential is never sent somewhere new: inside a node, it is kept only when the node's type and
 * target fields are unchanged (`url`, `connectionUrl`: same scheme, host and port; `connection`: same name),
 * and a URL's password only when that URL's scheme, host, port and user are unchanged too. Otherwise each
 * such `***` is a `credential_required` problem at its path.
 *
 * @example
 * ```ts
 * import { redactDefinition, restoreRedacted } from "./redaction.ts";
 * import type { WorkflowDefinition } from "../../core/workflow.ts";
 * const stored: WorkflowDefinition = {
 *   id: "wf", name: "wf", edges: [],
 *   nodes: [{ id: "h", type: "control", nodeType: "http",
 *     config: { url: "https://api.example/v1", headers: { Authorization: "Bearer t0ken" } } }],
 * };
 * const edited = structuredClone(redactDefinition(stored));
 * edited.nodes[0].config.url = "https://api.example/v2";
 * const kept = restoreRedacted(edited, stored);
 * if (!kept.ok) throw new Error("same host: kept");
 * edited.nodes[0].config.url = "https://attacker.example/v2";
 * const moved = restoreRedacted(edited, stored);
 * if (moved.ok || moved.problems[0].path !== "$.nodes[0].config.headers.Authorization") throw new Error();
 * ```
 */
export function restoreRedacted(incoming: unknown, stored: WorkflowDefinition | unknown): Restored {
  const problems: Problem[] = [];
  const root: Pair = {
    place: ROOT_PLACE,
    stored,
    at: "root",
    trusted: true,
    parent: undefined,
    key: undefined,
  };
  const definition = transformJson(incoming, root, (value, pair) => {
    if (isSecretRef(value)) return { value };
    const { place, stored } = pair;
    if (value === REDACTED && place.hidden && stored !== undefined && hides(stored)) {
      if (pair.trusted) return { value: stored };
      problems.push(credentialRequired(pair));
      return { value };
    }
    if (typeof value === "string") {
      if (typeof stored !== "string" || place.hidden) return { value };
      const refused = () => problems.push(credentialRequired(pair));
      return { value: restoreUrlPasswords(value, stored, { trusted: pair.trusted, refused }) };
    }
    return {
      descend: (key, child): Pair => {
        const inner = pair.at === "nodes" ? storedNode(stored, child) : own(stored, key);
        return {
          place: childPlace(place, key),
          stored: inner,
          at: pair.at === "root" && key === "nodes" ? "nodes" : "inside",
          trusted: pair.at === "nodes" ? sameTarget(child, inner) : pair.trusted,
          parent: pair,
          key,
        };
      },
    };
  });
  return problems.length > 0 ? { ok: false, problems: uniqueByPath(problems) } : { ok: true, definition };
}

/** The first problem at each path (a text with several moved URLs is named once). */
function uniqueByPath(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((p) => !seen.has(p.path) && seen.add(p.path));
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
