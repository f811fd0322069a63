/**
 * The `http` node's executor: one templated call per attempt, or one per input record (`perRecord`) with at
 * most `concurrency` under way, through `services.fetch` (the egress-checked fetch, `egress_fetch.ts`).
 * Templates are filled by `http_template.ts`; responses are read by `http_response.ts`.
 *
 * @example
 * ```ts
 * import { http } from "./http_node.ts";
 * import type { NodeContext } from "./executor.ts";
 *
 * // A stand-in fetch that answers the URL it was called with (the real one is egress-checked).
 * const fetchEcho = ((url: URL) => Promise.resolve(Response.json({ url: String(url) }))) as typeof fetch;
 * const records = [{ id: "a/1" }, { id: "b" }];
 * const ctx = {
 *   executionId: "e1", workflowId: "w", nodeId: "call", attempt: 1, idempotencyKey: "e1:call",
 *   config: { method: "GET", url: "https://api.example.com/items/{{record.id}}", perRecord: true },
 *   inputs: { records, byParent: {}, byHandle: {} }, executionInput: null,
 *   limits: { maxRecords: 100, maxBytes: 1 << 20 }, signal: new AbortController().signal,
 *   services: { fetch: fetchEcho, timeout: (ms: number) => AbortSignal.timeout(ms) },
 * } as unknown as NodeContext;
 * const out = await http(ctx);
 * const urls = out.records.map((r) => (r as { body: { url: string } }).body.url);
 * if (urls.join(" ") !== "https://api.example.com/items/a%2F1 https://api.example.com/items/b") {
 *   throw new Error(urls.join(" "));
 * }
 * ```
 *
 * @module
 */
import { placeholders } from "../../core/http_placeholders.ts";
import { type Executor, type Json, type NodeContext, NodeError } from "./executor.ts";
import {
  ERROR_SNIPPET_BYTES,
  MAX_RESPONSE_BYTES,
  readBounded,
  responseRecord,
  retryableStatus,
} from "./http_response.ts";
import { checkScope, fillHeader, fillTemplate, fillUrl, type TemplateScope } from "./http_template.ts";
import { outputTooLarge } from "./limits.ts";
import { shownUrl } from "./shown_url.ts";

/** The http node's config, with the defaults of the catalog where a config leaves a key out. */
export interface HttpConfig {
  method: string;
  url: string;
  headers: Record<string, unknown>;
  body: Json | undefined;
  timeoutMs: number;
  /** One call per input record. */
  perRecord: boolean;
  /** With `perRecord`: the most calls under way at once, 1 to 32. */
  concurrency: number;
  /** With `perRecord`: the most records (so calls) accepted, 1 to 10,000. */
  maxCalls: number;
  /** The target honours `Idempotency-Key`: a POST or PATCH that may have reached it may be retried. */
  idempotent: boolean;
}

/** Methods whose repeat may do the work twice unless the target honours `Idempotency-Key`. */
const UNSAFE_METHODS = new Set(["POST", "PATCH"]);

function intIn(value: unknown, min: number, max: number, fallback: number): number {
  return typeof value === "number" && Number.isInteger(value)
    ? Math.min(max, Math.max(min, value))
    : fallback;
}

/**
 * The http config of a node's (normalised) config.
 *
 * @example
 * ```ts
 * import { httpConfig } from "./http_node.ts";
 * const c = httpConfig({ url: "https://example.com/", perRecord: true });
 * if (c.method !== "GET" || c.concurrency !== 4 || c.maxCalls !== 1000 || c.idempotent) throw new Error();
 * ```
 */
export function httpConfig(config: Record<string, unknown>): HttpConfig {
  return {
    method: typeof config.method === "string" ? config.method : "GET",
    url: String(config.url),
    headers: (config.headers ?? {}) as Record<string, unknown>,
    body: config.body as Json | undefined,
    timeoutMs: intIn(config.timeoutMs, 1, 600_000, 10_000),
    perRecord: config.perRecord === true,
    concurrency: intIn(config.concurrency, 1, 32, 4),
    maxCalls: intIn(config.maxCalls, 1, 10_000, 1_000),
    idempotent: config.idempotent === true,
  };
}

