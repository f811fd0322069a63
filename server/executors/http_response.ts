/**
 * What the `http` node does with a response: reads its body within a bound, and turns a successful one
 * into the node's record `{status, headers, body}`.
 *
 * @example
 * ```ts
 * import { readBounded, responseRecord } from "./http_response.ts";
 *
 * const response = Response.json({ ok: true });
 * const text = new TextDecoder().decode(await readBounded(response.body, 1024));
 * const record = responseRecord("GET", response, text) as { status: number; body: { ok: boolean } };
 * if (record.status !== 200 || record.body.ok !== true) throw new Error(JSON.stringify(record));
 * ```
 *
 * @module
 */
import { type Json, NodeError } from "./executor.ts";

/** The largest response body the http node reads: 16 MiB. */
export const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

/** How much of a failed response's body is read for the error message. */
export const ERROR_SNIPPET_BYTES = 4096;

/**
 * Reads a response body of at most `max` bytes. With `truncate`, a longer body is
 * cut at `max` (and the rest cancelled) instead of failing.
 *
 * @throws {NodeError} `http_response_too_large` (not retryable) past the bound.
 * @example
 * ```ts
 * import { readBounded } from "./http_response.ts";
 * const cut = await readBounded(new Blob(["abcdef"]).stream(), 3, true);
 * if (new TextDecoder().decode(cut) !== "abc") throw new Error("cut at the bound");
 * ```
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

/**
 * Whether an HTTP status is worth another attempt: 408, 429 and 5xx.
 *
 * @example
 * ```ts
 * import { retryableStatus } from "./http_response.ts";
 * if (!retryableStatus(503) || retryableStatus(404)) throw new Error("408, 429, 5xx");
 * ```
 */
export function retryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

function isJsonType(contentType: string | null): boolean {
  if (!contentType) return false;
  const mime = contentType.split(";")[0].trim().toLowerCase();
  return mime === "application/json" || mime.endsWith("+json");
}

/**
 * The record of a successful response: `{status, headers, body}`, header names lower-case (repeated ones
 * joined by `, `), the body parsed when the response says JSON and parses, else the text; null for HEAD.
 *
 * @example
 * ```ts
 * import { responseRecord } from "./http_response.ts";
 * const record = responseRecord("HEAD", new Response(null, { status: 204 }), "") as { body: unknown };
 * if (record.body !== null) throw new Error("no body for HEAD");
 * ```
 */
export function responseRecord(method: string, response: Response, text: string): Json {
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
