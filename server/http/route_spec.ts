/**
 * What a route says of itself (its spec): its operation's name, and the zod schemas of its path parameters,
 * query, headers, body and responses. One schema serves both ends: the router checks a request's path
 * parameters, query and headers with it before the handler runs (400 at the fault's path, the API's codes) and
 * hands the handler the parsed values; a handler checks its body with it (`ctx.body`); and `openapi.ts` turns
 * the same schemas into the OpenAPI document served at `GET /api/v1/openapi.json`, so the document cannot
 * drift from what the API accepts.
 *
 * A fault answers as the API always has: a path parameter or query value `400 invalid_parameter` at
 * `path.<name>` or `?<name>`, a header `400 invalid_header` at `headers.<Name>`, a body that does not match
 * its schema `400 validation_failed` with one detail per problem at its JSON path (`$.items[2].timeoutMs`). A
 * schema's own message in the form `must be …` is prefixed with the parameter's name (`limit must be an
 * integer from 1 to 500`).
 *
 * @example A route's query, parsed before the handler runs
 * ```ts
 * import { z } from "npm:zod@4.6.7";
 * import { routeSpec, withSpec } from "./route_spec.ts";
 * import { intQuery } from "./schemas.ts";
 *
 * const spec = routeSpec({
 *   operationId: "listThings",
 *   summary: "Lists things",
 *   tags: ["things"],
 *   query: z.object({ limit: intQuery(1, 500).default(50) }),
 *   responses: { 200: { description: "the things" } },
 * });
 * const handler = withSpec(spec, ({ query }) => new Response(String(query.limit)));
 * const url = new URL("http://x/things?limit=7");
 * const ok = await handler({ req: new Request(url), url, params: {} });
 * if (await ok.text() !== "7") throw new Error("parsed");
 * let path = "";
 * const bad = new URL("http://x/things?limit=0");
 * try { await handler({ req: new Request(bad), url: bad, params: {} }); } catch (e) {
 *   path = (e as { details: { path: string }[] }).details[0].path;
 * }
 * if (path !== "?limit") throw new Error(path);
 * ```
 *
 * @module
 */
import { z } from "npm:zod@4.6.7";
import { ApiError, type ErrorDetail } from "./errors.ts";
import type { Handler, RouteContext } from "./router.ts";

/** One response a route may give. */
export interface ResponseSpec {
  /** What it means. */
  description: string;
  /** Its JSON body's schema (none: no body, or one the document leaves open). */
  schema?: z.ZodType;
  /** Its media type (default `application/json`). */
  contentType?: string;
  /** The response headers it carries, by name, with what each says. */
  headers?: Readonly<Record<string, string>>;
}

/** What a route says of itself: its operation and the schemas of what it takes and answers. */
export interface RouteSpec {
  /** The operation's stable name (client generators name their methods after it). */
  operationId: string;
  /** One line on what it does. */
  summary: string;
  /** More words, when one line is not enough. */
  description?: string;
  /** Its group (`workflows`, `executions`, …). */
  tags: readonly string[];
  /** Its path parameters (`:id`), as strings in, parsed values out. */
  params?: z.ZodObject;
  /** Its query parameters; an empty value (`?limit=`) is as absent. */
  query?: z.ZodObject;
  /** The request headers it reads, by name. */
  headers?: z.ZodObject;
  /** Its JSON body; the handler checks it with `ctx.body`. */
  body?: z.ZodType;
  /** Whether the body must be sent (default true); false: an empty body is `{}`. */
  bodyRequired?: boolean;
  /** Its responses by status (errors share the `Error` schema). */
  responses: Readonly<Record<number, ResponseSpec>>;
}

/** The parsed values of a schema, or `fallback` when the spec has none. */
type Parsed<T, Fallback> = T extends z.ZodType ? z.output<T> : Fallback;

/** What a handler of a route with a spec gets: the request, and its parameters parsed by the spec. */
export interface SpecContext<S extends RouteSpec> {
  req: Request;
  url: URL;
  /** The path parameters, parsed by `spec.params` (as they came, URL-decoded, without one). */
  params: Parsed<S["params"], Record<string, string>>;
  /** The query, parsed by `spec.query` (empty without one). */
  query: Parsed<S["query"], Record<string, never>>;
  /**
   * Checks a JSON body (already parsed) against `spec.body`, then runs `parse` (the route's own checks, which
   * word their faults in the route's terms) and returns what it returns. When the schema refuses the body,
   * `explain` may throw the route's own error first (it gets the schema's fault, to word the same problems);
   * else the schema's fault is answered (400 `validation_failed`, each problem at its path). Without
   * `spec.body`, only `parse` runs.
   */
  body<T = unknown>(raw: unknown, parse?: (raw: unknown) => T, explain?: Explain): T;
}

/** Throws a route's own error for a body its spec's schema refused with `fault` (or returns, to answer it). */
export type Explain = (raw: unknown, fault: ApiError) => void;

/** A handler of a route with a spec. */
export type SpecHandler<S extends RouteSpec> = (ctx: SpecContext<S>) => Promise<Response> | Response;

/**
 * A spec as written, its schemas' types kept (so the handler's `params` and `query` are typed).
 *
 * @example
 * ```ts
 * import { routeSpec } from "./route_spec.ts";
 * const spec = routeSpec({ operationId: "ping", summary: "Ping", tags: ["health"], responses: { 200: { description: "pong" } } });
 * if (spec.operationId !== "ping") throw new Error();
 * ```
 */