/**
 * http: calls `url` with `method`, `headers` and a body, and emits `{status, headers, body}` per call (header
 * names lower-case; body parsed as JSON when the response says JSON and parses, else text; null for HEAD).
 *
 * - Templates: the URL, header values and body hold placeholders over the records, the execution's input
 *   and the current `record` (`http_template.ts`).
 * - `perRecord`: one call per input record, at most `concurrency` at once, the records in input order; more
 *   than `maxCalls` records fail with `http_too_many_calls` before any call; every URL and header placeholder
 *   is checked for every record before the first call; the first failed call aborts the others and fails
 *   the attempt. Without it: one call, where `record` is the first record.
 * - Body: `body` filled by {@link fillTemplate}; without `body`, POST, PUT and PATCH send the input records
 *   as a JSON array (per record: the record). A JSON body gets `content-type: application/json` unless a
 *   content-type header is given.
 * - `Idempotency-Key: ctx.idempotencyKey` (`<executionId>:<nodeId>`, per record `:<index>` added) is sent on
 *   every attempt, the same across retries, unless `headers` names its own.
 * - `traceparent: ctx.traceparent` is sent when the attempt is traced (unless `headers` names its own).
 * - Each call is aborted after `timeoutMs` or when the attempt is aborted.
 *
 * Fails with `http_status` for a non-2xx status (retryable for 408, 429, 5xx), `http_timeout` (retryable),
 * `http_error` for network errors (retryable), except that a POST or PATCH whose request may have reached
 * the target (a status, a timeout, a network error after connecting) is not retryable unless `idempotent`;
 * `egress_denied`, `http_too_many_redirects`, `http_url_invalid`, `http_body_not_allowed`, `config_type`,
 * `http_response_too_large`, `http_template_missing`, `http_header_invalid`, `http_too_many_calls` and
 * `output_too_large` (the responses' bodies together over the output bound) are not retryable.
 */
export const http: Executor = async (ctx) => {
  const config = httpConfig(ctx.config);
  const records = ctx.inputs.records;
  if (!config.perRecord) {
    const one: OneCall = { scope: scopeOf(ctx, records[0]), index: undefined, signal: ctx.signal };
    return { records: [await callOnce(ctx, config, one)] };
  }
  if (records.length > config.maxCalls) {
    throw new NodeError(
      "http_too_many_calls",
      `${records.length} input records: more than maxCalls (${config.maxCalls}) calls`,
      false,
    );
  }
  const templates = [
    { where: "url", placeholders: placeholders(config.url), header: false },
    ...Object.entries(config.headers).flatMap(([name, value]) =>
      typeof value === "string"
        ? [{ where: `header ${name}`, placeholders: placeholders(value), header: true }]
        : []
    ),
  ];
  for (const record of records) checkScope(templates, scopeOf(ctx, record));
  return { records: await callEach(ctx, config, records) };
};

/** The values of one call's placeholders; `record` is absent when there is none. */
function scopeOf(ctx: NodeContext, record: Json | undefined): TemplateScope {
  const scope: Record<string, Json | undefined> = {
    records: ctx.inputs.records,
    input: ctx.executionInput,
    executionId: ctx.executionId,
    nodeId: ctx.nodeId,
  };
  if (record !== undefined) scope.record = record;
  return scope;
}

/**
 * Makes one call per record, at most `concurrency` at once, and answers their records in input order. The
 * first failure aborts the calls under way, starts no more, and is thrown. The responses' bodies together
 * are bounded by the output bound (`output_too_large`).
 */
