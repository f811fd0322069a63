/**
 * Executors of the control nodes that run effects: http and condition. (delay and
 * signal.wait live in the core.)
 *
 * @module
 */
import { type Executor, type Json, type NodeContext, NodeError } from "./executor.ts";
import { compileExpression, evaluateInput, isTruthy } from "./expression.ts";
import { shownUrl } from "./shown_url.ts";

/** The largest response body the http node reads: 16 MiB. */
export const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

const PLACEHOLDER = /\{\{(records|input|executionId|nodeId)\}\}/g;

function placeholderValues(ctx: NodeContext): Record<string, Json> {
  return {
    records: ctx.inputs.records,
    input: ctx.executionInput,
    executionId: ctx.executionId,
    nodeId: ctx.nodeId,
  };
}

/**
 * Fills a body template. In a string, each `{{records}}`, `{{input}}`,
 * `{{executionId}}` or `{{nodeId}}` is replaced by the JSON text of its value (so
 * `{{executionId}}` becomes a quoted string). In an object or array, a string
 * member that is exactly one placeholder is replaced by the value itself,
 * recursively; other members are kept.
 */
export function fillTemplate(template: Json, values: Record<string, Json>): Json {
  if (typeof template === "string") {
    return template.replace(PLACEHOLDER, (_, name: string) => JSON.stringify(values[name] ?? null));
  }
  return fillStructure(template, values);
}

function fillStructure(template: Json, values: Record<string, Json>): Json {
  if (typeof template === "string") {
    const m = /^\{\{(records|input|executionId|nodeId)\}\}$/.exec(template);
    return m ? values[m[1]] ?? null : template;
  }
  if (Array.isArray(template)) return template.map((t) => fillStructure(t, values));
  if (template !== null && typeof template === "object") {
    const out: { [key: string]: Json } = {};
    for (const [k, v] of Object.entries(template)) out[k] = fillStructure(v, values);
    return out;
  }
  return template;
}

function isJsonText(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** How much of a failed response's body is read for the error message. */
const ERROR_SNIPPET_BYTES = 4096;

/**
 * Reads a response body of at most `max` bytes. With `truncate`, a longer body is
 * cut at `max` (and the rest cancelled) instead of failing.
 *
 * @throws {NodeError} `http_response_too_large` (not retryable) past the bound.
 */
export async function readBounded(
  body: ReadableStream<Uint8Array> | null,
  max: number,
  truncate = false,
): Promise<Uint8Array> {
  if (!body) return new Uint8Array();
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (total + value.length > max) {
        await reader.cancel().catch(() => {});
        if (!truncate) {
          throw new NodeError("http_response_too_large", `response body larger than ${max} bytes`, false);
        }
        chunks.push(value.subarray(0, max - total));
        total = max;
        break;
      }
      total += value.length;
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function isJsonType(contentType: string | null): boolean {
  if (!contentType) return false;
  const mime = contentType.split(";")[0].trim().toLowerCase();
  return mime === "application/json" || mime.endsWith("+json");
}

/** Whether an HTTP status is worth another attempt: 408, 429 and 5xx. */
export function retryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/**
 * http: calls `url` with `method`, `headers` and a body, and emits one record
 * `{status, headers, body}` (header names lower-case; body parsed as JSON when the
 * response says JSON and parses, else text; null for HEAD).
 *
 * - Body: `body` filled by {@link fillTemplate}; without `body`, POST, PUT and
 *   PATCH send the input records as a JSON array. A JSON body gets
 *   `content-type: application/json` unless a content-type header is given.
 * - `Idempotency-Key: ctx.idempotencyKey` is sent on every attempt (the same across
 *   retries) unless `headers` names its own Idempotency-Key.
 * - `traceparent: ctx.traceparent` is sent when the attempt is traced (unless `headers` names its own), so
 *   the called service joins the execution's trace.
 * - The call is aborted after `timeoutMs` or when the attempt is aborted.
 *
 * Fails with `http_status` for a non-2xx status (retryable for 408, 429, 5xx),
 * `http_timeout` (retryable), `http_error` for network errors (retryable),
 * `egress_denied` for an address the egress rules refuse (`egress_rules.ts`; `services.fetch` checks every
 * connection, redirects included), `http_too_many_redirects`, `http_url_invalid`, `http_body_not_allowed`,
 * `config_type`, `http_response_too_large` (not retryable).
 */
export const http: Executor = async (ctx) => {
  const { method, url, timeoutMs } = ctx.config as { method: string; url: string; timeoutMs: number };
  const target = parseTarget(url);
  const headers = requestHeaders(ctx);
  const body = requestBody(ctx, method, headers);
  const timeout = ctx.services.timeout(timeoutMs);
  const call: Call = { method, target, timeoutMs, timeout, signal: AbortSignal.any([ctx.signal, timeout]) };
  const response = await send(ctx, call, headers, body);
  const text = await readResponse(ctx, call, response);
  if (response.status < 200 || response.status > 299) throw statusError(call, response.status, text);
  return { records: [responseRecord(method, response, text)] };
};

/** One http call under way: what the errors name, and the signals that abort it. */
interface Call {
  method: string;
  target: URL;
  timeoutMs: number;
  /** Aborts after `timeoutMs`. */
  timeout: AbortSignal;
  /** Aborts on the timeout or when the attempt is aborted. */
  signal: AbortSignal;
}

/** The URL to call: an http or https URL. */
function parseTarget(url: string): URL {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw new NodeError("http_url_invalid", `not a URL: ${url}`, false);
  }
  if (target.protocol !== "http:" && target.protocol !== "https:") {
    throw new NodeError(
      "http_url_invalid",
      `only http and https URLs are supported, got ${target.protocol}`,
      false,
    );
  }
  return target;
}

/** The request headers: the idempotency key and traceparent, then the configured headers over them. */
function requestHeaders(ctx: NodeContext): Headers {
  const headerConfig = (ctx.config.headers ?? {}) as Record<string, unknown>;
  const headers = new Headers({ "idempotency-key": ctx.idempotencyKey });
  if (ctx.traceparent !== undefined) headers.set("traceparent", ctx.traceparent);
  for (const [name, value] of Object.entries(headerConfig)) {
    if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") {
      throw new NodeError("config_type", `header ${name} must be a string`, false);
    }
    try {
      headers.set(name, String(value));
    } catch {
      throw new NodeError("config_type", `invalid header ${name}`, false);
    }
  }
  return headers;
}

