/**
 * The placeholders of the `http` node's templates (`url`, header values, `body`): `{{root}}` or
 * `{{root.path.to.value}}`, where the root is one of {@link PLACEHOLDER_ROOTS} and each further segment names
 * an object key or an array index. This module only knows the grammar and what can be judged when a workflow
 * is created: unknown roots, a URL that would not parse, and whether a URL's host is templated. The filling
 * itself happens when the node runs (`server/executors/http_template.ts`). Walks are iterative, so a deeply
 * nested body cannot overflow the stack.
 *
 * @example
 * ```ts
 * import { placeholders, urlHostTemplated } from "./http_placeholders.ts";
 *
 * const found = placeholders("https://api.example.com/customers/{{input.customer.id}}");
 * if (found[0].root !== "input" || found[0].path.join(".") !== "customer.id") throw new Error("parsed");
 * if (urlHostTemplated("https://api.example.com/{{record.id}}")) throw new Error("the host is fixed");
 * if (!urlHostTemplated("https://{{input.region}}.example.com/")) throw new Error("the host is templated");
 * ```
 *
 * @module
 */
import type { Problem } from "./schema.ts";

/**
 * The roots a placeholder may start with: the input `records`, the execution's `input`, the current
 * `record` (per-record calls; otherwise the first record), the `executionId` and the `nodeId`.
 */
export const PLACEHOLDER_ROOTS: readonly string[] = ["records", "input", "record", "executionId", "nodeId"];

/** The most template problems reported for one config. */
export const MAX_TEMPLATE_PROBLEMS = 20;

/** One placeholder found in a string. */
export interface Placeholder {
  /** The placeholder as written, braces included. */
  text: string;
  root: string;
  /** The segments after the root (keys or array indexes), possibly none. */
  path: string[];
  /** Where the placeholder starts in the string. */
  index: number;
}

/** A placeholder: `{{`, optional spaces, a root name, `.segment`s, optional spaces, `}}`. */
const PATTERN = /\{\{\s*([A-Za-z_$][\w$]*)((?:\.[\w$-]+)*)\s*\}\}/g;

/**
 * Every placeholder in `text`, in order. Text between braces that does not follow the grammar (`{{ }}`,
 * `{{a b}}`) is no placeholder and stays literal.
 *
 * @example
 * ```ts
 * import { placeholders } from "./http_placeholders.ts";
 * const found = placeholders("{{ records }} and {{record.items.0}} but not {{a b}}");
 * if (found.length !== 2 || found[1].path.join("/") !== "items/0") throw new Error(JSON.stringify(found));
 * ```
 */
export function placeholders(text: string): Placeholder[] {
  const out: Placeholder[] = [];
  for (const m of text.matchAll(PATTERN)) {
    out.push({ text: m[0], root: m[1], path: m[2] === "" ? [] : m[2].slice(1).split("."), index: m.index });
  }
  return out;
}

/**
 * `text` with each placeholder replaced by what `fill` answers for it (one pass: a filled value is never
 * read again for placeholders).
 *
 * @example
 * ```ts
 * import { replacePlaceholders } from "./http_placeholders.ts";
 * if (replacePlaceholders("/a/{{record.id}}", () => "7") !== "/a/7") throw new Error("replaced");
 * ```
 */
export function replacePlaceholders(text: string, fill: (p: Placeholder) => string): string {
  return text.replace(
    PATTERN,
    (whole: string, root: string, rest: string, index: number) =>
      fill({ text: whole, root, path: rest === "" ? [] : rest.slice(1).split("."), index }),
  );
}

/**
 * The placeholder `text` is made of, when it is exactly one (spaces around it excepted); else undefined.
 *
 * @example
 * ```ts
 * import { exactPlaceholder } from "./http_placeholders.ts";
 * if (exactPlaceholder("{{records}}")?.root !== "records") throw new Error("exact");
 * if (exactPlaceholder("id: {{records}}") !== undefined) throw new Error("not exact");
 * ```
 */
export function exactPlaceholder(text: string): Placeholder | undefined {
  const found = placeholders(text);
  return found.length === 1 && found[0].text === text.trim() ? found[0] : undefined;
}

/**
 * Whether `root` is one of {@link PLACEHOLDER_ROOTS}.
 *
 * @example
 * ```ts
 * import { knownRoot } from "./http_placeholders.ts";
 * if (!knownRoot("input") || knownRoot("customer")) throw new Error("roots");
 * ```
 */
export function knownRoot(root: string): boolean {
  return PLACEHOLDER_ROOTS.includes(root);
}

/** What the URL parser drops before it reads a URL: tabs and newlines anywhere, controls and spaces around. */
function asParsed(url: string): string {
  // deno-lint-ignore no-control-regex
  return url.replace(/[\t\n\r]/g, "").replace(/^[\u0000-\u0020]+|[\u0000-\u0020]+$/g, "");
}