async function callEach(ctx: NodeContext, config: HttpConfig, records: readonly Json[]): Promise<Json[]> {
  const out: Json[] = new Array(records.length);
  const group = new AbortController();
  const signal = AbortSignal.any([ctx.signal, group.signal]);
  let next = 0;
  let bytes = 0;
  let failed: { error: unknown } | undefined;
  const charge = (n: number) => {
    bytes += n;
    if (bytes > ctx.limits.maxBytes) {
      throw outputTooLarge(ctx.nodeId, `the responses' bodies hold more than ${ctx.limits.maxBytes} bytes`);
    }
  };
  const worker = async () => {
    while (failed === undefined && next < records.length) {
      const index = next++;
      try {
        out[index] = await callOnce(ctx, config, {
          scope: scopeOf(ctx, records[index]),
          index,
          signal,
          charge,
        });
      } catch (error) {
        if (failed === undefined) {
          failed = { error };
          group.abort(error);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(config.concurrency, records.length) }, worker));
  if (failed !== undefined) throw failed.error;
  return out;
}

/** One call of the node: its placeholders' values, its record's index (per record), what aborts it. */
interface OneCall {
  scope: TemplateScope;
  index: number | undefined;
  signal: AbortSignal;
  /** Counts the bytes of a response body against a bound shared by the calls (per record). */
  charge?: (bytes: number) => void;
}

/** Makes one call and answers its record. */
async function callOnce(ctx: NodeContext, config: HttpConfig, one: OneCall): Promise<Json> {
  const { method, timeoutMs } = config;
  const target = parseTarget(fillUrl(config.url, one.scope));
  const headers = requestHeaders(ctx, config, one);
  const body = requestBody(config, one, headers);
  const timeout = ctx.services.timeout(timeoutMs);
  const call: Call = {
    method,
    target,
    timeoutMs,
    timeout,
    signal: AbortSignal.any([one.signal, timeout]),
    unsafe: UNSAFE_METHODS.has(method.toUpperCase()) && !config.idempotent && ctx.retryDeclared !== true,
  };
  const response = await send(ctx, call, headers, body);
  const bytes = await readResponse(ctx, call, response);
  one.charge?.(bytes.length);
  const text = new TextDecoder().decode(bytes);
  if (response.status < 200 || response.status > 299) throw statusError(call, response.status, text);
  return responseRecord(method, response, text);
}

/** One http call under way: what the errors name, and the signals that abort it. */
interface Call {
  method: string;
  target: URL;
  timeoutMs: number;
  /** Aborts after `timeoutMs`. */
  timeout: AbortSignal;
  /** Aborts on the timeout or when the attempt (or, per record, a sibling's failure) aborts. */
  signal: AbortSignal;
  /** A POST or PATCH not declared `idempotent`: a failure once the request may have gone out is final. */
  unsafe: boolean;
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

/** The request headers: the idempotency key and traceparent, then the configured headers (filled) over them. */
function requestHeaders(ctx: NodeContext, config: HttpConfig, one: OneCall): Headers {
  const key = one.index === undefined ? ctx.idempotencyKey : `${ctx.idempotencyKey}:${one.index}`;
  const headers = new Headers({ "idempotency-key": key });
  if (ctx.traceparent !== undefined) headers.set("traceparent", ctx.traceparent);
  for (const [name, value] of Object.entries(config.headers)) {
    if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") {
      throw new NodeError("config_type", `header ${name} must be a string`, false);
    }
    const text = typeof value === "string" ? fillHeader(name, value, one.scope) : String(value);
    try {
      headers.set(name, text);
    } catch {
      throw text === String(value)
        ? new NodeError("config_type", `invalid header ${name}`, false)
        : new NodeError(
          "http_header_invalid",
          `header ${name}: the filled value is no valid header value`,
          false,
        );
    }
  }
  return headers;
}

/**
 * The request body: the filled `body` template, or the input records (per record: the record) for POST,
 * PUT and PATCH without one. Sets the content-type header for it unless one is given.
 */
function requestBody(config: HttpConfig, one: OneCall, headers: Headers): string | undefined {
  const { method } = config;
  let body: string | undefined;
  let json = false;
  if (config.body !== undefined) {
    if (method === "GET" || method === "HEAD") {
      throw new NodeError("http_body_not_allowed", `a ${method} request cannot have a body`, false);
    }
    const filled = fillTemplate(config.body, one.scope);
    if (typeof filled === "string") {
      body = filled;
      json = isJsonText(filled);
    } else {
      body = JSON.stringify(filled);
      json = true;
    }
  } else if (method === "POST" || method === "PUT" || method === "PATCH") {
    body = JSON.stringify(one.index === undefined ? one.scope.records : one.scope.record);
    json = true;
  }
  if (body !== undefined && !headers.has("content-type")) {
    headers.set("content-type", json ? "application/json" : "text/plain; charset=utf-8");
  }
  return body;
}

function isJsonText(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** The note of a failure a POST or PATCH does not retry. */
function notRetried(call: Call): string {
  return `; not retried: the ${call.method} may have reached the target (set idempotent: true if it ` +
    `honours Idempotency-Key, or give the node a retry policy)`;
}

/**
 * What an aborted call throws: the attempt's abort reason when the attempt was aborted, `http_timeout` when
 * the call timed out, else `e` itself (per record: the failure that aborted the siblings).
 */
function abortedError(ctx: NodeContext, call: Call, e: unknown): never {
  if (ctx.signal.aborted) throw ctx.signal.reason ?? e;
  if (call.timeout.aborted) {
    const what = `${call.method} ${shownUrl(call.target)}: no answer within ${call.timeoutMs} ms`;
    throw new NodeError("http_timeout", call.unsafe ? what + notRetried(call) : what, !call.unsafe);
  }
  throw e;
}

/** Error codes of a connection never made, so of a request never sent. */
const NOT_CONNECTED = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EAI_FAIL",
  "EAI_NONAME",
  "EAI_NODATA",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EHOSTDOWN",
  "ENETDOWN",
  "EADDRNOTAVAIL",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "CERT_HAS_EXPIRED",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
]);

