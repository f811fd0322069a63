/**
 * The API's OpenAPI 3.1 document, built from the router's routes and the zod schemas of their specs
 * (`route_spec.ts`): the same schemas that check the requests, turned into JSON Schema 2020-12 (the dialect of
 * OpenAPI 3.1) by `z.toJSONSchema`. Nothing is written twice: a route's path, method, parameters, body and
 * responses come from the route itself, so the document cannot drift from the API. Served at
 * `GET /api/v1/openapi.json` (`api.ts`).
 *
 * Every route of the router is in it, `/health…` and `/metrics` included; the web console's files (`/`,
 * `/ui/…`), served before the router, are not routes and are not in it. Named schemas (`.meta({ id })`) go to
 * `components/schemas`; every operation's `default` response is the shared `Error`. On a node that checks
 * tokens, each operation names the `bearerAuth` scheme (or none, for the open routes) and the role it needs
 * (`x-required-role`).
 *
 * @example
 * ```ts
 * import { z } from "npm:zod@4.6.7";
 * import { Router } from "./router.ts";
 * import { routeSpec } from "./route_spec.ts";
 * import { openApiDocument } from "./openapi.ts";
 *
 * const spec = routeSpec({
 *   operationId: "getThing",
 *   summary: "One thing",
 *   tags: ["things"],
 *   params: z.object({ id: z.string() }),
 *   responses: { 200: { description: "the thing", schema: z.object({ id: z.string() }) } },
 * });
 * const router = new Router().get("/things/:id", ({ params }) => Response.json(params), spec);
 * const doc = openApiDocument(router.routes(), { auth: false });
 * const op = doc.paths["/things/{id}"].get as { operationId: string; parameters: { in: string }[] };
 * if (op.operationId !== "getThing" || op.parameters[0].in !== "path") throw new Error("documented");
 * ```
 *
 * @module
 */
import { z } from "npm:zod@4.6.7";
import type { RouteInfo } from "./router.ts";
import type { RouteSpec } from "./route_spec.ts";
import { ErrorBody } from "./schemas.ts";

/** The path of the document. */
export const OPENAPI_PATH = "/api/v1/openapi.json";

/** A JSON Schema (2020-12), as the document holds it. */
export type JsonSchema = Record<string, unknown>;

/** The OpenAPI document (the parts this module writes). */
export interface OpenApiDocument {
  openapi: "3.1.1";
  info: { title: string; version: string; description: string };
  jsonSchemaDialect: string;
  tags: { name: string }[];
  paths: Record<string, Record<string, unknown>>;
  components: { schemas: Record<string, JsonSchema>; securitySchemes?: Record<string, unknown> };
}

/** How the document describes the node. */
export interface OpenApiOptions {
  /** Whether the node checks tokens: operations then name `bearerAuth` and the role they need. */
  auth: boolean;
  /** The role a route needs (`null`: none), when `auth`. */
  roleOf?(method: string, pattern: string): string | null;
}

/** The document's `info.version`: the API's version. */
export const API_VERSION = "v1";

const DIALECT = "https://spec.openapis.org/oas/3.1/dialect/base";

/** Builds the document of `routes` (every one must have a spec: a route without one is a bug). */
export function openApiDocument(routes: readonly RouteInfo[], opts: OpenApiOptions): OpenApiDocument {
  const schemas: Record<string, JsonSchema> = {};
  const toSchema = (schema: z.ZodType) => hoisted(schema, schemas);
  const errorRef = toSchema(ErrorBody);
  const paths: Record<string, Record<string, unknown>> = {};
  const tags = new Set<string>();
  for (const route of routes) {
    if (route.spec === undefined) throw new Error(`route ${route.method} ${route.pattern} has no spec`);
    route.spec.tags.forEach((t) => tags.add(t));
    const path = route.pattern.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
    const operation = operationOf(route.pattern, route.spec, toSchema, errorRef);
    if (opts.auth) {
      const role = opts.roleOf?.(route.method, route.pattern) ?? null;
      operation.security = role === null ? [] : [{ bearerAuth: [] }];
      operation["x-required-role"] = role;
    }
    (paths[path] ??= {})[route.method.toLowerCase()] = operation;
  }
  return {
    openapi: "3.1.1",
    info: {
      title: "flowmesh",
      version: API_VERSION,
      description: "The HTTP API of a flowmesh node, generated from the schemas its routes validate with. " +
        "docs/API.md describes every route with examples.",
    },
    jsonSchemaDialect: DIALECT,
    tags: [...tags].map((name) => ({ name })),
    paths,
    components: {
      schemas,
      ...(opts.auth && {
        securitySchemes: {
          bearerAuth: {
            type: "http",
            scheme: "bearer",
            description: "An API token: `Authorization: Bearer <token>`.",
          },
        },
      }),
    },
  };
}

