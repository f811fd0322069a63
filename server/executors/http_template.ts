/**
 * Filling the `http` node's templates when it runs. A placeholder (`core/http_placeholders.ts`) is a root
 * (`records`, `input`, `record`, `executionId`, `nodeId`) and a path of keys or array indexes; its value is
 * looked up in the {@link TemplateScope} of one call. How a value is written depends on where it goes:
 *
 * - URL: as text (a string as itself, another value as its JSON text), URL-encoded (`encodeURIComponent`);
 *   a missing or null value fails with `http_template_missing`.
 * - Header value: as text, not encoded; missing or null fails with `http_template_missing`, a CR or LF
 *   with `http_header_invalid`.
 * - Body: see {@link fillTemplate}.
 *
 * @example
 * ```ts
 * import { fillUrl } from "./http_template.ts";
 *
 * const scope = { input: { customer: { id: "a b/c" } }, record: { id: 7 } };
 * const url = fillUrl("https://api.example.com/customers/{{input.customer.id}}/items/{{record.id}}", scope);
 * if (url !== "https://api.example.com/customers/a%20b%2Fc/items/7") throw new Error(url);
 * ```
 *
 * @module
 */
import {
  exactPlaceholder,
  knownRoot,
  type Placeholder,
  replacePlaceholders,
} from "../../core/http_placeholders.ts";
import { type Json, NodeError } from "./executor.ts";
import { transformJson } from "./json_transform.ts";

/** The values a placeholder's root names in one call; a root that is absent (or unknown) has no value. */
export type TemplateScope = Readonly<Record<string, Json | undefined>>;

/**
 * The value a placeholder names in `scope`: its root's value, then each segment as an own key of an object
 * or an index of an array; undefined when anything on the way is missing.
 *
 * @example
 * ```ts
 * import { lookup } from "./http_template.ts";
 * import { placeholders } from "../../core/http_placeholders.ts";
 * const [p] = placeholders("{{record.items.1.sku}}");
 * if (lookup({ record: { items: [{}, { sku: "B-2" }] } }, p) !== "B-2") throw new Error("found");
 * ```
 */
export function lookup(scope: TemplateScope, p: Placeholder): Json | undefined {
  let value: Json | undefined = Object.hasOwn(scope, p.root) ? scope[p.root] : undefined;
  for (const segment of p.path) {
    if (Array.isArray(value)) {
      value = /^(0|[1-9]\d*)$/.test(segment) ? value[Number(segment)] : undefined;
    } else if (value !== null && typeof value === "object") {
      value = Object.hasOwn(value, segment) ? value[segment] : undefined;
    } else return undefined;
    if (value === undefined) return undefined;
  }
  return value;
}

/** A value written as text: a string as itself, another value as its JSON text. */
function asText(value: Json): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** The value a URL or header placeholder names; missing or null fails (`http_template_missing`). */
function required(scope: TemplateScope, p: Placeholder, where: string): Json {
  const value = knownRoot(p.root) ? lookup(scope, p) : undefined;
  if (value === undefined || value === null) {
    throw new NodeError("http_template_missing", `${where}: ${p.text} has no value`, false);
  }
  return value;
}

/**
 * The URL `template` with each placeholder replaced by its value as text, URL-encoded (a lone surrogate
 * becomes U+FFFD first). A placeholder whose root is unknown stays as written.
 *
 * @throws {NodeError} `http_template_missing` (not retryable) for a missing or null value.
 * @example
 * ```ts
 * import { fillUrl } from "./http_template.ts";
 * const url = fillUrl("https://example.com/search?q={{input.q}}&n={{input.n}}", { input: { q: "a&b=c", n: 5 } });
 * if (url !== "https://example.com/search?q=a%26b%3Dc&n=5") throw new Error(url);
 * ```
 */
export function fillUrl(template: string, scope: TemplateScope): string {
  return replacePlaceholders(template, (p) => {
    if (!knownRoot(p.root)) return p.text;
    return encodeURIComponent(asText(required(scope, p, "url")).toWellFormed());
  });
}

