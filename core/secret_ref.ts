/**
 * Secret references in node configs: `{"$secret": "NAME"}` stands for a value the node running the workflow
 * reads from its configuration when the node's executor runs (`server/executors/secrets.ts`). The definition
 * keeps the reference; the value is never stored. This module only knows the shape: what a reference is,
 * the problems of malformed ones, and whether a config holds any. Walks are iterative, so a deeply nested
 * config cannot overflow the stack.
 *
 * @module
 */
import type { Problem } from "./schema.ts";

/** The one key of a secret reference. */
export const SECRET_KEY = "$secret";

/** A secret's name: 1 to 64 of `A-Z 0-9 _`. */
export const SECRET_NAME: RegExp = /^[A-Z0-9_]{1,64}$/;

/** The problem code of a malformed secret reference (or one where none may be). */
export const SECRET_REF_PROBLEM = "secret_ref";

/** The most problems reported for one config. */
export const MAX_SECRET_REF_PROBLEMS = 20;

/** A reference to a secret: `{"$secret": "NAME"}`. */
export interface SecretRef {
  $secret: string;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Whether `value` is a well-formed secret reference: an object whose only own key is `$secret`, naming a
 * secret (`SECRET_NAME`).
 *
 * @example
 * ```ts
 * import { isSecretRef } from "./secret_ref.ts";
 * if (!isSecretRef({ $secret: "API_TOKEN" })) throw new Error("a reference");
 * if (isSecretRef({ $secret: "api token" }) || isSecretRef({ $secret: "A", other: 1 })) throw new Error("not one");
 * ```
 */
export function isSecretRef(value: unknown): value is SecretRef {
  if (!isPlainObject(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && keys[0] === SECRET_KEY && typeof value.$secret === "string" &&
    SECRET_NAME.test(value.$secret);
}

/** One value met by {@link visitJson}, with what leads to it (the path is built only when asked). */
interface Visited {
  value: unknown;
  parent: Visited | undefined;
  key: string | number | undefined;
}

function pathOf(v: Visited, root: string): string {
  const parts: string[] = [];
  for (let at: Visited | undefined = v; at?.parent !== undefined; at = at.parent) {
    parts.push(typeof at.key === "number" ? `[${at.key}]` : `.${at.key}`);
  }
  return root + parts.reverse().join("");
}

/**
 * Visits every value inside `root` depth-first without recursion; `visit` returns false to not descend
 * into a value, or `"stop"` to end the walk.
 */
function visitJson(root: unknown, visit: (v: Visited) => boolean | "stop"): void {
  const stack: Visited[] = [{ value: root, parent: undefined, key: undefined }];
  while (stack.length > 0) {
    const v = stack.pop()!;
    const go = visit(v);
    if (go === "stop") return;
    if (!go) continue;
    const { value } = v;
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], parent: v, key: i });
    } else if (isPlainObject(value)) {
      const keys = Object.keys(value);
      for (let i = keys.length - 1; i >= 0; i--) {
        stack.push({ value: value[keys[i]], parent: v, key: keys[i] });
      }
    }
  }
}

/** Why an object with a `$secret` key is not a well-formed reference. */
function malformation(value: Record<string, unknown>): string {
  const others = Object.keys(value).filter((k) => k !== SECRET_KEY);
  if (others.length > 0) {
    const shown = others.slice(0, 3).map((k) => JSON.stringify(k.length > 40 ? `${k.slice(0, 37)}...` : k));
    return `a secret reference has exactly one key, $secret; this one also has ${shown.join(", ")}${
      others.length > 3 ? ", ..." : ""
    }`;
  }
  const name = value.$secret;
  // A string that is not a name is never shown: it may be the secret's value put there by mistake.
  const got = typeof name === "string"
    ? `a string of ${name.length} characters that is not a name`
    : name === null
    ? "null"
    : Array.isArray(name)
    ? "an array"
    : `a ${typeof name}`;
  return `$secret must name a secret: 1 to 64 of A-Z 0-9 _ ({"$secret": "API_TOKEN"}), got ${got}`;
}

/**
 * The problems of the malformed secret references inside `config` (at most
 * {@link MAX_SECRET_REF_PROBLEMS}), each at the path of the object holding `$secret` under `path`.
 *
 * @example
 * ```ts
 * import { secretRefProblems } from "./secret_ref.ts";
 * const problems = secretRefProblems({ headers: { Authorization: { $secret: 5 } } }, "$.nodes[0].config");
 * if (problems[0].path !== "$.nodes[0].config.headers.Authorization") throw new Error("the path of the fault");
 * if (secretRefProblems({ url: { $secret: "URL" } }, "$").length !== 0) throw new Error("a good reference");
 * ```
 */
export function secretRefProblems(config: unknown, path: string): Problem[] {
  const problems: Problem[] = [];
  visitJson(config, (v) => {
    if (!isPlainObject(v.value) || !Object.hasOwn(v.value, SECRET_KEY)) return true;
    if (!isSecretRef(v.value)) {
      problems.push({ path: pathOf(v, path), code: SECRET_REF_PROBLEM, message: malformation(v.value) });
      if (problems.length >= MAX_SECRET_REF_PROBLEMS) return "stop";
    }
    return false;
  });
  return problems;
}

/**
 * The path (under `path`) of the first well-formed secret reference inside `config`, if it holds one.
 *
 * @example
 * ```ts
 * import { firstSecretRef } from "./secret_ref.ts";
 * if (firstSecretRef({ params: [1, { $secret: "PW" }] }, "$") !== "$.params[1]") throw new Error("found");
 * if (firstSecretRef({ sql: "select 1" }, "$") !== undefined) throw new Error("none");
 * ```
 */
export function firstSecretRef(config: unknown, path: string): string | undefined {
  let found: string | undefined;
  visitJson(config, (v) => {
    if (!isSecretRef(v.value)) return true;
    found = pathOf(v, path);
    return "stop";
  });
  return found;
}

/** The names of the well-formed secret references inside `config`, each once, in the order met. */
export function secretNames(config: unknown): string[] {
  const names = new Set<string>();
  visitJson(config, (v) => {
    if (!isSecretRef(v.value)) return true;
    names.add(v.value.$secret);
    return false;
  });
  return [...names];
}