/** One operation: its parameters, body and responses. */
function operationOf(
  pattern: string,
  spec: RouteSpec,
  toSchema: (schema: z.ZodType) => JsonSchema,
  errorRef: JsonSchema,
): Record<string, unknown> {
  const parameters = [
    ...parametersOf("path", spec.params, toSchema, pathNames(pattern)),
    ...parametersOf("query", spec.query, toSchema),
    ...parametersOf("header", spec.headers, toSchema),
  ];
  const responses: Record<string, unknown> = {};
  for (const [status, r] of Object.entries(spec.responses)) {
    const schema = r.schema ? toSchema(r.schema) : Number(status) >= 400 ? errorRef : undefined;
    responses[status] = {
      description: r.description,
      ...(r.headers && {
        headers: Object.fromEntries(
          Object.entries(r.headers).map((
            [name, description],
          ) => [name, { description, schema: { type: "string" } }]),
        ),
      }),
      ...(schema && { content: { [r.contentType ?? "application/json"]: { schema } } }),
    };
  }
  responses.default = {
    description: "An error (see the error codes in docs/API.md).",
    content: { "application/json": { schema: errorRef } },
  };
  return {
    operationId: spec.operationId,
    summary: spec.summary,
    ...(spec.description && { description: spec.description }),
    tags: [...spec.tags],
    ...(parameters.length > 0 && { parameters }),
    ...(spec.body && {
      requestBody: {
        required: spec.bodyRequired ?? true,
        content: { "application/json": { schema: toSchema(spec.body) } },
      },
    }),
    responses,
  };
}

/** The `:name`s of a pattern. */
function pathNames(pattern: string): string[] {
  return [...pattern.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]);
}

/**
 * The parameters of one place from its object schema, one per property (its description lifted to the
 * parameter); a path name the schema lacks is a string.
 */
function parametersOf(
  place: "path" | "query" | "header",
  schema: z.ZodObject | undefined,
  toSchema: (schema: z.ZodType) => JsonSchema,
  names: readonly string[] = [],
): Record<string, unknown>[] {
  const object = schema ? toSchema(schema) : { properties: {} };
  const properties = (object.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((object.required ?? []) as string[]);
  const out: Record<string, unknown>[] = [];
  for (const name of new Set([...names, ...Object.keys(properties)])) {
    const { description, ...rest } = properties[name] ?? { type: "string" };
    out.push({
      name,
      in: place,
      required: place === "path" || required.has(name),
      ...(description !== undefined && { description }),
      schema: rest,
    });
  }
  return out;
}

/**
 * The JSON Schema of `schema` (as a request or response spells it), its named parts moved to `schemas` (the
 * document's components) and referred to there. Two different schemas may not share a name.
 */
function hoisted(schema: z.ZodType, schemas: Record<string, JsonSchema>): JsonSchema {
  const { $schema: _, $defs, ...root } = z.toJSONSchema(schema, {
    io: "input",
    target: "draft-2020-12",
    unrepresentable: "any",
  }) as JsonSchema;
  for (const [name, def] of Object.entries(($defs ?? {}) as Record<string, JsonSchema>)) {
    const moved = rewriteRefs(def) as JsonSchema;
    const had = schemas[name];
    if (had !== undefined && JSON.stringify(had) !== JSON.stringify(moved)) {
      throw new Error(`two different schemas are named ${name}`);
    }
    schemas[name] = moved;
  }
  return rewriteRefs(root) as JsonSchema;
}

/** `#/$defs/X` references made `#/components/schemas/X`. */
function rewriteRefs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(rewriteRefs);
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    out[key] = key === "$ref" && typeof v === "string" && v.startsWith("#/$defs/")
      ? `#/components/schemas/${v.slice("#/$defs/".length)}`
      : rewriteRefs(v);
  }
  return out;
}