/**
 * Whether a placeholder may decide the host (or the scheme, user or port) of `url`: one stands before the
 * end of the authority (the first `/`, `\`, `?` or `#` after the scheme and its slashes), or the URL does not
 * start with a plain scheme. When false, filling the URL can only change its path, query and fragment (filled
 * values are URL-encoded), so its host can be judged before it runs.
 *
 * @example
 * ```ts
 * import { urlHostTemplated } from "./http_placeholders.ts";
 * if (urlHostTemplated("https://example.com/a/{{input.id}}?q={{record.q}}")) throw new Error("fixed host");
 * if (!urlHostTemplated("https://example.com{{input.path}}")) throw new Error("could extend the host");
 * if (!urlHostTemplated("{{input.url}}")) throw new Error("all templated");
 * ```
 */
export function urlHostTemplated(url: string): boolean {
  const text = asParsed(url);
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:[/\\]*/.exec(text);
  if (scheme === null) return placeholders(text).length > 0;
  const first = placeholders(text)[0];
  if (first === undefined) return false;
  const rest = text.slice(scheme[0].length);
  const end = rest.search(/[/\\?#]/);
  const authorityEnd = scheme[0].length + (end === -1 ? rest.length : end);
  return first.index < authorityEnd;
}

/** The dummy values tried for placeholders when a templated URL is checked: a name, then a number (a port). */
const DUMMIES = ["x", "1"];

/**
 * `url` with its placeholders replaced by a dummy value, for the first dummy with which it parses as an
 * absolute http(s) URL; undefined when none does.
 *
 * @example
 * ```ts
 * import { dummyUrl } from "./http_placeholders.ts";
 * if (dummyUrl("https://example.com/c/{{input.id}}") !== "https://example.com/c/x") throw new Error("x");
 * if (dummyUrl("http://example.com:{{input.port}}/") !== "http://example.com:1/") throw new Error("port");
 * if (dummyUrl("{{input.url}}") !== undefined) throw new Error("no URL");
 * ```
 */
export function dummyUrl(url: string): string | undefined {
  for (const dummy of DUMMIES) {
    const filled = replacePlaceholders(url, () => dummy);
    let protocol = "";
    try {
      protocol = new URL(filled).protocol;
    } catch {
      protocol = "";
    }
    if (protocol === "http:" || protocol === "https:") return filled;
  }
  return undefined;
}

/** The problem of a placeholder whose root is unknown. */
function unknownRoot(p: Placeholder, path: string): Problem {
  return {
    path,
    code: "config_range",
    message: `unknown placeholder ${p.text}: a placeholder starts with ${PLACEHOLDER_ROOTS.join(", ")}`,
  };
}

/** The problems of the unknown placeholder roots in one string, at `path`. */
function stringProblems(text: string, path: string): Problem[] {
  const bad = placeholders(text).find((p) => !knownRoot(p.root));
  return bad === undefined ? [] : [unknownRoot(bad, path)];
}

/** One value inside a body template waiting to be visited, with its path. */
interface Visit {
  value: unknown;
  path: string;
}

/** The problems of the unknown placeholder roots in the strings of a body template, each at its path. */
function bodyProblems(body: unknown, path: string): Problem[] {
  const problems: Problem[] = [];
  const stack: Visit[] = [{ value: body, path }];
  while (stack.length > 0 && problems.length < MAX_TEMPLATE_PROBLEMS) {
    const { value, path: at } = stack.pop()!;
    if (typeof value === "string") problems.push(...stringProblems(value, at));
    else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], path: `${at}[${i}]` });
    } else if (typeof value === "object" && value !== null) {
      const entries = Object.entries(value);
      for (let i = entries.length - 1; i >= 0; i--) {
        stack.push({ value: entries[i][1], path: `${at}.${entries[i][0]}` });
      }
    }
  }
  return problems;
}

/**
 * The template problems of an `http` node's config under `path`: a placeholder with an unknown root in the
 * `url`, a header value or the `body` (`config_range`, at the string's path), and a `url` that is no
 * absolute http(s) URL once its placeholders are filled with a dummy value (`config_type`).
 *
 * @example
 * ```ts
 * import { httpTemplateProblems } from "./http_placeholders.ts";
 * const problems = httpTemplateProblems(
 *   { url: "https://example.com/{{input.id}}", body: { items: ["{{customer.id}}"] } },
 *   "$.nodes[0].config",
 * );
 * if (problems.length !== 1 || problems[0].path !== "$.nodes[0].config.body.items[0]") {
 *   throw new Error(JSON.stringify(problems));
 * }
 * ```
 */
export function httpTemplateProblems(config: Record<string, unknown>, path: string): Problem[] {
  const problems: Problem[] = [];
  if (typeof config.url === "string") {
    problems.push(...stringProblems(config.url, `${path}.url`));
    if (dummyUrl(config.url) === undefined) {
      problems.push({
        path: `${path}.url`,
        code: "config_type",
        message: "url must be an absolute http(s) URL",
      });
    }
  }
  if (config.headers && typeof config.headers === "object" && !Array.isArray(config.headers)) {
    for (const [name, value] of Object.entries(config.headers as Record<string, unknown>)) {
      if (typeof value === "string") problems.push(...stringProblems(value, `${path}.headers.${name}`));
    }
  }
  if (config.body !== undefined) problems.push(...bodyProblems(config.body, `${path}.body`));
  return problems.slice(0, MAX_TEMPLATE_PROBLEMS);
}