/**
 * The request body: the filled `body` template, or the input records for POST, PUT
 * and PATCH without one. Sets the content-type header for it unless one is given.
 */
function requestBody(ctx: NodeContext, method: string, headers: Headers): string | undefined {
  let body: string | undefined;
  let json = false;
  const template = ctx.config.body as Json | undefined;
  if (template !== undefined) {
    if (method === "GET" || method === "HEAD") {
      throw new NodeError("http_body_not_allowed", `a ${method} request cannot have a body`, false);
    }
    const filled = fillTemplate(template, placeholderValues(ctx));
    if (typeof filled === "string") {
      body = filled;
      json = isJsonText(filled);
    } else {
      body = JSON.stringify(filled);
      json = true;
    }
  } else if (method === "POST" || method === "PUT" || method === "PATCH") {
    body = JSON.stringify(ctx.inputs.records);
    json = true;
  }
  if (body !== undefined && !headers.has("content-type")) {
    headers.set("content-type", json ? "application/json" : "text/plain; charset=utf-8");
  }
  return body;
}

/**
 * What an aborted call throws: the attempt's abort reason when the attempt was
 * aborted, `http_timeout` when the call timed out, else `e` itself.
 */
function abortedError(ctx: NodeContext, call: Call, e: unknown): never {
  if (ctx.signal.aborted) throw ctx.signal.reason ?? e;
  if (call.timeout.aborted) {
    throw new NodeError(
      "http_timeout",
      `${call.method} ${shownUrl(call.target)}: no answer within ${call.timeoutMs} ms`,
    );
  }
  throw e;
}

/** Sends the request, following redirects; a network error is `http_error`. */
async function send(
  ctx: NodeContext,
  call: Call,
  headers: Headers,
  body: string | undefined,
): Promise<Response> {
  const { method, target, signal } = call;
  try {
    return await ctx.services.fetch(target, { method, headers, body, signal, redirect: "follow" });
  } catch (e) {
    if (e instanceof NodeError) throw e; // egress_denied, a redirect it cannot follow
    if (signal.aborted) abortedError(ctx, call, e);
    throw new NodeError(
      "http_error",
      `${method} ${shownUrl(target)}: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}

/**
 * The response body as text: nothing for HEAD, a snippet of a failed response's
 * body, at most {@link MAX_RESPONSE_BYTES} of a successful one.
 */
async function readResponse(ctx: NodeContext, call: Call, response: Response): Promise<string> {
  const { method, signal } = call;
  const failed = response.status < 200 || response.status > 299;
  let bytes: Uint8Array;
  try {
    bytes = method === "HEAD"
      ? new Uint8Array()
      : failed
      ? await readBounded(response.body, ERROR_SNIPPET_BYTES, true).catch(() => new Uint8Array())
      : await readBounded(response.body, MAX_RESPONSE_BYTES);
  } catch (e) {
    if (e instanceof NodeError) throw e;
    if (signal.aborted) abortedError(ctx, call, e);
    throw new NodeError("http_error", `reading the response: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    if (method === "HEAD") await response.body?.cancel().catch(() => {});
  }
  return new TextDecoder().decode(bytes);
}

/** The `http_status` error of a non-2xx response, with the start of its body. */
function statusError(call: Call, status: number, text: string): NodeError {
  const snippet = text.length > 500 ? `${text.slice(0, 500)}…` : text;
  return new NodeError(
    "http_status",
    `${call.method} ${shownUrl(call.target)} answered ${status}${snippet ? `: ${snippet}` : ""}`,
    retryableStatus(status),
  );
}

/** The record of a successful response: `{status, headers, body}`. */
function responseRecord(method: string, response: Response, text: string): Json {
  const responseHeaders: { [key: string]: Json } = {};
  response.headers.forEach((value, name) => {
    const prior = responseHeaders[name];
    responseHeaders[name] = prior === undefined ? value : `${prior}, ${value}`;
  });
  let out: Json = text;
  if (method === "HEAD") out = null;
  else if (isJsonType(response.headers.get("content-type"))) {
    try {
      out = text === "" ? null : JSON.parse(text);
    } catch {
      out = text;
    }
  }
  return { status: response.status, headers: responseHeaders, body: out };
}

/**
 * condition: evaluates `condition` once over the whole input, with the JSONata
 * input `{records, count, value}` (`value` is the first record, absent when there
 * are none) and `$input` (the execution's input), `$records` bound. So `count > 5`,
 * `value > 10` and `$sum(records) > 100` work. Truthy (JSONata's boolean cast; no
 * match is false) takes the handle `true`, else `false`. The records pass through.
 */
export const condition: Executor = async (ctx) => {
  const expr = compileExpression(ctx.config.condition as string);
  const records = ctx.inputs.records;
  const input: { [key: string]: Json } = { records, count: records.length };
  if (records.length > 0) input.value = records[0];
  const result = await evaluateInput(expr, input, { input: ctx.executionInput, records }, "the input");
  return { records, handle: isTruthy(result) ? "true" : "false" };
};
