/**
 * Request bodies, bounded: over the limit is 413, malformed JSON is 400.
 *
 * @module
 */
import { ApiError } from "./errors.ts";

/** The largest body the API reads: 1 MiB. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** Reads a body as text, refusing more than `limit` bytes without buffering them. */
export async function readBody(req: Request, limit = MAX_BODY_BYTES): Promise<string> {
  const declared = Number(req.headers.get("content-length") ?? "NaN");
  if (Number.isFinite(declared) && declared > limit) {
    throw new ApiError(413, "body_too_large", `the body is ${declared} bytes; the limit is ${limit}`);
  }
  if (!req.body) return "";
  if (Number.isFinite(declared)) {
    // A declared length (within the limit) bounds what HTTP/1.1 framing delivers: read it whole.
    if (declared === 0) return "";
    return decodeUtf8(new Uint8Array(await req.arrayBuffer()));
  }
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw new ApiError(413, "body_too_large", `the body exceeds ${limit} bytes`);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.byteLength;
  }
  return decodeUtf8(bytes);
}

const UTF8 = new TextDecoder("utf-8", { fatal: true });

function decodeUtf8(bytes: Uint8Array): string {
  try {
    return UTF8.decode(bytes);
  } catch {
    throw new ApiError(400, "malformed_body", "the body is not valid UTF-8");
  }
}

/** Parses a JSON body already read; an empty one gives `fallback` (or 400 when none is allowed). */
export function parseJson(text: string, fallback?: unknown): unknown {
  if (text.trim() === "") {
    if (fallback !== undefined) return fallback;
    throw new ApiError(400, "malformed_json", "a JSON body is required", [{
      path: "$",
      message: "empty body",
    }]);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ApiError(400, "malformed_json", `the body is not valid JSON: ${(err as Error).message}`, [
      { path: "$", message: (err as Error).message },
    ]);
  }
}

/** Reads a JSON body; an empty body gives `fallback` (or 400 when none is allowed). */
export async function readJson(req: Request, fallback?: unknown): Promise<unknown> {
  return parseJson(await readBody(req), fallback);
}