/**
 * Whether a network error says the connection was never made (refused, DNS, unreachable, TLS refused): by
 * its code (node:http's errors, as the egress fetch throws them) or, for Deno's fetch, its "client error
 * (Connect)" cause.
 */
function beforeConnection(e: unknown): boolean {
  let at: unknown = e;
  for (let depth = 0; depth < 4 && typeof at === "object" && at !== null; depth++) {
    const { code, message, cause } = at as { code?: unknown; message?: unknown; cause?: unknown };
    if (typeof code === "string" && NOT_CONNECTED.has(code)) return true;
    if (typeof message === "string" && message.includes("client error (Connect)")) return true;
    at = cause;
  }
  return false;
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
    const what = `${method} ${shownUrl(target)}: ${e instanceof Error ? e.message : String(e)}`;
    const final = call.unsafe && !beforeConnection(e);
    throw new NodeError("http_error", final ? what + notRetried(call) : what, !final);
  }
}

/**
 * The response body: nothing for HEAD, a snippet of a failed response's body, at most
 * {@link MAX_RESPONSE_BYTES} of a successful one.
 */
async function readResponse(ctx: NodeContext, call: Call, response: Response): Promise<Uint8Array> {
  const { method, signal } = call;
  const failed = response.status < 200 || response.status > 299;
  try {
    return method === "HEAD"
      ? new Uint8Array()
      : failed
      ? await readBounded(response.body, ERROR_SNIPPET_BYTES, true).catch(() => new Uint8Array())
      : await readBounded(response.body, MAX_RESPONSE_BYTES);
  } catch (e) {
    if (e instanceof NodeError) throw e;
    if (signal.aborted) abortedError(ctx, call, e);
    const what = `reading the response: ${e instanceof Error ? e.message : String(e)}`;
    throw new NodeError("http_error", call.unsafe ? what + notRetried(call) : what, !call.unsafe);
  } finally {
    if (method === "HEAD") await response.body?.cancel().catch(() => {});
  }
}

/** The `http_status` error of a non-2xx response, with the start of its body. */
function statusError(call: Call, status: number, text: string): NodeError {
  const snippet = text.length > 500 ? `${text.slice(0, 500)}…` : text;
  const what = `${call.method} ${shownUrl(call.target)} answered ${status}${snippet ? `: ${snippet}` : ""}`;
  const retryable = retryableStatus(status);
  if (retryable && call.unsafe) return new NodeError("http_status", what + notRetried(call), false);
  return new NodeError("http_status", what, retryable);
}