export function routeSpec<const S extends RouteSpec>(spec: S): S {
  return spec;
}

/** The most problems one error names. */
const MAX_DETAILS = 50;

/** `handler` behind the checks of `spec`: path parameters, query and headers parsed first (or their 400). */
export function withSpec<S extends RouteSpec>(spec: S, handler: SpecHandler<S>): Handler {
  return (ctx: RouteContext) => {
    const params = spec.params ? parseParams(spec.params, ctx.params) : ctx.params;
    const query = spec.query ? parseQuery(spec.query, ctx.url.searchParams) : {};
    if (spec.headers) parseHeaders(spec.headers, ctx.req.headers);
    return handler({
      req: ctx.req,
      url: ctx.url,
      params: params as SpecContext<S>["params"],
      query: query as SpecContext<S>["query"],
      body: (raw, parse, explain) => checkBody(spec.body, raw, parse, explain),
    });
  };
}

/** Where a parameter is. */
type Place = "path" | "query" | "header";

/** The path parameters, parsed (400 `invalid_parameter` at `path.<name>`). */
export function parseParams(schema: z.ZodObject, raw: Record<string, string>): Record<string, unknown> {
  return parseIn(schema, raw, "path");
}

/** The query, parsed (400 `invalid_parameter` at `?<name>`); an empty value is as absent. */
export function parseQuery(schema: z.ZodObject, search: URLSearchParams): Record<string, unknown> {
  const raw: Record<string, string | undefined> = {};
  for (const name of Object.keys(schema.shape)) raw[name] = search.get(name) || undefined;
  return parseIn(schema, raw, "query");
}

/** The headers, parsed (400 `invalid_header` at `headers.<Name>`). */
export function parseHeaders(schema: z.ZodObject, headers: Headers): Record<string, unknown> {
  const raw: Record<string, string | undefined> = {};
  for (const name of Object.keys(schema.shape)) raw[name] = headers.get(name) ?? undefined;
  return parseIn(schema, raw, "header");
}

function parseIn(
  schema: z.ZodObject,
  raw: Record<string, string | undefined>,
  place: Place,
): Record<string, unknown> {
  const r = schema.safeParse(raw);
  if (r.success) return r.data as Record<string, unknown>;
  const issue = r.error.issues[0];
  const name = String(issue.path[0] ?? Object.keys(schema.shape)[0] ?? "");
  throw parameterError(place, name, raw[name], issue);
}

/** The 400 of a parameter's fault: its message in the parameter's words, its detail at its place. */
function parameterError(
  place: Place,
  name: string,
  raw: string | undefined,
  issue: z.core.$ZodIssue,
): ApiError {
  const path = place === "path" ? `path.${name}` : place === "query" ? `?${name}` : `headers.${name}`;
  const message = /^(must|is) /.test(issue.message)
    ? `${name} ${issue.message}`
    : `${name}: ${issue.message}`;
  const detail = (issue as { params?: { detail?: string } }).params?.detail ??
    (raw === undefined
      ? "missing"
      : (issue.code === "too_big" || issue.code === "too_small") && issue.origin === "string"
      ? `length ${raw.length}`
      : `got ${JSON.stringify(raw.slice(0, 100))}`);
  const code = place === "header" ? "invalid_header" : "invalid_parameter";
  return new ApiError(400, code, message, [{ path, message: detail }]);
}

/** Checks a body against `schema` (see `SpecContext.body`). */
export function checkBody<T>(
  schema: z.ZodType | undefined,
  raw: unknown,
  parse?: (raw: unknown) => T,
  explain?: Explain,
): T {
  const r = schema?.safeParse(raw);
  const out = parse ? parse(raw) : raw as T;
  if (r === undefined || r.success) return out;
  const fault = bodyError(r.error.issues);
  explain?.(raw, fault);
  throw fault;
}

/** 400 `validation_failed` of the problems a body schema found, each at its JSON path. */
export function bodyError(issues: readonly z.core.$ZodIssue[]): ApiError {
  const details: ErrorDetail[] = [];
  for (const issue of issues) {
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        details.push({
          path: jsonPath([...issue.path, key]),
          code: "unknown_field",
          message: "unknown field",
        });
      }
    } else details.push({ path: jsonPath(issue.path), code: issue.code, message: issue.message });
  }
  return new ApiError(
    400,
    "validation_failed",
    `the body does not match its schema: ${details.length} problem(s)`,
    details.slice(0, MAX_DETAILS),
  );
}

/**
 * The JSON path of a place in a body: `$`, `$.items[2].input`, `$["odd key"]`.
 *
 * @example
 * ```ts
 * import { jsonPath } from "./route_spec.ts";
 * if (jsonPath(["items", 2, "a b"]) !== '$.items[2]["a b"]') throw new Error(jsonPath(["items", 2, "a b"]));
 * ```
 */
export function jsonPath(segments: readonly PropertyKey[]): string {
  let path = "$";
  for (const s of segments) {
    if (typeof s === "number") path += `[${s}]`;
    else {
      const key = String(s).slice(0, 100);
      path += /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
    }
  }
  return path;
}
