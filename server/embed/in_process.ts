/**
 * Calls a node's HTTP API in process: a `Request` handed to the node's handler with no socket in between,
 * so an embedded engine has exactly the API's behaviour (validation, idempotency, routing to the shard's
 * owner, errors). A refusal becomes a thrown {@link FlowmeshError} with the API's code and details.
 *
 * @module
 */

/** A detail of a refusal: where the fault is, and what it is. */
export interface ErrorDetail {
  /** A JSON path into the request (`$.nodes[1].config.factor`), or `?name` for a query parameter. */
  path?: string;
  /** A problem code (a workflow definition's problems carry one). */
  code?: string;
  /** What is wrong. */
  message: string;
}

/**
 * What the engine refused, with the API's stable code (`validation_failed`, `workflow_not_found`…; see
 * docs/API.md) and the path of each fault in `details`.
 *
 * @example
 * ```ts
 * import { FlowmeshError } from "./in_process.ts";
 * const err = new FlowmeshError(404, "workflow_not_found", "no workflow x", []);
 * if (!(err instanceof Error) || err.code !== "workflow_not_found") throw new Error("an Error with a code");
 * ```
 */
export class FlowmeshError extends Error {
  /**
   * An error the API answered.
   *
   * @param status the HTTP status the API answers with
   * @param code the API's stable error code
   * @param message what went wrong, for people
   * @param details each fault, with its path
   */
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: readonly ErrorDetail[],
  ) {
    super(details.length > 0 ? `${message}: ${details.map(describe).join("; ")}` : message);
    this.name = "FlowmeshError";
  }
}

function describe(d: ErrorDetail): string {
  return d.path ? `${d.path} ${d.message}` : d.message;
}

/** One API call: method, path (with query), optional JSON body and headers. */
export interface ApiCall {
  /** The HTTP method. */
  method: "GET" | "POST" | "PUT" | "DELETE";
  /** The path and query, e.g. `/api/v1/executions?status=failed`. */
  path: string;
  /** The JSON body (none: no body). */
  body?: unknown;
  /** More headers (`idempotency-key`…). */
  headers?: Record<string, string>;
}

/** A request handler (a node's API). */
export type Handler = (req: Request) => Promise<Response>;

/**
 * Runs `call` through `handler` and returns its JSON (a text answer, such as `/metrics`, as its text); throws a
 * {@link FlowmeshError} for an error answer.
 *
 * @example
 * ```ts
 * import { callApi } from "./in_process.ts";
 * const handler = (req: Request) => Promise.resolve(Response.json({ path: new URL(req.url).pathname }));
 * const got = await callApi<{ path: string }>(handler, { method: "GET", path: "/api/v1/x" });
 * if (got.path !== "/api/v1/x") throw new Error(got.path);
 * ```
 */
export async function callApi<T>(handler: Handler, call: ApiCall, token?: string): Promise<T> {
  const headers: Record<string, string> = { ...call.headers };
  if (call.body !== undefined) headers["content-type"] = "application/json";
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await handler(
    new Request(`http://in-process${call.path}`, {
      method: call.method,
      headers,
      body: call.body === undefined ? undefined : JSON.stringify(call.body),
    }),
  );
  const text = await res.text();
  const isJson = (res.headers.get("content-type") ?? "").includes("json");
  let json: unknown = text === "" ? null : text;
  if (isJson && text !== "") {
    try {
      json = JSON.parse(text);
    } catch { /* answered as text */ }
  }
  if (res.status >= 400) {
    const error = (json as { error?: Record<string, unknown> } | null)?.error ?? {};
    throw new FlowmeshError(
      res.status,
      String(error.code ?? `http_${res.status}`),
      String(error.message ?? res.statusText),
      Array.isArray(error.details) ? error.details as ErrorDetail[] : [],
    );
  }
  return json as T;
}