/**
 * A header value `template` with each placeholder replaced by its value as text.
 *
 * @throws {NodeError} `http_template_missing` for a missing or null value, `http_header_invalid` when the
 * filled value holds a CR or LF (both not retryable).
 * @example
 * ```ts
 * import { fillHeader } from "./http_template.ts";
 * if (fillHeader("X-Customer", "c-{{record.id}}", { record: { id: 42 } }) !== "c-42") throw new Error();
 * ```
 */
export function fillHeader(name: string, template: string, scope: TemplateScope): string {
  const filled = replacePlaceholders(template, (p) => {
    if (!knownRoot(p.root)) return p.text;
    return asText(required(scope, p, `header ${name}`));
  });
  if (/[\r\n]/.test(filled)) {
    throw new NodeError("http_header_invalid", `header ${name}: a value must not hold a CR or LF`, false);
  }
  return filled;
}

/**
 * Checks, without building anything, that every placeholder of the URL and header `templates` has a value
 * in `scope` and that no header value would hold a CR or LF: so per-record calls fail before the first
 * call, not halfway through.
 *
 * @throws {NodeError} `http_template_missing` or `http_header_invalid`, as {@link fillUrl} and
 * {@link fillHeader} would.
 * @example
 * ```ts
 * import { checkScope } from "./http_template.ts";
 * import { placeholders } from "../../core/http_placeholders.ts";
 * checkScope([{ where: "url", placeholders: placeholders("/{{record.id}}"), header: false }], { record: { id: 1 } });
 * ```
 */
export function checkScope(
  templates: readonly { where: string; placeholders: readonly Placeholder[]; header: boolean }[],
  scope: TemplateScope,
): void {
  for (const t of templates) {
    for (const p of t.placeholders) {
      if (!knownRoot(p.root)) continue;
      const value = required(scope, p, t.where);
      if (t.header && typeof value === "string" && /[\r\n]/.test(value)) {
        throw new NodeError("http_header_invalid", `${t.where}: a value must not hold a CR or LF`, false);
      }
    }
  }
}

/** A string member of a body: exactly one placeholder becomes its value, else each one becomes text. */
function fillMember(text: string, values: TemplateScope): Json {
  const exact = exactPlaceholder(text);
  if (exact !== undefined && knownRoot(exact.root)) return lookup(values, exact) ?? null;
  return replacePlaceholders(text, (p) => {
    if (!knownRoot(p.root)) return p.text;
    const value = lookup(values, p);
    return value === undefined || value === null ? "" : asText(value);
  });
}

/**
 * Fills a body template.
 *
 * - A string body: each placeholder is replaced by the JSON text of its value (`null` when missing), so
 *   `{{executionId}}` becomes a quoted string and `'{"id": {{record.id}}}'` stays JSON.
 * - An object or array body, at any depth: a string member that is exactly one placeholder becomes the
 *   value itself (`null` when missing); in another string member each placeholder becomes its value as
 *   text (a string as itself, another value as JSON text, nothing when missing or null).
 *
 * A placeholder whose root is unknown stays as written. Built without recursion.
 *
 * @example
 * ```ts
 * import { fillTemplate } from "./http_template.ts";
 * const body = fillTemplate(
 *   { items: "{{records}}", note: "for {{input.name}}", id: "{{record.id}}" },
 *   { records: [1, 2], input: { name: "Ada" }, record: { id: 7 } },
 * );
 * if (JSON.stringify(body) !== '{"items":[1,2],"note":"for Ada","id":7}') throw new Error(JSON.stringify(body));
 * ```
 */
export function fillTemplate(template: Json, values: TemplateScope): Json {
  if (typeof template === "string") {
    return replacePlaceholders(
      template,
      (p) => knownRoot(p.root) ? JSON.stringify(lookup(values, p) ?? null) : p.text,
    );
  }
  return transformJson(template, undefined, (value) => {
    if (typeof value === "string") return { value: fillMember(value, values) };
    return typeof value === "object" && value !== null ? { descend: () => undefined } : { value };
  }) as Json;
}
